package conn

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

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
		reg, err := New(cfg, &Options{NewClient: func(string, *Config) (redis.UniversalClient, error) { return nil, hookErr }})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := reg.SetConfig(ctx, "app", serverConfig(m)); err != nil {
			t.Fatal(err)
		}
		_, err = reg.Client(ctx, "app")
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != DefaultPrefix+"app" || !errors.Is(err, hookErr) {
			t.Fatalf("hook error %v: got %v; want a *ConfigError with key %s wrapping it", hookErr, err, DefaultPrefix+"app")
		}
		reg.Close()
		cfg.Close()
	}
}
