package market_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/faulttest"
	"github.com/ria-go/ria/internal/faulttest/cluster"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// The market on a Redis Cluster (tagged layout, durable mode) while its slot moves between masters
// and the master that serves it is killed.
const (
	reshardOpTimeout = 500 * time.Millisecond
	reshardShortOps  = 1500   // per variant
	reshardSoakOps   = 50_000 // per variant with RIA_SOAK=1
)

// TestReshardMarket runs each variant (watch, script) through a ClusterClient, every user at once,
// while the slot of its hash tag is moved to another master (MIGRATE batches of 2 keys, so calls
// meet ASK and TRYAGAIN) and the master serving it is killed, then audits the data against the
// ledger of what every call reported (auditLedger). Writes are acknowledged only once the replica
// has them (Durable.Replicas 1), so a kill may lose only calls reported unknown or not durable.
// Short form: 2 moves and 1 kill per variant, about 15 s for both under -race. The soak:
//
//	RIA_SOAK=1 go test -timeout 1h -run TestReshardMarket -v ./internal/faulttest/market/
func TestReshardMarket(t *testing.T) {
	target, plan := int64(reshardShortOps), cluster.Plan{Moves: 2, Kills: 1, Gap: 300 * time.Millisecond}
	if n, ok := faulttest.Ops(t); ok {
		target, plan = n, cluster.Plan{Moves: 8, Kills: 4, Gap: time.Second}
	} else if faulttest.Soak(t) {
		target, plan = reshardSoakOps, cluster.Plan{Moves: 8, Kills: 4, Gap: time.Second}
	}
	plan.Move = redistest.MoveOptions{Batch: 2, Pause: 20 * time.Millisecond}
	c := redistest.RunClusterT(t, &redistest.ClusterOptions{NodeTimeout: time.Second})
	for _, tc := range []struct {
		tag string
		v   variant
	}{{"w", watch}, {"s", script}} {
		t.Run(tc.v.String(), func(t *testing.T) { reshardMarket(t, c, tc.v, tc.tag, target, plan) })
	}
}

// reshardKeys are the book's keys behind one hash tag.
type reshardKeys string // "{tag}"

func (p reshardKeys) inventory(u int) string { return string(p) + "inventory:" + userID(u) }
func (p reshardKeys) user(u int) string      { return string(p) + "users:" + userID(u) }
func (p reshardKeys) market() string         { return string(p) + "market:" }

func reshardMarket(t *testing.T, c *redistest.Cluster, v variant, tag string, target int64, plan cluster.Plan) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	opt := market.Options{HashTag: tag, Durable: market.Durability{Replicas: 1, Timeout: 250 * time.Millisecond}}
	var mk market.Market
	var err error
	if v == watch {
		mk, err = market.NewWatch(&opt)
	} else {
		mk, err = market.NewScript(&opt)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys := reshardKeys("{" + tag + "}")
	reshardSeed(ctx, t, c, keys)

	var red redistest.Redirects
	cl := c.NewClientWith(red.Count)
	defer cl.Close()

	plan.Slots = []int{shard.Slot(keys.market())}
	plan.Clients = []*redis.ClusterClient{cl}
	sched := cluster.Start(ctx, c, plan)
	now := func() int64 { return int64(sched.Since()) }
	var ops atomic.Int64
	var prices atomic.Int64
	stop := func() bool {
		select {
		case <-sched.Done():
			return ops.Load() >= target || ctx.Err() != nil
		default:
			return ctx.Err() != nil
		}
	}
	workers := make([]*reshardWorker, users)
	runUntil(users, func(u int) {
		k := &reshardWorker{t: t, mk: mk, cl: cl, keys: keys, u: u, v: v, now: now, ops: &ops, prices: &prices,
			rng: rand.New(rand.NewPCG(uint64(u), uint64(v)+7))}
		workers[u] = k
		k.run(stop)
	})
	elapsed := sched.Since()
	rep := sched.End(ctx, t, c, &red, cl)

	var all []*op
	for _, k := range workers {
		all = append(all, k.done...)
	}
	st, good := readTaggedState(ctx, t, c, keys)
	if !good {
		t.FailNow()
	}
	var eps []episode
	for _, e := range rep.Episodes {
		name := "slot move"
		if e.Kill {
			name = "master kill"
		}
		eps = append(eps, episode{name, int64(e.From), int64(e.To)})
	}
	audit := auditLedger(t, all, st, eps)
	t.Logf("%d operations in %v; %v; redirections: %v", len(all), elapsed.Round(time.Millisecond), rep, &red)
	t.Log(audit)

	if int64(len(all)) < target {
		t.Errorf("%d operations; want at least %d", len(all), target)
	}
	if audit.classes[ok] == 0 || audit.listed == 0 || audit.sold == 0 {
		t.Errorf("the run did no business: %v", audit)
	}
}

// reshardSeed writes the users and their inventories on the slot's master, and waits until its
// replica has them: they must survive the first kill.
func reshardSeed(ctx context.Context, t *testing.T, c *redistest.Cluster, keys reshardKeys) {
	t.Helper()
	n, err := c.NodeForKey(ctx, keys.market())
	if err != nil {
		t.Fatal(err)
	}
	o := n.Options()
	o.PoolSize = 1 // WAIT covers the writes of its own connection
	nc := redis.NewClient(o)
	defer nc.Close()
	for u := range users {
		var inv []any
		for i := u * itemsPerUser; i < (u+1)*itemsPerUser; i++ {
			inv = append(inv, itemID(i))
		}
		if err := nc.HSet(ctx, keys.user(u), "name", "user "+strconv.Itoa(u), "funds", startFunds(u)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := nc.SAdd(ctx, keys.inventory(u), inv...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := nc.Wait(ctx, 1, 10*time.Second).Result(); err != nil || got < 1 {
		t.Fatalf("WAIT after the seed: %d replicas, %v", got, err)
	}
}

// readTaggedState copies the keys of the tag's slot into a miniredis with the tag taken off, so
// readState audits them as the book's layout (a key of the slot without the tag stays as it is,
// and readState reports it).
func readTaggedState(ctx context.Context, t *testing.T, c *redistest.Cluster, keys reshardKeys) (state, bool) {
	t.Helper()
	n, err := c.NodeForKey(ctx, keys.market())
	if err != nil {
		t.Fatal(err)
	}
	nc := n.Client(t)
	names, err := nc.ClusterGetKeysInSlot(ctx, shard.Slot(keys.market()), 10_000).Result()
	if err != nil {
		t.Fatal(err)
	}
	mc := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	defer mc.Close()
	for _, k := range names {
		to := strings.TrimPrefix(k, string(keys))
		var err error
		switch typ := nc.Type(ctx, k).Val(); typ {
		case "hash":
			err = mc.HSet(ctx, to, nc.HGetAll(ctx, k).Val()).Err()
		case "set":
			err = mc.SAdd(ctx, to, anys(nc.SMembers(ctx, k).Val())...).Err()
		case "zset":
			err = mc.ZAdd(ctx, to, nc.ZRangeWithScores(ctx, k, 0, -1).Val()...).Err()
		default:
			t.Errorf("key %q is a %q; the market has hashes, sets and one zset", k, typ)
		}
		if err != nil {
			t.Fatalf("copy %s: %v", k, err)
		}
	}
	return readState(ctx, t, mc)
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// reshardWorker drives one user through the market on the cluster: it lists what it believes it
// owns and buys what it sampled from market:, as the proxy test's worker does on the book's keys.
type reshardWorker struct {
	t      *testing.T
	mk     market.Market
	cl     *redis.ClusterClient
	keys   reshardKeys
	u      int
	v      variant
	rng    *rand.Rand
	now    func() int64
	ops    *atomic.Int64
	prices *atomic.Int64

	mine  []int
	cands []redis.Z
	stale int
	done  []*op
	bad   int
}

func (k *reshardWorker) read(fn func(ctx context.Context)) {
	ctx, cancel := context.WithTimeout(context.Background(), reshardOpTimeout)
	defer cancel()
	fn(ctx)
}

func (k *reshardWorker) run(stop func() bool) {
	for !stop() {
		if k.stale == 0 || k.stale >= 20 || len(k.mine) == 0 && k.rng.IntN(4) == 0 {
			k.read(func(ctx context.Context) {
				ids, err := k.cl.SMembers(ctx, k.keys.inventory(k.u)).Result()
				if err != nil {
					return
				}
				k.mine, k.stale = k.mine[:0], 1
				for _, id := range ids {
					n, _ := strconv.Atoi(strings.TrimPrefix(id, "i"))
					k.mine = append(k.mine, n)
				}
			})
		}
		if len(k.cands) == 0 {
			k.read(func(ctx context.Context) {
				zs, _ := k.cl.ZRandMemberWithScores(ctx, k.keys.market(), 16).Result()
				for _, z := range zs {
					if _, seller, _ := strings.Cut(z.Member.(string), "."); seller != userID(k.u) {
						k.cands = append(k.cands, z)
					}
				}
			})
		}
		switch {
		case len(k.mine) > 0 && (len(k.cands) == 0 || k.rng.IntN(2) == 0):
			k.list()
		case len(k.cands) > 0:
			k.buy()
		default:
			time.Sleep(time.Millisecond)
		}
		k.stale++
	}
}

func (k *reshardWorker) list() {
	j := k.rng.IntN(len(k.mine))
	item := k.mine[j]
	k.mine[j] = k.mine[len(k.mine)-1]
	k.mine = k.mine[:len(k.mine)-1]
	o := &op{kind: list, variant: k.v, user: int16(k.u), item: int32(item), price: k.prices.Add(1)}
	k.call(o, func(ctx context.Context) error {
		_, err := k.mk.ListItem(ctx, k.cl, itemID(item), userID(k.u), o.price)
		return err
	})
}

func (k *reshardWorker) buy() {
	z := k.cands[0]
	k.cands = k.cands[1:] // sampled at random already
	item, seller, _ := strings.Cut(z.Member.(string), ".")
	var in, sn int
	if _, err := fmt.Sscanf(item+" "+seller, "i%d u%d", &in, &sn); err != nil {
		k.t.Errorf("listing %q: %v", z.Member, err)
		return
	}
	price := int64(z.Score)
	if k.rng.IntN(20) == 0 {
		price += wrongPrice // must be refused
	}
	o := &op{kind: buy, variant: k.v, user: int16(k.u), seller: int16(sn), item: int32(in), price: price}
	k.call(o, func(ctx context.Context) error {
		_, err := k.mk.PurchaseItem(ctx, k.cl, userID(k.u), item, seller, o.price)
		return err
	})
}

func (k *reshardWorker) call(o *op, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), reshardOpTimeout)
	o.start = k.now()
	err := fn(ctx)
	o.end = k.now()
	cancel()
	var cerr error
	if errors.Is(err, market.ErrNotDurable) {
		o.class = unknown // applied on the master, not confirmed by the replica: a failover may lose it
	} else if o.class, cerr = classify(err); cerr != nil {
		if k.bad++; k.bad <= 5 {
			k.t.Errorf("%s: %v", o, cerr)
		}
		o.class = unknown
	}
	k.done = append(k.done, o)
	k.ops.Add(1)
}
