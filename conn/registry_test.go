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
	f.reg = New(f.cfgClient, &o)
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

// 16 goroutines keep calling while the config flips between two servers 20 times. The flips are
// driven by the fake clock and Refresh, so each is seen exactly once: 21 clients, every replaced
// one closed once released, and all closed by Close.
func TestConcurrentUseWhileConfigFlips(t *testing.T) {
	f := newFixture(t, nil)
	servers := []*miniredis.Miniredis{miniredis.RunT(t), miniredis.RunT(t)}
	f.setRaw(t, "app", serverConfig(servers[0]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := f.reg.Client(ctx, "app"); err != nil { // the first client, on servers[0]
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	stop := make(chan struct{})
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := Call(ctx, f.reg, "app", func(ctx context.Context, c redis.Cmdable) (int64, error) {
					return c.Incr(ctx, "calls").Result()
				})
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					t.Errorf("call failed: %v", err)
					return
				}
			}
		}()
	}
	const flips = 20
	for i := 0; i < flips; i++ {
		f.setRaw(t, "app", serverConfig(servers[(i+1)%2]))
		f.clock.Add(time.Second) // callers start background refreshes too, racing the Refresh below
		if err := f.reg.Refresh(ctx, "app"); err != nil {
			t.Fatal(err)
		}
		// Let the callers use the new client before the next flip.
		for before := calls.Load(); calls.Load() < before+32 && failures.Load() == 0; {
			if ctx.Err() != nil {
				t.Fatal("callers made no progress")
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	close(stop)
	wg.Wait()
	f.reg.bg.Wait()
	var served int64
	for _, s := range servers {
		n, _ := s.Get("calls")
		var v int64
		fmt.Sscan(n, &v)
		served += v
	}
	if failures.Load() != 0 || served != calls.Load() {
		t.Fatalf("%d calls, %d failed, %d INCRs served; want none failed and all served", calls.Load(), failures.Load(), served)
	}
	clients := f.allClients()
	if len(clients) != flips+1 {
		t.Fatalf("clients made = %d; want %d (one per config, each flip seen once)", len(clients), flips+1)
	}
	for i, c := range clients[:flips] {
		if err := c.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("replaced client %d: Ping = %v; want redis.ErrClosed", i, err)
		}
	}
	if err := clients[flips].Ping(ctx).Err(); err != nil {
		t.Fatalf("current client: %v", err)
	}
	if err := f.reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := clients[flips].Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("current client after Close: Ping = %v; want redis.ErrClosed", err)
	}
}

// gate holds the config client's GETs until released, to catch a load in flight.
type gate struct {
	entered chan struct{} // one value per GET that reached the gate
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})} }

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" {
			g.entered <- struct{}{}
			select {
			case <-g.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return next(ctx, cmd)
	}
}
func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A caller whose context ends stops waiting, and neither fails the load for others nor is remembered.
func TestCancelledCallerDoesNotFailOthers(t *testing.T) {
	bg := context.Background()
	t.Run("cancelled while the load reads", func(t *testing.T) {
		f := newFixture(t, &Options{RefreshTimeout: time.Minute})
		f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
		g := newGate()
		f.cfgClient.AddHook(g)
		ctx, cancel := context.WithCancel(bg)
		errc := make(chan error, 1)
		go func() {
			_, err := f.reg.Client(ctx, "app")
			errc <- err
		}()
		<-g.entered
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller: %v; want context.Canceled", err)
		}
		close(g.release)
		if _, err := f.reg.Client(bg, "app"); err != nil {
			t.Fatalf("next caller: %v; want the client", err)
		}
		if n := f.gets.n.Load(); n != 1 {
			t.Fatalf("%d config reads; want 1 (the cancelled caller's load served the next)", n)
		}
	})
	t.Run("cancelled before the call", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			f := newFixture(t, nil)
			f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
			ctx, cancel := context.WithCancel(bg)
			cancel()
			f.reg.Client(ctx, "app") // may fail or, if the load wins the race, succeed
			if _, err := f.reg.Client(bg, "app"); err != nil {
				t.Fatalf("run %d: Client after a cancelled call: %v", i, err)
			}
		}
	})
	t.Run("cancelled Refresh", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			f := newFixture(t, nil)
			f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
			ctx, cancel := context.WithCancel(bg)
			cancel()
			if err := f.reg.Refresh(ctx, "app"); err == nil {
				t.Fatalf("run %d: Refresh with a cancelled context succeeded", i)
			}
			if _, err := f.reg.Client(bg, "app"); err != nil {
				t.Fatalf("run %d: Client after a cancelled Refresh: %v", i, err)
			}
			if err := f.reg.Err("app"); err != nil {
				t.Fatalf("run %d: Err = %v; want nil", i, err)
			}
		}
	})
}

// The first load is bounded by RefreshTimeout, not by the first caller's context.
func TestFirstLoadBoundedByRefreshTimeout(t *testing.T) {
	f := newFixture(t, &Options{RefreshTimeout: 100 * time.Millisecond})
	f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
	g := newGate() // never released: a config server that stops answering
	f.cfgClient.AddHook(g)
	start := time.Now()
	_, err := f.reg.Client(context.Background(), "app")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want context.DeadlineExceeded from RefreshTimeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("first load took %v with RefreshTimeout 100ms", d)
	}
	// The config server's failure is remembered for Wait, as a missing config is.
	if _, err2 := f.reg.Client(context.Background(), "app"); err2 == nil || err2.Error() != err.Error() || len(g.entered) != 1 {
		t.Fatalf("second call: %v after %d reads; want the remembered %v", err2, len(g.entered), err)
	}
}

// Close while callers start refreshes (Wait 1ns, real clock): no WaitGroup misuse under -race, no
// config read after Close returns, every client closed.
func TestCloseRacesCallers(t *testing.T) {
	for round := 0; round < 100; round++ {
		f := newFixture(t, &Options{Wait: time.Nanosecond, Now: time.Now})
		f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
		f.setRaw(t, "other", serverConfig(miniredis.RunT(t)))
		var closed atomic.Bool
		f.cfgClient.AddHook(readAfter{&closed, t})
		var wg, started sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			started.Add(1)
			go func() {
				defer wg.Done()
				first := true
				for i := 0; ; i++ {
					comp := []string{"app", "other"}[i%2]
					_, err := f.reg.Client(context.Background(), comp)
					if first {
						started.Done()
						first = false
					}
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Client(%s): %v", comp, err)
						return
					}
				}
			}()
		}
		started.Wait()
		if err := f.reg.Close(); err != nil {
			t.Fatal(err)
		}
		closed.Store(true)
		wg.Wait()
		for i, c := range f.allClients() {
			if err := c.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
				t.Fatalf("round %d: client %d after Close: Ping = %v; want redis.ErrClosed", round, i, err)
			}
		}
	}
}

// readAfter fails the test on a config read that starts once closed is set.
type readAfter struct {
	closed *atomic.Bool
	t      *testing.T
}

func (h readAfter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h readAfter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" && h.closed.Load() {
			h.t.Errorf("config read %v after Close returned", cmd.Args())
		}
		return next(ctx, cmd)
	}
}
func (h readAfter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A name that would make an odd key is a ConfigError, and reaches no server.
func TestBadComponentNames(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	good := serverConfig(miniredis.RunT(t))
	for _, name := range []string{"", " ", "app ", " app", "a b", "a\nb", "a\tb", "a\x00b", "\xff", "a\u00a0b"} {
		check := func(what string, err error) {
			t.Helper()
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrBadConfig) {
				t.Fatalf("%s(%q) = %v; want a *ConfigError wrapping ErrBadConfig", what, name, err)
			}
		}
		_, err := f.reg.Client(ctx, name)
		check("Client", err)
		_, _, err = f.reg.Acquire(ctx, name)
		check("Acquire", err)
		check("Refresh", f.reg.Refresh(ctx, name))
		check("SetConfig", f.reg.SetConfig(ctx, name, good))
	}
	if keys := f.cfgServer.Keys(); len(keys) != 0 {
		t.Fatalf("bad names wrote %q", keys)
	}
	if n := f.gets.n.Load(); n != 0 {
		t.Fatalf("bad names cost %d config reads", n)
	}
	if got := f.reg.Components(); len(got) != 0 {
		t.Fatalf("bad names were registered: %q", got)
	}
	for _, name := range []string{"app", "shard:3", "logs.v2", "ünïcode"} {
		if err := f.reg.SetConfig(ctx, name, good); err != nil {
			t.Fatalf("SetConfig(%q): %v", name, err)
		}
		if _, err := f.reg.Client(ctx, name); err != nil {
			t.Fatalf("Client(%q): %v", name, err)
		}
	}
}

// OnRefreshError runs with the component's lock released, so it may call back into the registry.
func TestOnRefreshErrorCalledUnlocked(t *testing.T) {
	var f *fixture
	locked := make(chan bool, 1)
	f = newFixture(t, &Options{OnRefreshError: func(component string, err error) {
		e, _ := f.reg.entry(component)
		select {
		case e.sem <- struct{}{}:
			<-e.sem
			locked <- false
		default:
			locked <- true
		}
	}})
	f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
	ctx := context.Background()
	if _, err := f.reg.Client(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	f.setRaw(t, "app", `{"host": "h", "port": "bad"}`)
	f.clock.Add(time.Second)
	if _, err := f.reg.Client(ctx, "app"); err != nil { // starts the failing refresh
		t.Fatal(err)
	}
	f.reg.bg.Wait()
	select {
	case l := <-locked:
		if l {
			t.Fatal("OnRefreshError called with the component's lock held")
		}
	default:
		t.Fatal("OnRefreshError not called")
	}
}

// SetConfig says whether it wrote: a failure after the write wraps ErrNotLoaded and the cause.
func TestSetConfigWrittenNotLoaded(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	data := miniredis.RunT(t)
	if err := f.reg.SetConfig(ctx, "app", serverConfig(data)); err != nil {
		t.Fatal(err)
	}
	first, err := f.reg.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	// Valid JSON whose client cannot be made: the CA file is missing.
	unloadable := `{"host": "h", "ssl": true, "ssl_ca_certs": "/nonexistent/ca.pem"}`
	err = f.reg.SetConfig(ctx, "app", unloadable)
	if !errors.Is(err, ErrNotLoaded) || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("SetConfig = %v; want ErrNotLoaded wrapping ErrBadConfig", err)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "config:redis:app" || ce.Field != "ssl_ca_certs" {
		t.Fatalf("SetConfig = %v; want a *ConfigError naming config:redis:app and ssl_ca_certs", err)
	}
	stored, _ := f.cfgServer.Get(DefaultPrefix + "app")
	if want := `{"host":"h","ssl":true,"ssl_ca_certs":"/nonexistent/ca.pem"}`; stored != want {
		t.Fatalf("stored %q; want the written config %q", stored, want)
	}
	if c, err := f.reg.Client(ctx, "app"); err != nil || c != first {
		t.Fatalf("after a failed switch: %p, %v; want the old client", c, err)
	}
	// A config refused before the write does not say ErrNotLoaded.
	if err := f.reg.SetConfig(ctx, "app", `{"host": 5}`); errors.Is(err, ErrNotLoaded) || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("SetConfig(invalid) = %v; want ErrBadConfig without ErrNotLoaded", err)
	}
	if got, _ := f.cfgServer.Get(DefaultPrefix + "app"); got != stored {
		t.Fatalf("a refused config was written: %q", got)
	}
}

func TestWrapClientTypes(t *testing.T) {
	f := newFixture(t, nil)
	data := miniredis.RunT(t)
	f.setRaw(t, "app", serverConfig(data))
	ctx := context.Background()
	set := Wrap2(f.reg, "app", func(ctx context.Context, c redis.Cmdable, k, v string) (string, error) {
		return c.Set(ctx, k, v, 0).Result()
	})
	if _, err := set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got, _ := data.Get("k"); got != "v" {
		t.Fatalf("k = %q; want v", got)
	}
	wantsCluster := Wrap(f.reg, "app", func(ctx context.Context, c *redis.ClusterClient) (int, error) { return 1, nil })
	if _, err := wantsCluster(ctx); !errors.Is(err, ErrClientType) {
		t.Fatalf("err = %v; want ErrClientType", err)
	}
	pair := WrapPair(f.reg, "app", "app", func(ctx context.Context, a, b redis.Cmdable, k string) (bool, error) {
		x, err := a.Get(ctx, k).Result()
		if err != nil {
			return false, err
		}
		y, err := b.Get(ctx, k).Result()
		return x == y, err
	})
	if same, err := pair(ctx, "k"); err != nil || !same {
		t.Fatalf("pair = %v, %v", same, err)
	}
	if _, err := Wrap1(f.reg, "missing", func(ctx context.Context, c redis.Cmdable, k string) (string, error) {
		t.Fatal("called without a client")
		return "", nil
	})(ctx, "k"); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("err = %v; want ErrNoConfig", err)
	}
}

func TestCloseClosesClients(t *testing.T) {
	f := newFixture(t, nil)
	f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
	ctx := context.Background()
	c, err := f.reg.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("client after registry Close: %v; want redis.ErrClosed", err)
	}
	if _, err := f.reg.Client(ctx, "app"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Client after Close: %v; want ErrClosed", err)
	}
	if err := f.cfgClient.Ping(ctx).Err(); err != nil {
		t.Fatalf("Close closed the config client it was handed: %v", err)
	}
}

func TestAcquireHonoursContext(t *testing.T) {
	f := newFixture(t, nil)
	f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
	e, _ := f.reg.entry("app")
	e.sem <- struct{}{} // a load in flight that never finishes
	defer e.unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.reg.Client(ctx, "app"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want context.DeadlineExceeded", err)
	}
}

// A NewClient hook's error, a *ConfigError however wrapped or a plain error, comes back naming the
// component's key (found with errors.As, not a type assertion).
func TestNewClientHookErrorNamesKey(t *testing.T) {
	plain := errors.New("hook failed")
	for _, hookErr := range []error{
		fmt.Errorf("wrapped: %w", &ConfigError{Field: "ssl_ca_certs", Err: ErrBadConfig}),
		&ConfigError{Field: "ssl", Err: ErrInsecureTLS},
		plain,
	} {
		m := miniredis.RunT(t)
		cfg := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true})
		reg := New(cfg, &Options{NewClient: func(string, *Config) (redis.UniversalClient, error) { return nil, hookErr }})
		ctx := context.Background()
		if err := reg.SetConfig(ctx, "app", serverConfig(m)); err != nil {
			t.Fatal(err)
		}
		_, err := reg.Client(ctx, "app")
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != DefaultPrefix+"app" || !errors.Is(err, hookErr) {
			t.Fatalf("hook error %v: got %v; want a *ConfigError with key %s wrapping it", hookErr, err, DefaultPrefix+"app")
		}
		reg.Close()
		cfg.Close()
	}
}
