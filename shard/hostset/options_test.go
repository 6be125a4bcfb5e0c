package hostset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

// TestNewRejectsRouterForOtherHosts: a router built for other host ids than 0..n-1 is
// refused when the Hosts is made (rb's assert_gapless_hosts), instead of panicking on the first key.
func TestNewRejectsRouterForOtherHosts(t *testing.T) {
	m := miniredis.RunT(t)
	hosts := func(n int) map[int]map[string]any {
		h := map[int]map[string]any{}
		for i := 0; i < n; i++ {
			h[i] = map[string]any{"addr": m.Addr()}
		}
		return h
	}
	ring := func(ids ...int) func(int) (Router, error) {
		return func(int) (Router, error) {
			var nodes []Node
			for _, id := range ids {
				nodes = append(nodes, Node{Host: id, Weight: 1})
			}
			return NewConsistentHashNodes(nodes)
		}
	}
	for _, tc := range []struct {
		name   string
		n      int
		router func(int) (Router, error)
	}{
		{"ring id past the hosts", 2, ring(0, 7)},
		{"ring with an extra host", 2, ring(0, 1, 2)},
		{"ring leaves a host out", 3, ring(0, 2)},
		{"ring of fewer hosts", 3, ring(0, 1)},
		{"partition of other size", 2, func(int) (Router, error) { return NewPartition(3) }},
		{"nil router", 2, func(int) (Router, error) { return nil, nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := New(&Options{Hosts: hosts(tc.n), Router: tc.router})
			if !errors.Is(err, ErrBadHosts) {
				t.Errorf("New error %v; want ErrBadHosts", err)
			}
			if hs != nil {
				hs.Close()
			}
		})
	}
	// The same ring over the right hosts is accepted, with gaps or not in the names.
	hs, err := New(&Options{Hosts: hosts(3), Router: ring(2, 0, 1)})
	if err != nil {
		t.Fatalf("New with ring over 0..2: %v", err)
	}
	hs.Close()
}

// badRouter answers a host id the Hosts does not have for keys starting with "bad".
type badRouter struct{ n int }

func (r badRouter) HostForKey(key string) int {
	if strings.HasPrefix(key, "bad") {
		return r.n + 5
	}
	return 0
}

// TestRouterOutOfRange: a custom Router that answers an id outside 0..n-1 fails only the commands
// for those keys, with ErrNoHost and ErrUnroutable, inside Map's per-host work as on the routing
// client, and the process does not panic.
func TestRouterOutOfRange(t *testing.T) {
	ctx := t.Context()
	hs, minis, _ := miniHosts(t, 2, &Options{Router: func(n int) (Router, error) { return badRouter{n}, nil }})
	rc := hs.Routing()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNoHost) || !errors.Is(err, ErrUnroutable) {
			t.Errorf("%s: %v; want ErrNoHost and ErrUnroutable", what, err)
		}
	}
	check("GET", rc.Get(ctx, "bad1").Err())
	check("SET", rc.Set(ctx, "bad1", "v", 0).Err())
	check("MGET split", rc.MGet(ctx, "good", "bad1").Err())
	check("MSET split", rc.MSet(ctx, "good", "1", "bad1", "2").Err())
	check("DEL split", rc.Del(ctx, "good", "bad1").Err())
	if minis[0].Exists("good") {
		t.Error("MSET refused as a whole still wrote good")
	}

	var good *redis.StatusCmd
	var bad []*redis.StringCmd
	err := hs.Map(ctx, func(p redis.Pipeliner) error {
		good = p.Set(ctx, "good", "ok", 0)
		for i := 0; i < 3; i++ {
			bad = append(bad, p.Get(ctx, fmt.Sprint("bad", i)))
		}
		return nil
	})
	check("Map", err)
	for i, c := range bad {
		check(fmt.Sprint("Map GET bad", i), c.Err())
	}
	if good.Err() != nil {
		t.Errorf("Map SET good: %v", good.Err())
	}
	if v, _ := minis[0].Get("good"); v != "ok" {
		t.Errorf("good = %q on host 0; want ok", v)
	}
}

// inflight counts the pipelines (and single commands) being sent at the same time, across hosts.
type inflight struct{ now, max atomic.Int32 }

func (f *inflight) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *inflight) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if connSetup(cmd.Name()) {
			return next(ctx, cmd)
		}
		defer f.enter()()
		return next(ctx, cmd)
	}
}
func (f *inflight) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && connSetup(cmds[0].Name()) {
			return next(ctx, cmds) // a new connection's HELLO pipeline, nested in the round trip that dials
		}
		defer f.enter()()
		return next(ctx, cmds)
	}
}

func connSetup(name string) bool {
	return name == "hello" || name == "client" || name == "auth" || name == "select"
}

// enter records one more round trip in flight. It holds it for a moment so that, were the bound
// broken, the other hosts' goroutines would overlap with it; the test asserts no duration.
func (f *inflight) enter() func() {
	n := f.now.Add(1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	return func() { f.now.Add(-1) }
}

func TestMaxConcurrency(t *testing.T) {
	ctx := t.Context()
	const hosts = 6
	for _, limit := range []int{2, 1} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			f := &inflight{}
			o := &Options{MaxConcurrency: limit, Hosts: map[int]map[string]any{}}
			for i := 0; i < hosts; i++ {
				o.Hosts[i] = map[string]any{"addr": miniredis.RunT(t).Addr()}
			}
			o.NewClient = func(_ int, cfg *conn.Config) (redis.UniversalClient, error) {
				c, err := cfg.NewClient()
				if err == nil {
					c.AddHook(f)
				}
				return c, err
			}
			hs, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			defer hs.Close()
			// Enough keys that every host gets a pipeline.
			var keys []string
			seen := map[int]int{}
			for i := 0; len(seen) < hosts || slices.Min(mapValues(seen)) < 3; i++ {
				k := fmt.Sprint("k", i)
				keys = append(keys, k)
				seen[hs.HostForKey(k)]++
			}
			check := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if got := f.max.Load(); got > int32(limit) || got < 1 {
					t.Errorf("%s: %d round trips in flight at most; want 1..%d", what, got, limit)
				}
				f.max.Store(0)
			}
			check("Map", hs.Map(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Incr(ctx, k)
				}
				return nil
			}))
			check("All", hs.All(ctx, func(_ int, p redis.Pipeliner) error { p.Ping(ctx); return nil }))
			for _, k := range keys {
				if v, err := hs.Routing().Get(ctx, k).Result(); err != nil || v != "1" {
					t.Errorf("GET %s = %q, %v; want 1", k, v, err)
				}
			}
		})
	}
}

func mapValues(m map[int]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestOptionsNoAutoBatch: the option (not the AutoBatch view) sends GETs and SETs as written, and a
// GET of a list fails with WRONGTYPE as GET does; AutoBatch(true) turns batching back on.
func TestOptionsNoAutoBatch(t *testing.T) {
	ctx := t.Context()
	hs, minis, rec := miniHosts(t, 2, &Options{NoAutoBatch: true})
	minis[hs.HostForKey("list")].Lpush("list", "x")
	run := func(c *Hosts) (map[int][]string, error) {
		rec.reset()
		var list *redis.StringCmd
		err := c.Map(ctx, func(p redis.Pipeliner) error {
			for i := 0; i < 10; i++ {
				p.Set(ctx, fmt.Sprint("k", i), i, 0)
			}
			for i := 0; i < 10; i++ {
				p.Get(ctx, fmt.Sprint("k", i))
			}
			list = p.Get(ctx, "list")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return map[int][]string{0: rec.names(0), 1: rec.names(1)}, list.Err()
	}
	sent, listErr := run(hs)
	for id, names := range sent {
		for _, n := range names {
			if n != "get" && n != "set" {
				t.Errorf("NoAutoBatch: host %d received %s; want only get and set", id, n)
			}
		}
	}
	if len(sent[0])+len(sent[1]) != 21 {
		t.Errorf("NoAutoBatch: %d commands sent; want 21 (%v)", len(sent[0])+len(sent[1]), sent)
	}
	if listErr == nil || !strings.Contains(listErr.Error(), "WRONGTYPE") {
		t.Errorf("NoAutoBatch: GET of a list: %v; want WRONGTYPE", listErr)
	}

	sent, listErr = run(hs.AutoBatch(true))
	for id, names := range sent {
		if !slices.Contains(names, "mget") || !slices.Contains(names, "mset") || slices.Contains(names, "set") {
			t.Errorf("AutoBatch(true): host %d received %v; want mset and mget", id, names)
		}
	}
	if !errors.Is(listErr, redis.Nil) {
		t.Errorf("AutoBatch(true): GET of a list: %v; want redis.Nil (MGET's answer)", listErr)
	}
}

// TestNewInsecureTLS: a host config that turns TLS verification off is refused unless
// AllowInsecureTLS opts in.
func TestNewInsecureTLS(t *testing.T) {
	m := miniredis.RunT(t)
	for _, hc := range []map[string]any{
		{"addr": m.Addr(), "ssl": true, "ssl_cert_reqs": "none"},
		{"addr": m.Addr(), "ssl": true, "ssl_check_hostname": false},
	} {
		hosts := map[int]map[string]any{0: {"addr": m.Addr()}, 1: hc}
		hs, err := New(&Options{Hosts: hosts})
		if !errors.Is(err, conn.ErrInsecureTLS) || !errors.Is(err, ErrBadHosts) || !strings.Contains(err.Error(), "host 1") {
			t.Errorf("New(%v): %v; want ErrInsecureTLS and ErrBadHosts naming host 1", hc, err)
		}
		if hs != nil {
			hs.Close()
		}
		// As a default, too.
		hs, err = New(&Options{Hosts: map[int]map[string]any{0: {"addr": m.Addr()}}, HostDefaults: map[string]any{"ssl": true, "ssl_cert_reqs": "none"}})
		if !errors.Is(err, conn.ErrInsecureTLS) {
			t.Errorf("New with insecure HostDefaults: %v; want ErrInsecureTLS", err)
		}
		if hs != nil {
			hs.Close()
		}
		hs, err = New(&Options{Hosts: hosts, AllowInsecureTLS: true})
		if err != nil {
			t.Errorf("New(%v) with AllowInsecureTLS: %v", hc, err)
			continue
		}
		hs.Close()
	}
}
