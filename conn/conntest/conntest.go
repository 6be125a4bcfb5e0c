// Package conntest gives a test a conn.Registry whose components are throwaway Redis servers, as
// net/http/httptest gives it a server: embedded miniredis servers by default, real redis-server
// processes (started by redistest) when Options.Real asks.
//
// Every component gets a server of its own, its config is stored in a config server of its own, and
// all of it is closed when the test ends. Sharded components (the book's sharded connections, 10.2)
// are components too: list them with Shards.
package conntest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// Options configure Start.
type Options struct {
	// Real starts real redis-server processes through redistest instead of miniredis: use it for
	// what miniredis lacks (replication, full INFO, persistence, WAIT). The test fails when
	// redis-server is not installed.
	// default: false
	Real bool

	// Registry configures the registry (Wait, Prefix, hooks).
	// default: conn's defaults
	Registry *conn.Options
}

// Env is what Start made.
type Env struct {
	// Registry reads its configs from Config; it is closed when the test ends.
	Registry *conn.Registry
	// Config is a client of the config server, which holds config:redis:<component> keys.
	Config *redis.Client
	// Addrs maps each component to its server's address.
	Addrs map[string]string
}

// Client is a client of component's server, not made by the registry: for a test's own setup and
// checks. It is closed when the test ends.
func (e *Env) Client(t testing.TB, component string) *redis.Client {
	t.Helper()
	addr, ok := e.Addrs[component]
	if !ok {
		t.Fatalf("conntest: no component %q (have %v)", component, e.Addrs)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// Shards names the shard components of a sharded component, component:0 to component:n-1, the names
// shard.Acquire and shard.Call look up.
func Shards(component string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = shard.ShardComponent(component, i)
	}
	return out
}

// Start starts a config server and one server for each component, stores each component's config,
// and returns a registry reading them. Everything is closed when the test ends.
func Start(t testing.TB, opt *Options, components ...string) *Env {
	t.Helper()
	var o Options
	if opt != nil {
		o = *opt
	}
	seen := map[string]bool{}
	for _, c := range components {
		if seen[c] {
			t.Fatalf("conntest: component %q listed twice", c)
		}
		seen[c] = true
	}
	addrs := serverAddrs(t, o.Real, len(components)+1)
	cfg := redis.NewClient(&redis.Options{Addr: addrs[0], MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { cfg.Close() })
	reg, err := conn.New(cfg, o.Registry)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })

	env := &Env{Registry: reg, Config: cfg, Addrs: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, c := range components {
		env.Addrs[c] = addrs[i+1]
		// Stored raw: SetConfig would also connect to each server and make its client now.
		if err := cfg.Set(ctx, reg.Key(c), fmt.Sprintf(`{"addr": %q}`, addrs[i+1]), 0).Err(); err != nil {
			t.Fatalf("conntest: storing %q's config: %v", c, err)
		}
	}
	return env
}

// serverAddrs starts n servers and returns their addresses.
func serverAddrs(t testing.TB, real bool, n int) []string {
	t.Helper()
	if real {
		return redistest.RunShardsT(t, n, nil).Addrs()
	}
	out := make([]string, n)
	for i := range out {
		out[i] = miniredis.RunT(t).Addr()
	}
	return out
}
