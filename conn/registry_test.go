package conn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// getCounter counts the GETs a client sends, to see config reads.
type getCounter struct{ n atomic.Int64 }

func (g *getCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *getCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" {
			g.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (g *getCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

type fixture struct {
	cfgServer *miniredis.Miniredis
	cfgClient *redis.Client
	gets      *getCounter
	clock     *fakeClock
	reg       *Registry
	made      atomic.Int64

	mu      sync.Mutex
	clients []redis.UniversalClient // every client the registry made, in order
}

// allClients returns a copy of every client made so far.
func (f *fixture) allClients() []redis.UniversalClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]redis.UniversalClient(nil), f.clients...)
}

func newFixture(t *testing.T, opt *Options) *fixture {
	t.Helper()
	f := &fixture{cfgServer: miniredis.RunT(t), gets: &getCounter{}, clock: &fakeClock{now: time.Unix(1700000000, 0)}}
	f.cfgClient = redis.NewClient(&redis.Options{Addr: f.cfgServer.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	f.cfgClient.AddHook(f.gets)
	t.Cleanup(func() { f.cfgClient.Close() })
	var o Options
	if opt != nil {
		o = *opt
	}
	if o.Now == nil {
		o.Now = f.clock.Now
	}
	o.NewClient = func(_ string, c *Config) (redis.UniversalClient, error) {
		newClient := c.NewClient
		if o.AllowInsecureTLS {
			newClient = c.NewClientAllowInsecure
		}
		client, err := newClient()
		if err == nil {
			f.made.Add(1)
			f.mu.Lock()
			f.clients = append(f.clients, client)
			f.mu.Unlock()
		}
		return client, err
	}
	var err error
	if f.reg, err = New(f.cfgClient, &o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.reg.Close() })
	return f
}

// setRaw writes a config directly, as another process (or the book's Python code) would.
func (f *fixture) setRaw(t *testing.T, component, json string) {
	t.Helper()
	if err := f.cfgServer.Set(DefaultPrefix+component, json); err != nil {
		t.Fatal(err)
	}
}

func serverConfig(m *miniredis.Miniredis) string {
	host, port, _ := net.SplitHostPort(m.Addr())
	return fmt.Sprintf(`{"host": %q, "port": %s}`, host, port)
}

func TestClientServesComponent(t *testing.T) {
	f := newFixture(t, nil)
	data := miniredis.RunT(t)
	data.Set("greeting", "hello")
	f.setRaw(t, "app", serverConfig(data))
	c, err := f.reg.Client(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(context.Background(), "greeting").Result(); err != nil || got != "hello" {
		t.Fatalf("GET greeting = %q, %v; want hello", got, err)
	}
}

func TestMissingConfigIsTypedError(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.reg.Client(context.Background(), "nothing")
	if !errors.Is(err, ErrNoConfig) {
		t.Fatalf("err = %v; want ErrNoConfig", err)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "config:redis:nothing" {
		t.Fatalf("err = %v; want a *ConfigError naming config:redis:nothing", err)
	}
	if !strings.Contains(err.Error(), "config:redis:nothing") {
		t.Fatalf("error %q does not name the key", err)
	}
	// Remembered for Wait: a hot loop on a missing config costs the config server one read per Wait.
	before := f.gets.n.Load()
	for i := 0; i < 10; i++ {
		f.reg.Client(context.Background(), "nothing")
	}
	if got := f.gets.n.Load() - before; got != 0 {
		t.Fatalf("%d config reads within Wait after a miss; want 0", got)
	}
	f.clock.Add(time.Second)
	f.reg.Client(context.Background(), "nothing")
	if got := f.gets.n.Load() - before; got != 1 {
		t.Fatalf("%d config reads after Wait; want 1", got)
	}
}

func TestBadStoredConfigNamesKeyAndField(t *testing.T) {
	f := newFixture(t, nil)
	f.setRaw(t, "app", `{"host": "h", "port": "6379"}`)
	_, err := f.reg.Client(context.Background(), "app")
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "config:redis:app" || ce.Field != "port" || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("err = %v; want ErrBadConfig naming config:redis:app and port", err)
	}
}

func TestRefreshAtMostOncePerWait(t *testing.T) {
	f := newFixture(t, &Options{Wait: time.Second})
	data := miniredis.RunT(t)
	f.setRaw(t, "app", serverConfig(data))
	ctx := context.Background()
	first, err := f.reg.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.gets.n.Load(); got != 1 {
		t.Fatalf("config reads after first load = %d; want 1", got)
	}
	for i := 0; i < 100; i++ {
		f.clock.Add(9 * time.Millisecond) // 900ms in all: still within Wait
		if c, err := f.reg.Client(ctx, "app"); err != nil || c != first {
			t.Fatalf("call %d: client %p, %v; want the cached %p", i, c, err, first)
		}
	}
	f.reg.bg.Wait()
	if got := f.gets.n.Load(); got != 1 {
		t.Fatalf("config reads within Wait = %d; want 1", got)
	}
	f.clock.Add(100 * time.Millisecond) // now exactly Wait since the read
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ { // at once: still one refresh in flight
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := f.reg.Client(ctx, "app"); err != nil || c != first {
				t.Errorf("client %p, %v; want the cached %p while the refresh runs", c, err, first)
			}
		}()
	}
	wg.Wait()
	f.reg.bg.Wait()
	if got := f.gets.n.Load(); got != 2 {
		t.Fatalf("config reads after Wait = %d; want 2 (one refresh for 50 calls)", got)
	}
	if got := f.made.Load(); got != 1 {
		t.Fatalf("clients made = %d; want 1 (config unchanged)", got)
	}
}

func TestUnchangedConfigKeepsClient(t *testing.T) {
	f := newFixture(t, nil)
	data := miniredis.RunT(t)
	host, port, _ := net.SplitHostPort(data.Addr())
	f.setRaw(t, "app", fmt.Sprintf(`{"host": %q, "port": %s}`, host, port))
	ctx := context.Background()
	first, _ := f.reg.Client(ctx, "app")
	// Same server, other spelling: not a change.
	f.setRaw(t, "app", fmt.Sprintf(`{ "addr": "%s:%s", "decode_responses": true }`, host, port))
	if err := f.reg.Refresh(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.reg.Client(ctx, "app"); c != first || f.made.Load() != 1 {
		t.Fatalf("an equivalent config made a new client")
	}
}

func TestChangedConfigSwitchesAndClosesOld(t *testing.T) {
	f := newFixture(t, nil)
	a, b := miniredis.RunT(t), miniredis.RunT(t)
	a.Set("who", "a")
	b.Set("who", "b")
	f.setRaw(t, "app", serverConfig(a))
	ctx := context.Background()

	old, release, err := f.reg.Acquire(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	f.setRaw(t, "app", serverConfig(b))
	f.clock.Add(time.Second)
	// This call triggers the background refresh and is served by the cached client meanwhile.
	if _, err := f.reg.Client(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	f.reg.bg.Wait()
	cur, err := f.reg.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if cur == old {
		t.Fatal("changed config kept the old client")
	}
	if got, _ := cur.Get(ctx, "who").Result(); got != "b" {
		t.Fatalf("new client reads who = %q; want b", got)
	}
	// The held client still works until released...
	if got, err := old.Get(ctx, "who").Result(); err != nil || got != "a" {
		t.Fatalf("held old client: who = %q, %v; want a", got, err)
	}
	release()
	// ...and is closed after.
	if err := old.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("old client after release: Ping err = %v; want redis.ErrClosed", err)
	}
}

func TestConfigServerDownKeepsCachedClient(t *testing.T) {
	var reported atomic.Value
	f := newFixture(t, &Options{RefreshTimeout: 200 * time.Millisecond, OnRefreshError: func(c string, err error) {
		reported.Store(fmt.Sprintf("%s: %v", c, err))
	}})
	data := miniredis.RunT(t)
	data.Set("k", "v")
	f.setRaw(t, "app", serverConfig(data))
	ctx := context.Background()
	first, err := f.reg.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	f.cfgServer.Close()
	f.clock.Add(time.Second)
	c, err := f.reg.Client(ctx, "app")
	if err != nil || c != first {
		t.Fatalf("with the config server down: %p, %v; want the cached client", c, err)
	}
	f.reg.bg.Wait()
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("cached client GET k = %q, %v", got, err)
	}
	if err := f.reg.Err("app"); err == nil {
		t.Fatal("Err(app) = nil; want the refresh error")
	}
	if r, _ := reported.Load().(string); !strings.HasPrefix(r, "app: ") {
		t.Fatalf("OnRefreshError got %q; want a report for app", r)
	}
	// A component never loaded has nothing cached: a clear error.
	if _, err := f.reg.Client(ctx, "other"); err == nil || !strings.Contains(err.Error(), "config:redis:other") {
		t.Fatalf("new component with config server down: %v; want an error naming config:redis:other", err)
	}
}

func TestDeletedConfigKeepsCachedClient(t *testing.T) {
	f := newFixture(t, nil)
	data := miniredis.RunT(t)
	f.setRaw(t, "app", serverConfig(data))
	ctx := context.Background()
	first, _ := f.reg.Client(ctx, "app")
	f.cfgServer.Del(DefaultPrefix + "app")
	if err := f.reg.Refresh(ctx, "app"); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("Refresh after delete: %v; want ErrNoConfig", err)
	}
	if c, err := f.reg.Client(ctx, "app"); err != nil || c != first {
		t.Fatalf("after delete: %p, %v; want the cached client", c, err)
	}
}

func TestSetConfigValidatesBeforeWriting(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	data := miniredis.RunT(t)
	if err := f.reg.SetConfig(ctx, "app", serverConfig(data)); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.cfgServer.Get(DefaultPrefix + "app")
	for _, bad := range []any{`{"host": "h", "port": -1}`, `not json`, []byte(`{"hots": "h"}`), map[string]any{"port": "x"}, func() {}} {
		if err := f.reg.SetConfig(ctx, "app", bad); !errors.Is(err, ErrBadConfig) {
			t.Fatalf("SetConfig(%v) = %v; want ErrBadConfig", bad, err)
		}
	}
	if got, _ := f.cfgServer.Get(DefaultPrefix + "app"); got != stored {
		t.Fatalf("a rejected config changed the stored one: %q; want %q", got, stored)
	}
	// Stored compact and as given: the book's Python code reads the same keys.
	if err := f.reg.SetConfig(ctx, "py", map[string]any{"host": "10.0.0.1", "port": 6379, "db": 0}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.cfgServer.Get(DefaultPrefix + "py"); got != `{"db":0,"host":"10.0.0.1","port":6379}` {
		t.Fatalf("stored %s", got)
	}
}

func TestSetConfigSwitchesServedComponentNow(t *testing.T) {
	f := newFixture(t, nil)
	a, b := miniredis.RunT(t), miniredis.RunT(t)
	b.Set("who", "b")
	ctx := context.Background()
	if err := f.reg.SetConfig(ctx, "app", serverConfig(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Client(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.SetConfig(ctx, "app", serverConfig(b)); err != nil {
		t.Fatal(err)
	}
	c, _ := f.reg.Client(ctx, "app")
	if got, _ := c.Get(ctx, "who").Result(); got != "b" {
		t.Fatalf("after SetConfig: who = %q; want b", got)
	}
}

func TestSetConfigAfterMissUsableAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.reg.Client(ctx, "app"); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("err = %v; want ErrNoConfig", err)
	}
	if err := f.reg.SetConfig(ctx, "app", serverConfig(miniredis.RunT(t))); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Client(ctx, "app"); err != nil {
		t.Fatalf("Client right after SetConfig: %v", err)
	}
}

func TestInsecureTLSRefusedUnlessAllowed(t *testing.T) {
	insecure := []string{
		`{"host": "h", "ssl": true, "ssl_cert_reqs": "none"}`,
		`{"host": "h", "ssl": true, "ssl_check_hostname": false}`,
		`{"url": "rediss://h:6380/0?skip_verify=true"}`,
	}
	ctx := context.Background()
	f := newFixture(t, nil)
	for _, j := range insecure {
		if err := f.reg.SetConfig(ctx, "app", j); !errors.Is(err, ErrInsecureTLS) {
			t.Fatalf("SetConfig(%s) = %v; want ErrInsecureTLS", j, err)
		}
		f.setRaw(t, "raw", j)
		f.reg.Refresh(ctx, "raw")
		if _, err := f.reg.Client(ctx, "raw"); !errors.Is(err, ErrInsecureTLS) {
			t.Fatalf("Client with stored %s = %v; want ErrInsecureTLS", j, err)
		}
	}
	allowed := newFixture(t, &Options{AllowInsecureTLS: true})
	for _, j := range insecure {
		if err := allowed.reg.SetConfig(ctx, "app", j); err != nil {
			t.Fatalf("SetConfig(%s) with AllowInsecureTLS: %v", j, err)
		}
	}
}
