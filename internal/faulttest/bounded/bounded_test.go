package bounded_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/logs"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/redistest/faultproxy"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/shard/hostset"
	riasync "github.com/ria-go/ria/sync"
	"github.com/ria-go/ria/tokens"
	"github.com/ria-go/ria/uniquevisits"
)

// The deadline every call gets, and the overrun allowed: long enough that 10% is well above a loaded
// 2-core machine's scheduling noise, short enough that all calls together take about a second.
const (
	deadline = time.Second
	margin   = deadline / 10
	// safety bounds the calls whose deadline is their own option (their ctx has none of its own):
	// a call still running then has overrun by far.
	safety = 30 * time.Second
)

// call is one public function called while the server does not answer.
type call struct {
	// name starts with what the call covers, "pkg.Func" or "pkg.Type.Method", several joined by
	// " + ", then a note in parentheses (see covered).
	name string
	// own: the deadline is the function's own timeout option, set to deadline; ctx has only the
	// safety net. Otherwise ctx carries the deadline.
	own bool
	// instant: the call needs nothing from the faulty server (a cached client, a lazy one) and must
	// succeed without waiting. Instant calls run once, in the first deadline round.
	instant bool
	// noCtx: the call takes no ctx, so only its own timeout can end it: deadline rounds only.
	noCtx bool
	// rounds the call runs in; zero means every round it can run in (see rounds).
	rounds roundSet
	fn     func(ctx context.Context) error
}

// roundSet is a set of rounds, one bit each.
type roundSet uint8

const (
	roundPre roundSet = 1 << iota
	roundDeadline1
	roundCancel
	roundDeadline2
	roundDeadline3
)

// round is one pass over the calls while the fault lasts. Each call must fail with an error for which
// errors.Is(err, want) holds: want is what ctx.Err() is once ctx has ended (for own calls, the
// option's deadline is DeadlineExceeded). The deadline rounds repeat, as the same expired deadline
// can read "context deadline exceeded" on one call and "i/o timeout" on the next (a socket deadline
// that fires before ctx's timer, a dial instead of a pooled connection).
type round struct {
	name string
	set  roundSet
	// cancel: ctx is cancelled this long after the call starts; negative: before it starts.
	cancel time.Duration
	want   error
	// met: a call returning sooner did not wait for the fault (or the cancel).
	met time.Duration
}

// rounds run in this order: the cancelled-before round first, as it sends nothing and leaves every
// call as it was; a call that can run only once (a stalled proxy is stuck after it) runs in the
// first deadline round.
var rounds = []round{
	{name: "cancelled before the call", set: roundPre, cancel: -1, want: context.Canceled},
	{name: "deadline 1", set: roundDeadline1, want: context.DeadlineExceeded, met: deadline / 2},
	{name: "cancelled midway", set: roundCancel, cancel: deadline / 2, want: context.Canceled, met: deadline * 4 / 10},
	{name: "deadline 2", set: roundDeadline2, want: context.DeadlineExceeded, met: deadline / 2},
	{name: "deadline 3", set: roundDeadline3, want: context.DeadlineExceeded, met: deadline / 2},
}

// runsIn reports whether c runs in rd.
func (c call) runsIn(rd round) bool {
	switch {
	case c.rounds != 0:
		return c.rounds&rd.set != 0
	case c.instant:
		return rd.set == roundDeadline1
	case c.noCtx:
		return rd.cancel == 0
	}
	return true
}

// result is what one call did.
type result struct {
	call
	elapsed time.Duration
	err     error
}

// fixture reaches the servers that will stop answering. Its helpers make and warm clients before the
// fault, so that calls find pooled connections that go quiet, as in a server that hangs mid-life.
type fixture struct {
	t           *testing.T
	opts        func() *redis.Options        // a client of the single server
	addr        string                       // the single server's address, as component configs name it
	clusterOpts func() *redis.ClusterOptions // a client of the Redis Cluster
	rttProxy    *faultproxy.Proxy            // a proxy in front of the single server
	delay       *faultproxy.DelayProxy       // a delaying proxy in front of the single server
	dir         string                       // a log directory for ProcessLogs
	direct      string                       // the single server's own address (it holds "big")
	paused      *pausedSet                   // the paused scenario's extra servers; nil otherwise
}

func setupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 20*time.Second)
}

// client returns a client of the single server with a pooled connection.
func (f *fixture) client() *redis.Client {
	f.t.Helper()
	c := f.cold()
	ctx, cancel := setupCtx()
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		f.t.Fatalf("warming a client: %v", err)
	}
	return c
}

// cold returns a client of the single server that has not connected yet: its first call dials.
func (f *fixture) cold() *redis.Client {
	c := redis.NewClient(f.opts())
	f.t.Cleanup(func() { c.Close() })
	return c
}

// clusterClient returns a cluster client that has loaded the slot map, its command table and
// connected to every master.
//
// go-redis v9.23 loads the command table (COMMAND) at a ClusterClient's first keyed command with a
// context of its own (5 s, under a mutex every other caller waits on), ignoring the caller's
// deadline: a client made while the cluster hangs overruns any deadline by up to 5 s, on every
// command until one load succeeds (go-redis issue #2145). Nothing in ria can bound that, so the
// clients here have loaded it, as any client that has served a command has.
func (f *fixture) clusterClient() *redis.ClusterClient {
	f.t.Helper()
	c := redis.NewClusterClient(f.clusterOpts())
	f.t.Cleanup(func() { c.Close() })
	ctx, cancel := setupCtx()
	defer cancel()
	if err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() }); err != nil {
		f.t.Fatalf("warming a cluster client: %v", err)
	}
	if err := c.Get(ctx, "warm").Err(); !errors.Is(err, redis.Nil) {
		f.t.Fatalf("warming a cluster client: %v", err)
	}
	return c
}

// config is a component config naming the single server.
func (f *fixture) config(db int) map[string]any {
	return map[string]any{"addr": f.addr, "db": db}
}

// registry returns a registry whose config server is the single server, with configs stored for
// stored (not yet loaded) and loaded (loaded, their clients connected) components.
func (f *fixture) registry(wait time.Duration, stored, loaded []string) *conn.Registry {
	f.t.Helper()
	reg, err := conn.New(f.client(), &conn.Options{Wait: wait})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { reg.Close() })
	ctx, cancel := setupCtx()
	defer cancel()
	for _, comp := range append(slices.Clone(stored), loaded...) {
		if err := reg.SetConfig(ctx, comp, f.config(0)); err != nil {
			f.t.Fatal(err)
		}
	}
	for _, comp := range loaded {
		if err := reg.Do(ctx, comp, func(c redis.UniversalClient) error { return c.Ping(ctx).Err() }); err != nil {
			f.t.Fatal(err)
		}
	}
	return reg
}

func shardComponents(name string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = shard.ShardComponent(name, i)
	}
	return out
}

// cluster returns an rb-style host set of 4 hosts, all databases of the single server.
func (f *fixture) cluster() *hostset.Hosts {
	f.t.Helper()
	hosts := map[int]map[string]any{}
	for i := range 4 {
		hosts[i] = f.config(i)
	}
	cl, err := hostset.New(&hostset.Options{Hosts: hosts})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { cl.Close() })
	ctx, cancel := setupCtx()
	defer cancel()
	if err := cl.All(ctx, func(_ int, p redis.Pipeliner) error { p.Ping(ctx); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return cl
}

func errOnly[T any](_ T, err error) error { return err }

func countLine(ctx context.Context, p redis.Pipeliner, l logs.Line) error {
	p.Incr(ctx, "bounded:lines")
	return nil
}

// calls lists every exported function of conn, shard, shard/hostset, market, tokens, logs, sync and
// uniquevisits that does I/O, faultproxy's constructors, RTT helpers and changes, and (paused scenario)
// redistest's calls that talk to a server or wait for one and the durable mode's wait for a paused
// replica, each set up against f. checkCoverage holds the list to every exported function taking a
// ctx.
func calls(f *fixture) []call {
	var cs []call
	add := func(name string, fn func(ctx context.Context) error) { cs = append(cs, call{name: name, fn: fn}) }
	own := func(name string, fn func(ctx context.Context) error) {
		cs = append(cs, call{name: name, own: true, fn: fn})
	}
	instant := func(name string, fn func(ctx context.Context) error) {
		cs = append(cs, call{name: name, instant: true, fn: fn})
	}
	in := func(rounds roundSet, name string, fn func(ctx context.Context) error) {
		cs = append(cs, call{name: name, rounds: rounds, fn: fn})
	}
	day := time.Now()
	from := day.AddDate(0, 0, -2)
	sid := func() string { return uuid.NewString() }

	// conn: the config server is the single server, and so are the components.
	{
		reg := f.registry(time.Hour, []string{"a", "b", "c"}, []string{"cached"})
		add("conn.Registry.Acquire (config read)", func(ctx context.Context) error {
			_, release, err := reg.Acquire(ctx, "a")
			if err == nil {
				release()
			}
			return err
		})
		add("conn.Registry.Client (config read)", func(ctx context.Context) error { return errOnly(reg.Client(ctx, "b")) })
		add("conn.Registry.Do (config read)", func(ctx context.Context) error {
			return reg.Do(ctx, "c", func(redis.UniversalClient) error { return nil })
		})
		add("conn.Registry.Do (cached client, PING)", func(ctx context.Context) error {
			return reg.Do(ctx, "cached", func(c redis.UniversalClient) error { return c.Ping(ctx).Err() })
		})
		add("conn.Registry.Refresh", func(ctx context.Context) error { return reg.Refresh(ctx, "cached") })
		add("conn.Registry.SetConfig", func(ctx context.Context) error { return reg.SetConfig(ctx, "d", f.config(1)) })
		add("conn.Registry.StoredComponents", func(ctx context.Context) error { return errOnly(reg.StoredComponents(ctx)) })
		add("conn.Registry.StoredConfig", func(ctx context.Context) error { return errOnly(reg.StoredConfig(ctx, "a")) })
		// On a cluster's config client, StoredComponents scans every master.
		clreg, err := conn.New(f.clusterClient(), &conn.Options{Wait: time.Hour})
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() { clreg.Close() })
		add("conn.Registry.StoredComponents (Redis Cluster)", func(ctx context.Context) error {
			return errOnly(clreg.StoredComponents(ctx))
		})
		instant("conn.Registry.Acquire (cached)", func(ctx context.Context) error {
			_, release, err := reg.Acquire(ctx, "cached")
			if err == nil {
				release()
			}
			return err
		})
		// A registry whose configs are due for a re-read: the cached client is served at once while
		// the refresh waits for the config server in the background.
		due := f.registry(time.Millisecond, nil, []string{"cached"})
		instant("conn.Registry.Acquire (cached, refresh due)", func(ctx context.Context) error {
			_, release, err := due.Acquire(ctx, "cached")
			if err == nil {
				release()
			}
			return err
		})

		// Close cancels background refreshes in flight rather than waiting for them: it returns at once
		// even while a refresh waits for the config server that does not answer.
		creg, err := conn.New(f.client(), &conn.Options{Wait: time.Millisecond, RefreshTimeout: safety})
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() { creg.Close() })
		func() {
			ctx, cancel := setupCtx()
			defer cancel()
			if err := creg.SetConfig(ctx, "cached", f.config(0)); err != nil {
				f.t.Fatal(err)
			}
			if err := creg.Do(ctx, "cached", func(c redis.UniversalClient) error { return c.Ping(ctx).Err() }); err != nil {
				f.t.Fatal(err)
			}
		}()
		instant("conn.Registry.Close (a refresh in flight, cancelled)", func(ctx context.Context) error {
			time.Sleep(2 * time.Millisecond) // past Wait: the Acquire below starts a refresh
			_, release, err := creg.Acquire(ctx, "cached")
			if err != nil {
				return err
			}
			release()
			return creg.Close()
		})

		wreg := f.registry(time.Hour, nil, []string{"w"})
		add("conn.Call (PING)", func(ctx context.Context) error {
			return errOnly(conn.Call(ctx, wreg, "w", func(ctx context.Context, c redis.Cmdable) (string, error) {
				return c.Ping(ctx).Result()
			}))
		})
		add("conn.Wrap (logs.ReadProgress)", func(ctx context.Context) error {
			fn := conn.Wrap(wreg, "w", func(ctx context.Context, c redis.Cmdable) (logs.Progress, error) {
				return logs.ReadProgress(ctx, c, "")
			})
			return errOnly(fn(ctx))
		})
		add("conn.Wrap1 (uniquevisits.Count)", func(ctx context.Context) error {
			return errOnly(conn.Wrap1(wreg, "w", uniquevisits.Count)(ctx, day))
		})
		add("conn.Wrap2 (uniquevisits.CountVisit)", func(ctx context.Context) error {
			return errOnly(conn.Wrap2(wreg, "w", uniquevisits.CountVisit)(ctx, sid(), day))
		})
		add("conn.Wrap3 (tokens.UpdateToken)", func(ctx context.Context) error {
			return errOnly(conn.Wrap3(wreg, "w", tokens.UpdateToken)(ctx, "tok", "user", "item"))
		})
		add("conn.Wrap4 (market.PurchaseItem)", func(ctx context.Context) error {
			return errOnly(conn.Wrap4(wreg, "w", market.PurchaseItem)(ctx, "buyer", "item", "seller", 10))
		})
		add("conn.WrapPair (sync.WaitForSync)", func(ctx context.Context) error {
			return errOnly(conn.WrapPair(wreg, "w", "w", riasync.WaitForSync)(ctx, nil))
		})
	}

	// shard: the book's functions on a client, sharded connections through a registry, and clusters.
	{
		c := f.client()
		add("shard.HGet", func(ctx context.Context) error { return errOnly(shard.HGet(ctx, c, "h:", "42", 1000, 100)) })
		add("shard.HSet", func(ctx context.Context) error { return errOnly(shard.HSet(ctx, c, "h:", "42", "v", 1000, 100)) })
		add("shard.SAdd", func(ctx context.Context) error { return errOnly(shard.SAdd(ctx, c, "s:", "m", 1000, 100)) })
		add("shard.MGet", func(ctx context.Context) error { return errOnly(shard.MGet(ctx, c, "a", "b", "c")) })
		add("shard.Scan", func(ctx context.Context) error {
			return shard.Scan(ctx, c, "*", 10, func(string) error { return nil })
		})
		cc := f.clusterClient()
		add("shard.MGet (Redis Cluster)", func(ctx context.Context) error {
			return errOnly(shard.MGet(ctx, cc, "a", "b", "c", "d", "e"))
		})
		add("shard.Scan (Redis Cluster)", func(ctx context.Context) error {
			return shard.Scan(ctx, cc, "*", 10, func(string) error { return nil })
		})

		sreg := f.registry(time.Hour, shardComponents("cold", 4), shardComponents("s", 4))
		add("shard.Acquire (config read)", func(ctx context.Context) error {
			_, release, err := shard.Acquire(ctx, sreg, "cold", "key", 4)
			if err == nil {
				release()
			}
			return err
		})
		add("shard.Call (PING)", func(ctx context.Context) error {
			return errOnly(shard.Call(ctx, sreg, "s", 4, "key", func(ctx context.Context, c redis.Cmdable) (string, error) {
				return c.Ping(ctx).Result()
			}))
		})
		add("shard.Wrap (GET)", func(ctx context.Context) error {
			return errOnly(shard.Wrap(sreg, "s", 4, func(ctx context.Context, c redis.Cmdable, key string) (string, error) {
				s, err := c.Get(ctx, key).Result()
				if errors.Is(err, redis.Nil) {
					err = nil
				}
				return s, err
			})(ctx, "key"))
		})
		add("shard.Wrap1 (uniquevisits.Expected)", func(ctx context.Context) error {
			fn := shard.Wrap1(sreg, "s", 4, func(ctx context.Context, c redis.Cmdable, _ string, d time.Time) (int64, error) {
				return uniquevisits.Expected(ctx, c, d, 1000)
			})
			return errOnly(fn(ctx, "key", day))
		})
		add("shard.Wrap2 (tokens.UpdateTokenPipeline)", func(ctx context.Context) error {
			return errOnly(shard.Wrap2(sreg, "s", 4, tokens.UpdateTokenPipeline)(ctx, "tok", "user", "item"))
		})
		add("shard.Wrap3 (market.ListItemScript)", func(ctx context.Context) error {
			fn := shard.Wrap3(sreg, "s", 4, func(ctx context.Context, c redis.UniversalClient, item, seller string, price, _ int64) (market.Listing, error) {
				return market.ListItemScript(ctx, c, item, seller, price)
			})
			return errOnly(fn(ctx, "item", "seller", 10, 0))
		})

		cl := f.cluster()
		add("hostset.Hosts.Map", func(ctx context.Context) error {
			return cl.Map(ctx, func(p redis.Pipeliner) error {
				for i := range 20 {
					p.Get(ctx, fmt.Sprint("k", i))
				}
				return nil
			})
		})
		add("hostset.Hosts.Fanout", func(ctx context.Context) error {
			return cl.Fanout(ctx, []int{0, 2}, func(_ int, p redis.Pipeliner) error { p.DBSize(ctx); return nil })
		})
		add("hostset.Hosts.All", func(ctx context.Context) error {
			return cl.All(ctx, func(_ int, p redis.Pipeliner) error { p.Ping(ctx); return nil })
		})
		add("hostset.FanoutCmd", func(ctx context.Context) error {
			return errOnly(hostset.FanoutCmd(ctx, cl, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) }))
		})
		add("hostset.Hosts.Routing().Get", func(ctx context.Context) error { return cl.Routing().Get(ctx, "k1").Err() })
		add("hostset.Hosts.Routing().MGet (split per host)", func(ctx context.Context) error {
			return cl.Routing().MGet(ctx, "k1", "k2", "k3", "k4", "k5").Err()
		})
		instant("hostset.Hosts.Acquire", func(ctx context.Context) error {
			_, release, err := cl.Acquire(ctx, 1)
			if err == nil {
				release()
			}
			return err
		})
		instant("hostset.Hosts.Host", func(ctx context.Context) error { return errOnly(cl.Host(ctx, 2)) })
		instant("hostset.Hosts.ClientForKey", func(ctx context.Context) error {
			_, _, err := cl.ClientForKey(ctx, "k1")
			return err
		})

		rcl, err := hostset.FromRegistry(f.registry(time.Hour, shardComponents("h", 4), nil), "h", 4, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() { rcl.Close() })
		add("hostset.Hosts.Map (registry, config reads)", func(ctx context.Context) error {
			return rcl.Map(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k1"); p.Get(ctx, "k2"); return nil })
		})
		add("hostset.Hosts.Acquire (registry, config read)", func(ctx context.Context) error {
			_, release, err := rcl.Acquire(ctx, 0)
			if err == nil {
				release()
			}
			return err
		})
		add("hostset.Hosts.Host (registry, config read)", func(ctx context.Context) error { return errOnly(rcl.Host(ctx, 1)) })
		add("hostset.Hosts.ClientForKey (registry, config read)", func(ctx context.Context) error {
			_, _, err := rcl.ClientForKey(ctx, "k3")
			return err
		})
		wcl, err := hostset.FromRegistry(f.registry(time.Hour, nil, shardComponents("h", 4)), "h", 4, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() { wcl.Close() })
		add("hostset.Hosts.Map (registry, cached clients)", func(ctx context.Context) error {
			return wcl.Map(ctx, func(p redis.Pipeliner) error { p.Set(ctx, "k1", "v", 0); p.Set(ctx, "k2", "v", 0); return nil })
		})
	}

	// market: both variants, default and own options; the watched one also on a client not yet connected.
	{
		c := f.client()
		w, err := market.NewWatch(&market.Options{ListTimeout: deadline, PurchaseTimeout: deadline})
		if err != nil {
			f.t.Fatal(err)
		}
		add("market.ListItem", func(ctx context.Context) error { return errOnly(market.ListItem(ctx, c, "item", "seller", 10)) })
		add("market.ListItem (client not connected)", func(ctx context.Context) error {
			return errOnly(market.ListItem(ctx, f.cold(), "item", "seller", 10))
		})
		add("market.PurchaseItem", func(ctx context.Context) error {
			return errOnly(market.PurchaseItem(ctx, c, "buyer", "item", "seller", 10))
		})
		add("market.ListItemScript", func(ctx context.Context) error {
			return errOnly(market.ListItemScript(ctx, c, "item", "seller", 10))
		})
		add("market.PurchaseItemScript", func(ctx context.Context) error {
			return errOnly(market.PurchaseItemScript(ctx, c, "buyer", "item", "seller", 10))
		})
		add("market.Watch.ListItem (timeouts 1 s)", func(ctx context.Context) error {
			return errOnly(w.ListItem(ctx, c, "item", "seller", 10))
		})
		add("market.Watch.PurchaseItem (timeouts 1 s)", func(ctx context.Context) error {
			return errOnly(w.PurchaseItem(ctx, c, "buyer", "item", "seller", 10))
		})
		add("market.Script.ListItem", func(ctx context.Context) error {
			return errOnly(market.Script{}.ListItem(ctx, c, "item", "seller", 10))
		})
		add("market.Script.PurchaseItem", func(ctx context.Context) error {
			return errOnly(market.Script{}.PurchaseItem(ctx, c, "buyer", "item", "seller", 10))
		})
		add("market.Cheapest", func(ctx context.Context) error { return errOnly(market.Cheapest(ctx, c, 10)) })
		add("market.User", func(ctx context.Context) error { return errOnly(market.User(ctx, c, "buyer")) })
		add("market.Watch.Cheapest", func(ctx context.Context) error { return errOnly(w.Cheapest(ctx, c, 10)) })
		add("market.Script.User", func(ctx context.Context) error { return errOnly(market.Script{}.User(ctx, c, "buyer")) })
		// The hash-tagged layout on a Redis Cluster: each query's keys are on one master.
		cc := f.clusterClient()
		tagged := &market.Options{HashTag: "m"}
		tw, err := market.NewWatch(tagged)
		if err != nil {
			f.t.Fatal(err)
		}
		ts, err := market.NewScript(tagged)
		if err != nil {
			f.t.Fatal(err)
		}
		add("market.Script.Cheapest (HashTag, Redis Cluster)", func(ctx context.Context) error {
			return errOnly(ts.Cheapest(ctx, cc, 10))
		})
		add("market.Watch.User (HashTag, Redis Cluster)", func(ctx context.Context) error {
			return errOnly(tw.User(ctx, cc, "buyer"))
		})
		var watched, scripted market.Market = w, market.Script{}
		add("market.Market.ListItem (Watch, through the interface)", func(ctx context.Context) error {
			return errOnly(watched.ListItem(ctx, c, "item", "seller", 10))
		})
		add("market.Market.PurchaseItem (Script, through the interface)", func(ctx context.Context) error {
			return errOnly(scripted.PurchaseItem(ctx, c, "buyer", "item", "seller", 10))
		})
	}

	// tokens
	{
		c := f.client()
		u, err := tokens.New(&tokens.Options{Keep: 10})
		if err != nil {
			f.t.Fatal(err)
		}
		add("tokens.UpdateToken", func(ctx context.Context) error { return errOnly(tokens.UpdateToken(ctx, c, "t", "u", "i")) })
		add("tokens.UpdateToken (client not connected)", func(ctx context.Context) error {
			return errOnly(tokens.UpdateToken(ctx, f.cold(), "t", "u", "i"))
		})
		add("tokens.UpdateTokenPipeline", func(ctx context.Context) error {
			return errOnly(tokens.UpdateTokenPipeline(ctx, c, "t", "u", "i"))
		})
		add("tokens.Updater.UpdateToken", func(ctx context.Context) error { return errOnly(u.UpdateToken(ctx, c, "t", "u", "")) })
		add("tokens.Updater.UpdateTokenPipeline", func(ctx context.Context) error {
			return errOnly(u.UpdateTokenPipeline(ctx, c, "t", "u", "i"))
		})
	}

	// logs
	{
		c := f.client()
		cc := f.clusterClient()
		add("logs.ReadProgress", func(ctx context.Context) error { return errOnly(logs.ReadProgress(ctx, c, "")) })
		add("logs.ProcessLogs", func(ctx context.Context) error { return errOnly(logs.ProcessLogs(ctx, c, f.dir, countLine, nil)) })
		add("logs.ProcessLogs (client not connected)", func(ctx context.Context) error {
			return errOnly(logs.ProcessLogs(ctx, f.cold(), f.dir, countLine, nil))
		})
		add("logs.ProcessLogs (Redis Cluster)", func(ctx context.Context) error {
			return errOnly(logs.ProcessLogs(ctx, cc, f.dir, func(ctx context.Context, p redis.Pipeliner, l logs.Line) error {
				p.Incr(ctx, "{l}lines")
				return nil
			}, &logs.Options{Prefix: "{l}progress:"}))
		})
	}

	// Durable mode (paused scenario): the master answers and applies each write, its replica is
	// paused, and Durable.Timeout is off, so only ctx ends the WAITs on the write's connection. Each
	// call makes a write of its own (a new item, token, session or bit).
	if ps := f.paused; ps != nil {
		dc := ps.durable.Master.NewClient()
		f.t.Cleanup(func() { dc.Close() })
		dur := market.Durability{Replicas: 1, Timeout: -1}
		dw, err := market.NewWatch(&market.Options{Durable: dur})
		if err != nil {
			f.t.Fatal(err)
		}
		ds, err := market.NewScript(&market.Options{Durable: dur})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, v := range []struct {
			name string
			m    market.Market
		}{{"Watch", dw}, {"Script", ds}} {
			// Each call writes: a new item to list, a new listing to buy.
			toList := stock(f, dc, "lister"+v.name, false)
			toBuy := stock(f, dc, "seller"+v.name, true)
			buyer := "buyer" + v.name
			func() {
				ctx, cancel := setupCtx()
				defer cancel()
				if err := dc.HSet(ctx, "users:"+buyer, "funds", 100).Err(); err != nil {
					f.t.Fatal(err)
				}
			}()
			add("market."+v.name+".ListItem (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
				return errOnly(v.m.ListItem(ctx, dc, toList(), "lister"+v.name, 1))
			})
			add("market."+v.name+".PurchaseItem (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
				return errOnly(v.m.PurchaseItem(ctx, dc, buyer, toBuy(), "seller"+v.name, 1))
			})
		}
		add("logs.ProcessLogs (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
			// A prefix of its own: each call starts from the first line, so its first batch commits.
			return errOnly(logs.ProcessLogs(ctx, dc, f.dir, countLine, &logs.Options{
				Prefix: "bounded:" + sid() + ":progress:", Durable: logs.Durability{Replicas: 1, Timeout: -1}}))
		})
		du, err := tokens.New(&tokens.Options{Durable: dur})
		if err != nil {
			f.t.Fatal(err)
		}
		add("tokens.Updater.UpdateToken (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
			return errOnly(du.UpdateToken(ctx, dc, sid(), "user", "item"))
		})
		add("tokens.Updater.UpdateTokenPipeline (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
			return errOnly(du.UpdateTokenPipeline(ctx, dc, sid(), "user", "item"))
		})
		dv, err := uniquevisits.NewOnClient(dc, &uniquevisits.Options{Durable: dur})
		if err != nil {
			f.t.Fatal(err)
		}
		add("uniquevisits.Counter.CountVisit (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
			return errOnly(dv.CountVisit(ctx, sid()))
		})
		add("uniquevisits.Counter.CountVisitHLL (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
			return errOnly(dv.CountVisitHLL(ctx, sid()))
		})
		add("uniquevisits.Counter.CountVisits (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
			return errOnly(dv.CountVisits(ctx, []string{sid(), sid()}))
		})
		dbm, err := uniquevisits.NewBitmap(dc, &uniquevisits.BitmapOptions{Durable: dur})
		if err != nil {
			f.t.Fatal(err)
		}
		var user atomic.Int64 // a new bit for each call
		add("uniquevisits.Bitmap.CountVisit (durable, replica paused, Durable.Timeout -1)", func(ctx context.Context) error {
			return errOnly(dbm.CountVisit(ctx, user.Add(1)))
		})
	}

	// sync: every function once with the deadline on ctx and once with Options.Timeout as the deadline.
	{
		c := f.client()
		short := &riasync.Options{Timeout: deadline}
		for _, v := range []struct {
			suffix string
			opt    *riasync.Options
			reg    func(string, func(context.Context) error)
		}{{"", nil, add}, {" (Options.Timeout 1 s)", short, own}} {
			v.reg("sync.WaitForSync"+v.suffix, func(ctx context.Context) error {
				return errOnly(riasync.WaitForSync(ctx, c, c, v.opt))
			})
			v.reg("sync.WaitReplicas"+v.suffix, func(ctx context.Context) error { return errOnly(riasync.WaitReplicas(ctx, c, v.opt)) })
			v.reg("sync.BGSave"+v.suffix, func(ctx context.Context) error { return errOnly(riasync.BGSave(ctx, c, v.opt)) })
			v.reg("sync.EnableAOF"+v.suffix, func(ctx context.Context) error { return errOnly(riasync.EnableAOF(ctx, c, v.opt)) })
			v.reg("sync.Promote"+v.suffix, func(ctx context.Context) error { return errOnly(riasync.Promote(ctx, c, v.opt)) })
			// Never delivered (black hole) or never run (the paused server is killed, not resumed).
			v.reg("sync.ReplicaOf"+v.suffix, func(ctx context.Context) error {
				return errOnly(riasync.ReplicaOf(ctx, c, "127.0.0.1:1", v.opt))
			})
		}
		add("sync.Replication", func(ctx context.Context) error { return errOnly(riasync.Replication(ctx, c)) })
		add("sync.ReadReplication", func(ctx context.Context) error { return errOnly(riasync.ReadReplication(ctx, c)) })
		add("sync.ReadPersistence", func(ctx context.Context) error { return errOnly(riasync.ReadPersistence(ctx, c)) })
	}

	// uniquevisits: the plain functions, a Counter on one client, on a registry, and on a Redis Cluster,
	// and the bitmap variant on one client and on a Redis Cluster.
	{
		c := f.client()
		add("uniquevisits.Count", func(ctx context.Context) error { return errOnly(uniquevisits.Count(ctx, c, day)) })
		add("uniquevisits.CountVisit", func(ctx context.Context) error { return errOnly(uniquevisits.CountVisit(ctx, c, sid(), day)) })
		add("uniquevisits.CountVisitHLL", func(ctx context.Context) error {
			return errOnly(uniquevisits.CountVisitHLL(ctx, c, sid(), day))
		})
		add("uniquevisits.Expected", func(ctx context.Context) error { return errOnly(uniquevisits.Expected(ctx, c, day, 1000)) })
		add("uniquevisits.UniqueHLL", func(ctx context.Context) error { return errOnly(uniquevisits.UniqueHLL(ctx, c, day)) })
		add("uniquevisits.Add", func(ctx context.Context) error { return errOnly(uniquevisits.Add(ctx, c, c, day, 42, 1024, 512)) })
		add("uniquevisits.CountVisits", func(ctx context.Context) error {
			return errOnly(uniquevisits.CountVisits(ctx, c, []string{sid(), sid(), sid()}, day))
		})
		add("uniquevisits.UniqueRange", func(ctx context.Context) error {
			return errOnly(uniquevisits.UniqueRange(ctx, c, from, day, nil))
		})
		add("uniquevisits.UniqueRangeHLL", func(ctx context.Context) error {
			return errOnly(uniquevisits.UniqueRangeHLL(ctx, c, from, day))
		})
		add("uniquevisits.UniqueBitmap", func(ctx context.Context) error { return errOnly(uniquevisits.UniqueBitmap(ctx, c, day)) })
		add("uniquevisits.UniqueRangeBitmap (BITOP in MULTI)", func(ctx context.Context) error {
			return errOnly(uniquevisits.UniqueRangeBitmap(ctx, c, from, day))
		})
		bm, err := uniquevisits.NewBitmap(c, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		add("uniquevisits.Bitmap.CountVisit", func(ctx context.Context) error { return errOnly(bm.CountVisit(ctx, 42)) })
		add("uniquevisits.Bitmap.Count", func(ctx context.Context) error { return errOnly(bm.Count(ctx, day)) })
		add("uniquevisits.Bitmap.CountRange", func(ctx context.Context) error { return errOnly(bm.CountRange(ctx, from, day)) })

		one, err := uniquevisits.NewOnClient(c, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		add("uniquevisits.Counter.CountVisit (one client)", func(ctx context.Context) error { return errOnly(one.CountVisit(ctx, sid())) })
		add("uniquevisits.Counter.CountVisitHLL (one client)", func(ctx context.Context) error {
			return errOnly(one.CountVisitHLL(ctx, sid()))
		})
		add("uniquevisits.Counter.Count (one client)", func(ctx context.Context) error { return errOnly(one.Count(ctx, day)) })
		add("uniquevisits.Counter.Expected (one client)", func(ctx context.Context) error { return errOnly(one.Expected(ctx, day)) })
		add("uniquevisits.Counter.Recount (one client)", func(ctx context.Context) error { return errOnly(one.Recount(ctx, day)) })
		add("uniquevisits.Counter.UniqueHLL (one client)", func(ctx context.Context) error { return errOnly(one.UniqueHLL(ctx, day)) })
		add("uniquevisits.Counter.CountVisits (one client)", func(ctx context.Context) error {
			return errOnly(one.CountVisits(ctx, []string{sid(), sid()}))
		})
		add("uniquevisits.Counter.RecountEach (one client)", func(ctx context.Context) error {
			return errOnly(one.RecountEach(ctx, day, func(uniquevisits.ShardCount) {}))
		})
		add("uniquevisits.Counter.UniqueRange (one client)", func(ctx context.Context) error {
			return errOnly(one.UniqueRange(ctx, from, day, nil))
		})
		add("uniquevisits.Counter.UniqueRangeHLL (one client)", func(ctx context.Context) error {
			return errOnly(one.UniqueRangeHLL(ctx, from, day))
		})

		ureg := f.registry(time.Hour, nil, append(shardComponents("unique", 4), "unique"))
		sharded, err := uniquevisits.New(ureg, &uniquevisits.Options{Shards: 4})
		if err != nil {
			f.t.Fatal(err)
		}
		add("uniquevisits.Counter.CountVisit (registry)", func(ctx context.Context) error {
			return errOnly(sharded.CountVisit(ctx, sid()))
		})
		add("uniquevisits.Counter.Recount (registry)", func(ctx context.Context) error { return errOnly(sharded.Recount(ctx, day)) })
		add("uniquevisits.Counter.Count (registry)", func(ctx context.Context) error { return errOnly(sharded.Count(ctx, day)) })
		add("uniquevisits.Counter.CountVisits (registry)", func(ctx context.Context) error {
			return errOnly(sharded.CountVisits(ctx, []string{sid(), sid(), sid(), sid()}))
		})
		add("uniquevisits.Counter.RecountEach (registry)", func(ctx context.Context) error {
			return errOnly(sharded.RecountEach(ctx, day, func(uniquevisits.ShardCount) {}))
		})
		add("uniquevisits.Counter.UniqueRange (registry)", func(ctx context.Context) error {
			return errOnly(sharded.UniqueRange(ctx, from, day, nil))
		})
		add("uniquevisits.Counter.UniqueRangeHLL (registry)", func(ctx context.Context) error {
			return errOnly(sharded.UniqueRangeHLL(ctx, from, day))
		})

		ccl := f.clusterClient()
		onCluster, err := uniquevisits.NewOnClient(ccl, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		add("uniquevisits.Counter.CountVisit (Redis Cluster)", func(ctx context.Context) error {
			return errOnly(onCluster.CountVisit(ctx, sid()))
		})
		add("uniquevisits.Counter.Recount (Redis Cluster)", func(ctx context.Context) error {
			return errOnly(onCluster.Recount(ctx, day))
		})
		add("uniquevisits.Counter.CountVisits (Redis Cluster)", func(ctx context.Context) error {
			return errOnly(onCluster.CountVisits(ctx, []string{sid(), sid(), sid()}))
		})
		add("uniquevisits.Counter.UniqueRangeHLL (Redis Cluster, copies in MULTI)", func(ctx context.Context) error {
			return errOnly(onCluster.UniqueRangeHLL(ctx, from, day))
		})
		add("uniquevisits.UniqueRangeBitmap (Redis Cluster, GETRANGE per day)", func(ctx context.Context) error {
			return errOnly(uniquevisits.UniqueRangeBitmap(ctx, ccl, from, day))
		})
		cbm, err := uniquevisits.NewBitmap(ccl, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		add("uniquevisits.Bitmap.CountVisit (Redis Cluster)", func(ctx context.Context) error { return errOnly(cbm.CountVisit(ctx, 7)) })
	}

	// faultproxy's own I/O helpers.
	{
		base := f.opts()
		add("faultproxy.MeasureRTT", func(ctx context.Context) error { return errOnly(faultproxy.MeasureRTT(ctx, base, 5)) })
		add("faultproxy.Proxy.RTT", func(ctx context.Context) error { return errOnly(f.rttProxy.RTT(ctx, base, 5)) })
		add("faultproxy.DelayProxy.RTT", func(ctx context.Context) error { return errOnly(f.delay.RTT(ctx, base, 5)) })
	}

	// faultproxy's changes. In front of the server that does not answer, with a connection open, they
	// need nothing from it and succeed at once. On a link whose data cannot move, Toxiproxy deadlocks:
	// they must give up at their deadline.
	{
		up := f.opts().Addr // through the black hole, or the paused server itself
		held := func() *faultproxy.Proxy {
			p := faultproxy.StartT(f.t, up)
			c := redis.NewClient(p.ClientOptions(f.opts()))
			f.t.Cleanup(func() { c.Close() })
			ctx, cancel := setupCtx()
			defer cancel()
			if err := c.Ping(ctx).Err(); err != nil {
				f.t.Fatalf("warming a client through a proxy: %v", err)
			}
			return p // with a pooled connection that goes quiet when the fault starts
		}
		lat, all, dis, cls := held(), held(), held(), held()
		instant("faultproxy.Proxy.Latency + faultproxy.Toxic.Remove", func(ctx context.Context) error {
			tx, err := lat.Latency(faultproxy.Both, 5*time.Millisecond, 0)
			if err != nil {
				return err
			}
			return tx.Remove(ctx)
		})
		instant("faultproxy.Proxy.BlackHole + faultproxy.Proxy.RemoveAll", func(ctx context.Context) error {
			if _, err := all.BlackHole(faultproxy.Both); err != nil {
				return err
			}
			return all.RemoveAll(ctx)
		})
		instant("faultproxy.Proxy.Disable + faultproxy.Proxy.Enable", func(ctx context.Context) error {
			if err := dis.Disable(); err != nil {
				return err
			}
			return dis.Enable()
		})
		instant("faultproxy.Proxy.Close", func(ctx context.Context) error { return cls.Close() })
		dp := faultproxy.StartDelayT(f.t, up, 50*time.Microsecond)
		dc := redis.NewClient(dp.ClientOptions(f.opts()))
		f.t.Cleanup(func() { dc.Close() })
		func() {
			ctx, cancel := setupCtx()
			defer cancel()
			if err := dc.Ping(ctx).Err(); err != nil {
				f.t.Fatal(err)
			}
		}()
		instant("faultproxy.DelayProxy.SetDelay + faultproxy.DelayProxy.Close", func(ctx context.Context) error {
			if err := dp.SetDelay(time.Hour); err != nil {
				return err
			}
			return dp.Close()
		})

		// A stalled proxy is stuck after one change that gave up, and refuses the next at once: one
		// proxy per round that meets the stall (cancelled before, the change never starts). Their
		// error comes from one select on ctx, so they need no repeating.
		links := stalled(f, 5)
		for i, rs := range []roundSet{roundPre | roundDeadline1, roundCancel} {
			rm, rp := links[2*i].tx, links[2*i+1].p
			in(rs, "faultproxy.Toxic.Remove (stalled link)", func(ctx context.Context) error { return rm.Remove(ctx) })
			in(rs, "faultproxy.Proxy.RemoveAll (stalled link)", func(ctx context.Context) error { return rp.RemoveAll(ctx) })
		}
		addp := links[4].p
		// Its own timer starts when the call does, after the round's clock, and it returns from the
		// timer's goroutine wake-up: seven tenths of the deadline keeps a scheduling delay on a loaded
		// machine (a quarter second was seen) from reading as an overrun, and is still past rd.met.
		addp.SetTimeout(deadline * 7 / 10)
		cs = append(cs, call{name: "faultproxy.Proxy.Latency (stalled link, SetTimeout 0.7 s)", own: true, noCtx: true,
			rounds: roundDeadline1, fn: func(context.Context) error {
				return errOnly(addp.Latency(faultproxy.Both, time.Millisecond, 0))
			}})

		// Start and StartDelay look an upstream's name up, to check it is a loopback address: the
		// resolver here asks a DNS server that never answers (see TestMain).
		add("faultproxy.Start (upstream by name, DNS does not answer)", func(ctx context.Context) error {
			p, err := faultproxy.Start(ctx, unanswered+":6379")
			if err == nil {
				p.Close()
			}
			return err
		})
		add("faultproxy.StartDelay (upstream by name, DNS does not answer)", func(ctx context.Context) error {
			p, err := faultproxy.StartDelay(ctx, unanswered+":6379", time.Millisecond)
			if err == nil {
				p.Close()
			}
			return err
		})
	}

	// redistest: the paused scenario only, as redistest talks to its servers directly, not through
	// the black hole. Run and the topologies start a redis-server that never answers (a script that
	// sleeps); Restart restarts one that answered the first time only.
	if ps := f.paused; ps != nil {
		cl := ps.cluster
		add("redistest.Cluster.Masters", func(ctx context.Context) error { return errOnly(cl.Masters(ctx)) })
		add("redistest.Cluster.Replicas", func(ctx context.Context) error { return errOnly(cl.Replicas(ctx)) })
		add("redistest.Cluster.NodeForKey", func(ctx context.Context) error { return errOnly(cl.NodeForKey(ctx, "k")) })
		add("redistest.Cluster.MoveEnds", func(ctx context.Context) error { _, _, err := cl.MoveEnds(ctx, "k"); return err })
		add("redistest.Cluster.WaitHealthy", func(ctx context.Context) error { return cl.WaitHealthy(ctx) })
		add("redistest.Cluster.WaitIdle", func(ctx context.Context) error { return cl.WaitIdle(ctx) })
		add("redistest.Cluster.ReplicaOf", func(ctx context.Context) error { return errOnly(cl.ReplicaOf(ctx, cl.Nodes[0])) })
		// Each asks the paused nodes before it changes anything: nothing moves, nothing is killed.
		add("redistest.Cluster.MoveSlot", func(ctx context.Context) error { return cl.MoveSlot(ctx, 0, cl.Nodes[1], nil) })
		add("redistest.Cluster.KillMaster", func(ctx context.Context) error { return errOnly(cl.KillMaster(ctx, cl.Nodes[0])) })
		g := ps.group
		add("redistest.SentinelGroup.Master", func(ctx context.Context) error { return errOnly(g.Master(ctx)) })
		add("redistest.SentinelGroup.Settle", func(ctx context.Context) error { return errOnly(g.Settle(ctx)) })
		add("redistest.SentinelGroup.Failover (Sentinel paused)", func(ctx context.Context) error {
			return errOnly(g.Failover(ctx, redistest.FaultKill))
		})
		add("redistest.WaitLinkUp", func(ctx context.Context) error { return redistest.WaitLinkUp(ctx, ps.repl.Replica) })
		add("redistest.SentinelMaster", func(ctx context.Context) error {
			return errOnly(redistest.SentinelMaster(ctx, ps.sentinel, "mymaster"))
		})
		add("redistest.RunSentinel (master paused)", func(ctx context.Context) error {
			s, err := redistest.RunSentinel(ctx, ps.repl.Master, nil)
			if err == nil {
				s.Close()
			}
			return err
		})
		hang := &redistest.Options{Executable: ps.hang}
		add("redistest.Run (server never answers)", func(ctx context.Context) error {
			s, err := redistest.Run(ctx, hang)
			if err == nil {
				s.Close()
			}
			return err
		})
		add("redistest.RunShards (servers never answer)", func(ctx context.Context) error {
			g, err := redistest.RunShards(ctx, 2, hang)
			if err == nil {
				g.Close()
			}
			return err
		})
		add("redistest.RunReplicated (servers never answer)", func(ctx context.Context) error {
			r, err := redistest.RunReplicated(ctx, hang)
			if err == nil {
				r.Close()
			}
			return err
		})
		add("redistest.RunSentinelGroup (servers never answer)", func(ctx context.Context) error {
			g, err := redistest.RunSentinelGroup(ctx, &redistest.SentinelGroupOptions{Replicas: 1, Server: *hang})
			if err == nil {
				g.Close()
			}
			return err
		})
		add("redistest.RunCluster (servers never answer)", func(ctx context.Context) error {
			c, err := redistest.RunCluster(ctx, &redistest.ClusterOptions{Masters: 1, ReplicasPerMaster: -1, Server: *hang})
			if err == nil {
				c.Close()
			}
			return err
		})
		add("redistest.Server.Restart (restart never answers)", func(ctx context.Context) error {
			return ps.restart.Restart(ctx)
		})
		// No ctx: they need nothing from the server, and a paused one dies or stops at once.
		instant("redistest.Server.Kill (paused)", func(context.Context) error { return ps.kill.Kill() })
		instant("redistest.Server.Stop (paused)", func(context.Context) error { return ps.stop.Stop() })
		instant("redistest.Server.Close (paused)", func(context.Context) error { return ps.close.Close() })
	}
	return cs
}

// stock puts one item per round in seller's inventory (listed at price 1 when listed), and returns
// a function that hands out a different one at each call.
func stock(f *fixture, c *redis.Client, seller string, listed bool) func() string {
	f.t.Helper()
	ctx, cancel := setupCtx()
	defer cancel()
	items := make([]string, len(rounds))
	for i := range items {
		items[i] = fmt.Sprint("item", i)
		if err := c.SAdd(ctx, "inventory:"+seller, items[i]).Err(); err != nil {
			f.t.Fatal(err)
		}
		if listed {
			if _, err := market.ListItem(ctx, c, items[i], seller, 1); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	var next atomic.Int64
	// A call runs at most once per round: the modulo never wraps.
	return func() string { return items[int(next.Add(1)-1)%len(items)] }
}

// stalledLink is a proxy whose downstream link cannot move, and the latency toxic on it.
type stalledLink struct {
	p  *faultproxy.Proxy
	tx faultproxy.Toxic
}

// stalled returns n proxies in front of the single server whose downstream links cannot move: on
// each, a client asked for two 32 MB replies through a latency toxic and reads none, so the toxic is
// blocked handing data to a writer blocked on a full socket. Changing the toxics then deadlocks
// inside Toxiproxy. The links stall side by side: the wait is that of one.
func stalled(f *fixture, n int) []stalledLink {
	f.t.Helper()
	links := make([]stalledLink, n)
	names := make([]string, n)
	for i := range links {
		p := faultproxy.StartT(f.t, f.direct)
		tx, err := p.Latency(faultproxy.Downstream, time.Millisecond, 0)
		if err != nil {
			f.t.Fatal(err)
		}
		raw, err := net.Dial("tcp", p.Addr())
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() { raw.Close() })
		names[i] = "stalled-" + uuid.NewString()[:8]
		if _, err := fmt.Fprintf(raw, "CLIENT SETNAME %s\r\nGET big\r\nGET big\r\n", names[i]); err != nil {
			f.t.Fatal(err)
		}
		links[i] = stalledLink{p, tx}
	}
	// The server keeps what it cannot send in the client's output buffer: once that stays the same,
	// non-empty, nothing moves along the chain behind it.
	direct := redis.NewClient(&redis.Options{Addr: f.direct})
	defer direct.Close()
	ctx, cancel := setupCtx()
	defer cancel()
	last := make([]string, n)
	same := make([]int, n)
	for slices.Min(same) < 10 {
		list, err := direct.ClientList(ctx).Result()
		if err != nil {
			f.t.Fatalf("waiting for a stalled link: %v", err)
		}
		for i, name := range names {
			omem := ""
			for _, line := range strings.Split(list, "\n") {
				if strings.Contains(line, "name="+name+" ") {
					for _, fl := range strings.Fields(line) {
						if strings.HasPrefix(fl, "omem=") {
							omem = fl
						}
					}
				}
			}
			if omem != "" && omem != "omem=0" && omem == last[i] {
				same[i]++
			} else {
				same[i] = 0
			}
			last[i] = omem
		}
		time.Sleep(50 * time.Millisecond)
	}
	return links
}

// pausedSet is what the paused scenario adds for redistest's calls: a cluster, a replicated pair
// with a Sentinel and a Sentinel group (all paused), servers to kill, stop and close while paused, a
// server whose restart never answers, and a redis-server stand-in that never answers; and for the
// durable mode, a replicated pair whose replica only is paused.
type pausedSet struct {
	cluster                    *redistest.Cluster
	repl                       *redistest.Replicated
	sentinel                   *redistest.Server
	group                      *redistest.SentinelGroup
	kill, stop, close, restart *redistest.Server
	hang                       string
	durable                    *redistest.Replicated
}

func startPausedSet(t *testing.T, cluster *redistest.Cluster) *pausedSet {
	t.Helper()
	bin, err := exec.LookPath(cmp.Or(os.Getenv("RIA_REDIS_SERVER"), "redis-server"))
	if err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang")
	once := filepath.Join(dir, "once")
	scripts := map[string]string{
		// This test binary, as a server that binds its port and never answers (see hangServer).
		hang: fmt.Sprintf("#!/bin/sh\nexport %s=1\nexec %q \"$@\"\n", hangEnv, self),
		// The first start is a real server; every later one never answers.
		once: fmt.Sprintf("#!/bin/sh\nif [ -e \"$0.started\" ]; then exec %q \"$@\"; fi\n: > \"$0.started\"\nexec %q \"$@\"\n", hang, bin),
	}
	for path, body := range scripts {
		if err := os.WriteFile(path, []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ps := &pausedSet{
		cluster: cluster,
		repl:    redistest.RunReplicatedT(t, nil),
		kill:    redistest.RunT(t, nil),
		stop:    redistest.RunT(t, nil),
		close:   redistest.RunT(t, nil),
		restart: redistest.RunT(t, &redistest.Options{Executable: once}),
		hang:    hang,
		group:   redistest.RunSentinelGroupT(t, &redistest.SentinelGroupOptions{Replicas: 1}),
		durable: redistest.RunReplicatedT(t, nil),
	}
	ps.sentinel = redistest.RunSentinelT(t, ps.repl.Master, nil)
	return ps
}

// servers lists the servers to pause: all but the durable pair's master, which keeps answering.
func (ps *pausedSet) servers() []*redistest.Server {
	return append([]*redistest.Server{ps.repl.Master, ps.repl.Replica, ps.sentinel, ps.kill, ps.stop, ps.close,
		ps.group.Sentinel, ps.durable.Replica}, ps.group.Servers...)
}

// measure runs the calls of rd at once while the fault lasts and returns how long each took.
func measure(cs []call, rd round) []result {
	var run []call
	for _, c := range cs {
		if c.runsIn(rd) {
			run = append(run, c)
		}
	}
	out := make([]result, len(run))
	var wg sync.WaitGroup
	for i, c := range run {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := deadline
			if c.own {
				d = safety
			}
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			switch {
			case rd.cancel < 0:
				cancel()
			case rd.cancel > 0:
				defer time.AfterFunc(rd.cancel, cancel).Stop()
			}
			start := time.Now()
			err := c.fn(ctx)
			out[i] = result{call: c, elapsed: time.Since(start), err: err}
		}()
	}
	wg.Wait()
	return out
}

// check fails the test for each call that overran, that did not meet the fault as expected (a quick
// error means the call never waited on the server: the setup is wrong), or whose error does not
// match the ended ctx's. It returns the calls of the last kind, with their errors.
func check(t *testing.T, scenario string, rd round, rs []result) (notCtx map[string]string) {
	t.Helper()
	notCtx = map[string]string{}
	slices.SortFunc(rs, func(a, b result) int { return strings.Compare(a.name, b.name) })
	var table strings.Builder
	var worst result
	prompt := 0 // cancelled midway, returned soon after the cancel
	for _, r := range rs {
		var verdicts []string
		fail := func(verdict, format string, args ...any) {
			verdicts = append(verdicts, verdict)
			t.Errorf("%s, %s: %s "+format, append([]any{scenario, rd.name, r.name}, args...)...)
		}
		switch {
		case r.elapsed > deadline+margin:
			fail("OVERRAN", "returned after %v, over the deadline %v + 10%%: %v", r.elapsed, deadline, r.err)
		// Nine tenths: all of a round's calls start together, so on a loaded machine a call that needs
		// nothing can still wait for a core; one that waited for the server would take its deadline.
		case r.instant && (r.err != nil || r.elapsed > deadline*9/10):
			fail("FAILED", "should succeed at once without the server: %v after %v", r.err, r.elapsed)
		case !r.instant && r.err == nil:
			fail("FAILED", "succeeded while the server did not answer")
		case !r.instant && r.elapsed < rd.met:
			fail("FAILED", "failed after only %v, before meeting the fault: %v", r.elapsed, r.err)
		}
		if !r.instant && r.err != nil && !errors.Is(r.err, rd.want) { // failed in runRounds, once per call
			verdicts = append(verdicts, "NOT-CTX")
			notCtx[r.name] = r.err.Error()
		}
		if rd.cancel > 0 && r.elapsed < rd.cancel+margin {
			prompt++
		}
		if r.elapsed > worst.elapsed {
			worst = r
		}
		verdict := "ok"
		if len(verdicts) > 0 {
			verdict = strings.Join(verdicts, ",")
		} else if rd.set != roundDeadline1 {
			continue // the first deadline round lists every call; the others only their failures
		}
		errText := "<nil>"
		if r.err != nil {
			errText = r.err.Error()
			if len(errText) > 110 {
				errText = errText[:110] + "..."
			}
		}
		fmt.Fprintf(&table, "  %-64s %8.1f ms  %-7s %s\n", r.name, float64(r.elapsed.Microseconds())/1000, verdict, errText)
	}
	note := ""
	if rd.cancel > 0 {
		// go-redis does not interrupt a read when ctx is cancelled, only at a deadline: most calls
		// return at theirs, with ctx's error.
		note = fmt.Sprintf(", %d returned within 10%% of the cancel", prompt)
	}
	t.Logf("%s, %s: %d calls, deadline %v, bound %v, slowest %v (%s)%s\n%s", scenario, rd.name, len(rs), deadline,
		deadline+margin, worst.elapsed, worst.name, note, table.String())
	return notCtx
}

// runRounds runs every round over cs and logs, at the end, the calls whose error did not match
// ctx's, with the rounds it happened in.
func runRounds(t *testing.T, scenario string, cs []call) {
	t.Helper()
	type miss struct {
		rounds []string
		err    string
	}
	misses := map[string]*miss{}
	for _, rd := range rounds {
		for name, err := range check(t, scenario, rd, measure(cs, rd)) {
			m := misses[name]
			if m == nil {
				m = &miss{err: err}
				misses[name] = m
			}
			m.rounds = append(m.rounds, rd.name)
		}
	}
	if len(misses) == 0 {
		return
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(misses)) {
		m := misses[name]
		fmt.Fprintf(&b, "  %s [%s]: %s\n", name, strings.Join(m.rounds, "; "), m.err)
	}
	t.Errorf("%s: %d calls returned an error for which errors.Is(err, ctx.Err()) is false (DeadlineExceeded in the deadline rounds, Canceled in the others):\n%s",
		scenario, len(misses), b.String())
}

// servers are shared by the two scenarios: the single server and a 3-master Redis Cluster.
type servers struct {
	single  *redistest.Server
	cluster *redistest.Cluster
	dir     string
}

func startServers(t *testing.T) *servers {
	t.Helper()
	s := &servers{
		single:  redistest.RunT(t, nil),
		cluster: redistest.RunClusterT(t, &redistest.ClusterOptions{Masters: 3, ReplicasPerMaster: -1}),
		dir:     t.TempDir(),
	}
	// A value big enough that two replies of it fill every buffer between the server and a client
	// that does not read (see stalled).
	ctx, cancel := setupCtx()
	defer cancel()
	c := s.single.NewClient()
	defer c.Close()
	if err := c.Set(ctx, "big", strings.Repeat("x", 32<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for i := range 50 {
		fmt.Fprintf(&lines, "line %d\n", i)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "a.log"), []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBoundedCalls calls every public function that does I/O while the server does not answer, in
// two ways: a black hole (a proxy that keeps connections open and drops all data, both ways) and a
// paused server (SIGSTOP). Each call has a 1 s deadline, on ctx or on its own timeout option, and
// must return within 1.1 s, with an error that matches ctx's (context.DeadlineExceeded, or
// context.Canceled when ctx is cancelled before or during the call), in every round (see rounds).
// The calls of a round run in parallel, so the test takes seconds. Its last subtest checks that
// every exported function taking a ctx has a case.
func TestBoundedCalls(t *testing.T) {
	s := startServers(t)
	var named []string // every case's name, of both scenarios
	t.Run("blackhole", func(t *testing.T) {
		p := faultproxy.StartT(t, s.single.Addr())
		// One proxy per cluster node; the cluster client dials the nodes' proxies instead of the nodes.
		via := map[string]string{}
		var nodeProxies []*faultproxy.Proxy
		for _, n := range s.cluster.Nodes {
			np := faultproxy.StartT(t, n.Addr())
			via[n.Addr()] = np.Addr()
			nodeProxies = append(nodeProxies, np)
		}
		f := &fixture{
			t:    t,
			opts: func() *redis.Options { return p.ClientOptions(s.single.Options()) },
			addr: p.Addr(),
			clusterOpts: func() *redis.ClusterOptions {
				o := s.cluster.ClusterOptions()
				d := net.Dialer{}
				o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
					if pa, ok := via[addr]; ok {
						addr = pa
					} else {
						return nil, fmt.Errorf("no proxy for cluster node %s", addr)
					}
					return d.DialContext(ctx, network, addr)
				}
				return o
			},
			rttProxy: p,
			delay:    faultproxy.StartDelayT(t, p.Addr(), 50*time.Microsecond),
			dir:      s.dir,
			direct:   s.single.Addr(),
		}
		setup := time.Now()
		cs := calls(f)
		t.Logf("black hole: %d calls set up in %v", len(cs), time.Since(setup))
		named = append(named, names(cs)...)
		var holes []faultproxy.Toxic
		for _, px := range append([]*faultproxy.Proxy{p}, nodeProxies...) {
			h, err := px.BlackHole(faultproxy.Both)
			if err != nil {
				t.Fatal(err)
			}
			holes = append(holes, h)
		}
		runRounds(t, "black hole", cs)
		rmCtx, rmCancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer rmCancel()
		for _, h := range holes {
			if err := h.Remove(rmCtx); err != nil {
				t.Errorf("remove a black hole: %v", err)
			}
		}
	})
	t.Run("paused", func(t *testing.T) {
		f := &fixture{
			t:           t,
			opts:        s.single.Options,
			addr:        s.single.Addr(),
			clusterOpts: s.cluster.ClusterOptions,
			rttProxy:    faultproxy.StartT(t, s.single.Addr()),
			delay:       faultproxy.StartDelayT(t, s.single.Addr(), 50*time.Microsecond),
			dir:         s.dir,
			direct:      s.single.Addr(),
			paused:      startPausedSet(t, s.cluster),
		}
		setup := time.Now()
		cs := calls(f)
		t.Logf("paused server: %d calls set up in %v", len(cs), time.Since(setup))
		named = append(named, names(cs)...)
		paused := append(append([]*redistest.Server{s.single}, s.cluster.Nodes...), f.paused.servers()...)
		for _, srv := range paused {
			if err := srv.Pause(); err != nil {
				t.Fatal(err)
			}
		}
		// The servers stay paused: resumed, they would run the commands queued meanwhile (REPLICAOF
		// among them). They are killed when the test ends.
		runRounds(t, "paused server", cs)
	})
	t.Run("coverage", func(t *testing.T) { checkCoverage(t, named) })
}
