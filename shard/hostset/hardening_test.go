package hostset

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// TestMaxConcurrencyRule: go-redis's option rule. 0 is the default (64), -1 is no bound, and any
// other negative value is refused by New and FromRegistry with an *OptionError naming the field.
func TestMaxConcurrencyRule(t *testing.T) {
	m := miniredis.RunT(t)
	one := map[int]map[string]any{0: {"addr": m.Addr()}}
	hs, err := New(&Options{Hosts: one})
	if err != nil || hs.core.opt.MaxConcurrency != 64 {
		t.Fatalf("MaxConcurrency 0: %v, %+v; want the default 64", err, hs)
	}
	hs.Close()
	cfgClient := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer cfgClient.Close()
	reg, err := conn.New(cfgClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, v := range []int{-2, -3, -64, -1 << 40} {
		_, err := New(&Options{Hosts: one, MaxConcurrency: v})
		_, rerr := FromRegistry(reg, "c", 1, &Options{MaxConcurrency: v})
		for _, e := range []error{err, rerr} {
			var oe *OptionError
			if !errors.Is(e, ErrBadOption) || !errors.As(e, &oe) || oe.Field != "MaxConcurrency" || oe.Value != strconv.Itoa(v) ||
				!strings.Contains(e.Error(), "MaxConcurrency") {
				t.Errorf("MaxConcurrency %d: %v; want an *OptionError naming MaxConcurrency", v, e)
			}
		}
	}
}

// barrier holds every host's round trip until n of them are in flight at once: it passes only when
// nothing bounds the hosts below n. It holds at most until ctx ends, so a bound fails the commands.
type barrier struct {
	n       int32
	arrived atomic.Int32
	once    sync.Once
	all     chan struct{}
}

func (b *barrier) DialHook(next redis.DialHook) redis.DialHook { return next }
func (b *barrier) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !connSetup(cmd.Name()) {
			b.wait(ctx)
		}
		return next(ctx, cmd)
	}
}
func (b *barrier) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !connSetup(cmds[0].Name()) {
			b.wait(ctx)
		}
		return next(ctx, cmds)
	}
}
func (b *barrier) wait(ctx context.Context) {
	if b.arrived.Add(1) == b.n {
		b.once.Do(func() { close(b.all) })
	}
	select {
	case <-b.all:
	case <-ctx.Done():
	}
}

// TestMaxConcurrencyUnbounded: with -1, one Fanout talks to all its 70 hosts at once (more than the
// default 64 would allow); with the default the barrier is never reached and ctx ends the wait.
func TestMaxConcurrencyUnbounded(t *testing.T) {
	m := miniredis.RunT(t)
	const n = 70
	run := func(limit int) error {
		b := &barrier{n: n, all: make(chan struct{})}
		o := &Options{MaxConcurrency: limit, Hosts: map[int]map[string]any{}}
		for i := 0; i < n; i++ {
			o.Hosts[i] = map[string]any{"addr": m.Addr()}
		}
		o.NewClient = func(_ int, cfg *conn.Config) (redis.UniversalClient, error) {
			c, err := cfg.NewClient()
			if err == nil {
				c.AddHook(b)
			}
			return c, err
		}
		hs, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		defer hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return hs.All(ctx, func(_ int, p redis.Pipeliner) error { p.Ping(ctx); return nil })
	}
	if err := run(-1); err != nil {
		t.Errorf("MaxConcurrency -1: %v; want all hosts in flight together", err)
	}
	if err := run(0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("MaxConcurrency 0 (64): %v; want the 70-host barrier unreached", err)
	}
}

// TestFanoutDuplicateHost: a host listed twice is a bad host list, not a missing host.
func TestFanoutDuplicateHost(t *testing.T) {
	ctx := t.Context()
	hs, _, rec := miniHosts(t, 3, nil)
	for _, hosts := range [][]int{{0, 0}, {1, 2, 1}, {2, 0, 1, 0}} {
		called := false
		err := hs.Fanout(ctx, hosts, func(int, redis.Pipeliner) error { called = true; return nil })
		if !errors.Is(err, ErrBadHosts) || errors.Is(err, ErrNoHost) || !strings.Contains(err.Error(), "twice") || called {
			t.Errorf("Fanout(%v): %v (fn called %v); want ErrBadHosts saying twice, before fn", hosts, err, called)
		}
	}
	if _, err := FanoutCmd(ctx, hs, []int{1, 1}, func(p redis.Pipeliner) *redis.StatusCmd { return p.Ping(ctx) }); !errors.Is(err, ErrBadHosts) {
		t.Errorf("FanoutCmd duplicate: %v; want ErrBadHosts", err)
	}
	for id := 0; id < 3; id++ {
		if sent := rec.names(id); len(sent) != 0 {
			t.Errorf("host %d received %v", id, sent)
		}
	}
}

// TestRefusalsNameClientForKey: the routing client's refusals of WATCH, transactions and pub/sub
// send the reader to ClientForKey, which returns a client; HostForKey returns an int.
func TestRefusalsNameClientForKey(t *testing.T) {
	ctx := t.Context()
	hs, _, _ := miniHosts(t, 2, nil)
	rc := hs.Routing()
	errs := map[string]error{
		"Watch":       rc.Watch(ctx, func(*redis.Tx) error { return nil }, "k"),
		"WATCH cmd":   rc.Do(ctx, "watch", "k").Err(),
		"MULTI cmd":   rc.Do(ctx, "multi").Err(),
		"Subscribe":   rc.Subscribe(ctx, "ch").Ping(ctx),
		"TxPipelined": nil,
	}
	_, errs["TxPipelined"] = rc.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Incr(ctx, "k"); return nil })
	for what, err := range errs {
		if !errors.Is(err, ErrUnroutable) || !strings.Contains(err.Error(), "ClientForKey") || strings.Contains(err.Error(), "HostForKey") {
			t.Errorf("%s: %v; want ErrUnroutable pointing to Hosts.ClientForKey", what, err)
		}
	}
	// ClientForKey gives what the message promises: a client on the key's host, with WATCH.
	c, id, err := hs.ClientForKey(ctx, "k")
	if err != nil || id != hs.HostForKey("k") {
		t.Fatalf("ClientForKey: %d, %v", id, err)
	}
	if err := c.Watch(ctx, func(tx *redis.Tx) error {
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Incr(ctx, "k"); return nil })
		return err
	}, "k"); err != nil {
		t.Errorf("WATCH on ClientForKey's client: %v", err)
	}
}

// TestUnreachableRingRefused: a ring on which a host owns no point (every point of its taken by
// another node) cannot reach that host, and New refuses it.
func TestUnreachableRingRefused(t *testing.T) {
	m := miniredis.RunT(t)
	hosts := map[int]map[string]any{0: {"addr": m.Addr()}, 1: {"addr": m.Addr()}}
	ring := &ConsistentHash{points: []uint32{10, 20}, owner: map[uint32]int{10: 1, 20: 1}, ids: []int{0, 1}}
	hs, err := New(&Options{Hosts: hosts, Router: func(int) (Router, error) { return ring, nil }})
	if !errors.Is(err, ErrBadHosts) || !strings.Contains(err.Error(), "host 0") {
		t.Errorf("New with host 0 unreachable: %v; want ErrBadHosts naming host 0", err)
	}
	if hs != nil {
		hs.Close()
	}
	// A weight-1 node beside a weight-1000 one is reachable, and the Hosts is made.
	hs, err = New(&Options{Hosts: hosts, Router: func(int) (Router, error) {
		return NewConsistentHashNodes([]Node{{Host: 0, Weight: 1}, {Host: 1, Weight: 1000}})
	}})
	if err != nil {
		t.Fatalf("New with weights 1:1000: %v", err)
	}
	hs.Close()
}

// TestPython3PartitionRefusesKey: a Hosts whose router is a shard.Python3 Partition fails only the
// commands of keys latin-1 cannot encode, with shard.ErrNotLatin1, and ClientForKey says so.
func TestPython3PartitionRefusesKey(t *testing.T) {
	ctx := t.Context()
	hs, minis, _ := miniHosts(t, 3, &Options{Router: func(n int) (Router, error) { return NewPartitionMode(n, shard.Python3) }})
	rc := hs.Routing()
	if err := rc.Set(ctx, "中文", "v", 0).Err(); !errors.Is(err, shard.ErrNotLatin1) || !errors.Is(err, ErrUnroutable) {
		t.Errorf("SET 中文: %v; want shard.ErrNotLatin1 and ErrUnroutable", err)
	}
	if err := rc.MSet(ctx, "ok", "1", "中文", "2").Err(); !errors.Is(err, shard.ErrNotLatin1) {
		t.Errorf("MSET with 中文: %v; want shard.ErrNotLatin1", err)
	}
	if _, _, err := hs.ClientForKey(ctx, "中文"); !errors.Is(err, shard.ErrNotLatin1) {
		t.Errorf("ClientForKey(中文): %v; want shard.ErrNotLatin1", err)
	}
	if id := hs.HostForKey("中文"); id != -1 {
		t.Errorf("HostForKey(中文) = %d; want -1", id)
	}
	// latin-1 keys go to the host of their latin-1 crc32 (the book's Python 3 hash).
	if err := rc.Set(ctx, "héllo", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want, _ := shard.Index("héllo", 3, shard.Python3)
	if !minis[want].Exists("héllo") || hs.HostForKey("héllo") != want {
		t.Errorf("héllo not on host %d", want)
	}
	for id, m := range minis {
		if m.Exists("中文") || m.Exists("ok") {
			t.Errorf("host %d holds a key of a refused command", id)
		}
	}
}

// ctxCases are the ways a caller's ctx ends: already cancelled, or a deadline that passes while a
// host does not answer (go-redis then reports the socket's "i/o timeout").
func ctxCases() map[string]func() (context.Context, context.CancelFunc) {
	return map[string]func() (context.Context, context.CancelFunc){
		"cancelled": func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		},
		"deadline": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		},
	}
}

// TestCtxEndedErrors: once the caller's ctx has ended, every public I/O call of Hosts returns an error for
// which errors.Is(err, ctx.Err()) holds, and so does every failed command, inside its *HostError
// too; the hosts here never answer, so without ctx nothing would end.
func TestCtxEndedErrors(t *testing.T) {
	hole := redistest.BlackHole(t) // every call ends with its ctx
	reg, _ := conntest.MiniRegistry(t)
	for i := 0; i < 2; i++ {
		if err := reg.SetConfig(context.Background(), shard.ShardComponent("hole", i), map[string]any{"addr": hole, "socket_timeout": 60}); err != nil {
			t.Fatal(err)
		}
	}
	hosts := map[int]map[string]any{0: {"addr": hole}, 1: {"addr": hole}, 2: {"addr": hole}}
	hs, err := New(&Options{Hosts: hosts, HostDefaults: map[string]any{"socket_timeout": 60, "socket_connect_timeout": 60}})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	rcl, err := FromRegistry(reg, "hole", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rcl.Close()

	for name, mk := range ctxCases() {
		t.Run(name, func(t *testing.T) {
			check := func(what string, err error, ctx context.Context) {
				t.Helper()
				if ctx.Err() == nil {
					t.Errorf("%s returned before ctx ended: %v", what, err)
					return
				}
				if !errors.Is(err, ctx.Err()) {
					t.Errorf("%s: %v; want errors.Is(err, %v)", what, err, ctx.Err())
				}
				var he *HostError
				if errors.As(err, &he) && !errors.Is(he.Err, ctx.Err()) {
					t.Errorf("%s: the *HostError's own error %v does not wrap %v", what, he.Err, ctx.Err())
				}
			}
			calls := map[string]func(ctx context.Context) error{
				"routing GET":  func(ctx context.Context) error { return hs.Routing().Get(ctx, "k").Err() },
				"routing SET":  func(ctx context.Context) error { return hs.Routing().Set(ctx, "k", 1, 0).Err() },
				"routing MGET": func(ctx context.Context) error { return hs.Routing().MGet(ctx, "a", "b", "c", "d").Err() },
				"registry GET": func(ctx context.Context) error { return rcl.Routing().Get(ctx, "k").Err() },
				"Map": func(ctx context.Context) error {
					var cmds []redis.Cmder
					err := hs.Map(ctx, func(p redis.Pipeliner) error {
						for i := 0; i < 20; i++ {
							cmds = append(cmds, p.Get(ctx, fmt.Sprint("k", i)), p.Incr(ctx, fmt.Sprint("n", i)))
						}
						cmds = append(cmds, p.MGet(ctx, "a", "b", "c"), p.FlushDB(ctx))
						return nil
					})
					for _, c := range cmds {
						check(fmt.Sprintf("Map command %v", c.Args()), c.Err(), ctx)
					}
					return err
				},
				"All": func(ctx context.Context) error {
					var cmds []redis.Cmder
					var mu sync.Mutex
					err := hs.All(ctx, func(_ int, p redis.Pipeliner) error {
						mu.Lock()
						defer mu.Unlock()
						cmds = append(cmds, p.Ping(ctx), p.Get(ctx, "a"), p.Get(ctx, "b"))
						return nil
					})
					for _, c := range cmds {
						check(fmt.Sprintf("All command %v", c.Args()), c.Err(), ctx)
					}
					return err
				},
				"FanoutCmd": func(ctx context.Context) error {
					res, err := FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
					for id, c := range res {
						check(fmt.Sprintf("FanoutCmd host %d", id), c.Err(), ctx)
					}
					return err
				},
				"routing pipeline": func(ctx context.Context) error {
					cmds, err := hs.Routing().Pipelined(ctx, func(p redis.Pipeliner) error {
						p.Set(ctx, "a", 1, 0)
						p.Get(ctx, "b")
						return nil
					})
					for _, c := range cmds {
						check(fmt.Sprintf("pipelined %v", c.Args()), c.Err(), ctx)
					}
					return err
				},
			}
			if name == "cancelled" { // calls that do no I/O here, so only an ended ctx fails them
				calls["Host"] = func(ctx context.Context) error { _, err := hs.Host(ctx, 0); return err }
				calls["Acquire"] = func(ctx context.Context) error { _, _, err := hs.Acquire(ctx, 1); return err }
				calls["ClientForKey"] = func(ctx context.Context) error { _, _, err := hs.ClientForKey(ctx, "k"); return err }
				calls["registry Host"] = func(ctx context.Context) error { _, err := rcl.Host(ctx, 0); return err }
				calls["Map (empty)"] = func(ctx context.Context) error { return hs.Map(ctx, func(redis.Pipeliner) error { return nil }) }
				calls["Fanout (empty)"] = func(ctx context.Context) error {
					return hs.Fanout(ctx, []int{0}, func(int, redis.Pipeliner) error { return nil })
				}
			}
			var wg sync.WaitGroup
			for what, call := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := mk()
					defer cancel()
					check(what, call(ctx), ctx)
				}()
			}
			wg.Wait()
		})
	}
}
