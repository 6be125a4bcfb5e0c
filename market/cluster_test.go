package market_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// The market on a Redis Cluster of 3 masters and 3 replicas, with the tagged layout and the durable
// mode (Replicas 1): every outcome that can be reached without faults, both variants, the queries,
// a replica that stops confirming, and concurrent traders; then the ledger: money and items conserved.
func TestCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := redistest.RunClusterT(t, nil)
	cc := cl.Client(t)
	rec, nodeRec := newKeyRecorder(), newKeyRecorder()
	cc.AddHook(rec.hook())
	// The durable mode runs on the slot master's client: record there too.
	cc.OnNewNode(func(n *redis.Client) { n.AddHook(nodeRec.hook()) })
	const tag = "market"
	k := func(s string) string { return "{" + tag + "}" + s }

	// The slot go-redis and shard.Slot compute is the server's.
	if slot, err := cc.ClusterKeySlot(ctx, k("users:1")).Result(); err != nil || int(slot) != shard.Slot(k("users:1")) {
		t.Fatalf("CLUSTER KEYSLOT %d, %v; shard.Slot %d", slot, err, shard.Slot(k("users:1")))
	}

	// The book's layout: refused before any I/O.
	rec.reset()
	for _, v := range variants {
		_, err := v.m.PurchaseItem(ctx, cc, "b", "i", "s", 1)
		wantErr(t, err, market.ErrCrossSlot)
	}
	if _, names := rec.seen(); len(names) != 0 {
		t.Fatalf("book layout sent %v", names)
	}

	const users, perUser, funds = 4, 5, 1000
	ids := make([]string, users)
	var items []string
	for u := range ids {
		ids[u] = "u" + strconv.Itoa(u)
		must(t, cc.HSet(ctx, k("users:"+ids[u]), "name", ids[u], "funds", funds).Err())
		for i := range perUser {
			item := fmt.Sprintf("i%d-%d", u, i)
			items = append(items, item)
			must(t, cc.SAdd(ctx, k("inventory:"+ids[u]), item).Err())
		}
	}
	must(t, cc.HSet(ctx, k("users:poor"), "funds", 1).Err())
	must(t, cc.HSet(ctx, k("users:bad"), "funds", "12.5").Err())
	must(t, cc.SAdd(ctx, k("inventory:u1"), "shared").Err()) // an id two users hold
	must(t, cc.SAdd(ctx, k("inventory:u0"), "shared").Err())
	items = append(items, "shared", "shared")

	ms := durableVariants(t, tag, market.Durability{Replicas: 1, Timeout: 5 * time.Second})
	for n, v := range ms {
		t.Run(v.name, func(t *testing.T) {
			m := v.m
			item := fmt.Sprintf("i0-%d", n)
			if _, err := m.ListItem(ctx, cc, item, "u0", 100); err != nil {
				t.Fatalf("list: %v", err)
			}
			// Listed, and another of the same id in the inventory.
			must(t, cc.SAdd(ctx, k("inventory:u0"), item).Err())
			_, err := m.ListItem(ctx, cc, item, "u0", 100)
			wantErr(t, err, market.ErrAlreadyListed)
			must(t, cc.SRem(ctx, k("inventory:u0"), item).Err())
			for _, tc := range []struct {
				name string
				err  error
				want error
			}{
				{"list not owned", ignore(m.ListItem(ctx, cc, "i1-0", "u0", 100)), market.ErrNotInInventory},
				{"bad id", ignore(m.ListItem(ctx, cc, "a.b", "u0", 100)), market.ErrInvalidID},
				{"bad price", ignore(m.ListItem(ctx, cc, item, "u0", 0)), market.ErrInvalidPrice},
				{"price changed", ignore(m.PurchaseItem(ctx, cc, "u1", item, "u0", 99)), market.ErrPriceChanged},
				{"insufficient", ignore(m.PurchaseItem(ctx, cc, "poor", item, "u0", 100)), market.ErrInsufficientFunds},
				{"bad funds", ignore(m.PurchaseItem(ctx, cc, "bad", item, "u0", 100)), market.ErrBadFunds},
			} {
				wantErr(t, tc.err, tc.want)
			}
			if _, err := m.PurchaseItem(ctx, cc, "u1", item, "u0", 100); err != nil {
				t.Fatalf("purchase: %v", err)
			}
			_, err = m.PurchaseItem(ctx, cc, "u2", item, "u0", 100)
			wantErr(t, err, market.ErrNotListed)
		})
	}
	// "shared": u0 lists it while u1 has one too.
	_, err := ms[0].m.ListItem(ctx, cc, "shared", "u0", 7)
	must(t, err)
	_, err = ms[1].m.PurchaseItem(ctx, cc, "u1", "shared", "u0", 7)
	wantErr(t, err, market.ErrAlreadyOwned)

	w := newWatch(&market.Options{HashTag: tag})
	s, err := market.NewScript(&market.Options{HashTag: tag})
	must(t, err)
	got, err := w.Cheapest(ctx, cc, 10)
	if err != nil || len(got) != 1 || got[0].Member != "shared.u0" || got[0].Price != 7 {
		t.Fatalf("Cheapest = %+v, %v; want shared.u0 at 7", got, err)
	}
	_, err = s.Cheapest(ctx, cc, 0)
	wantErr(t, err, market.ErrBadLimit)
	u1, err := s.User(ctx, cc, "u1")
	if err != nil || u1.Funds != funds-200 || !slices.Contains(u1.Inventory, "i0-0") || !slices.Contains(u1.Inventory, "i0-1") {
		t.Fatalf("User(u1) = %+v, %v; want both purchases", u1, err)
	}
	_, err = w.User(ctx, cc, "nobody")
	wantErr(t, err, market.ErrNoUser)
	_, err = w.User(ctx, cc, "bad")
	wantErr(t, err, market.ErrBadFunds)

	// The replica of the tag's master stops: a write is applied there, not confirmed.
	master, err := cl.NodeForKey(ctx, k("market:"))
	must(t, err)
	replica, err := cl.ReplicaOf(ctx, master)
	must(t, err)
	must(t, replica.Pause())
	slow := durableVariants(t, tag, market.Durability{Replicas: 1, Timeout: 200 * time.Millisecond})
	l, err := slow[1].m.ListItem(ctx, cc, "i2-0", "u2", 50)
	wantNotDurable(t, err, 0)
	pu, err := slow[0].m.PurchaseItem(ctx, cc, "u3", "i2-0", "u2", 50)
	wantNotDurable(t, err, 0)
	must(t, replica.Resume())
	if l.Member != "i2-0.u2" || pu.Buyer != "u3" {
		t.Fatalf("results %+v, %+v; want them filled in", l, pu)
	}

	trade(ctx, t, cc, w, ms, ids)

	// The ledger: every user's funds and items, and the listings, read back through the queries.
	total, owned := int64(0), []string{}
	for _, id := range ids {
		u, err := w.User(ctx, cc, id)
		must(t, err)
		total += u.Funds
		owned = append(owned, u.Inventory...)
	}
	listed, err := s.Cheapest(ctx, cc, market.MaxCheapest)
	must(t, err)
	for _, l := range listed {
		owned = append(owned, l.Item)
	}
	slices.Sort(owned)
	slices.Sort(items)
	if total != users*funds || !slices.Equal(owned, items) {
		t.Fatalf("ledger: funds %d (want %d), items %q (want %q)", total, users*funds, owned, items)
	}
	// No key outside the tag's slot was ever sent, and the writes ran with WAIT on the node.
	keys, _ := rec.seen()
	nodeKeys, names := nodeRec.seen()
	for _, key := range append(keys, nodeKeys...) {
		if shard.Slot(key) != shard.Slot(tag) {
			t.Fatalf("key %q outside the tag's slot", key)
		}
	}
	if names["wait"] == 0 || names["exec"] == 0 || names["evalsha"] == 0 {
		t.Fatalf("node commands %v; want EXEC, EVALSHA and WAIT", names)
	}
}

// trade runs traders at once, each listing what it owns and buying others' listings, with both
// variants in the durable mode. Refusals are expected; anything else fails the test.
func trade(ctx context.Context, t *testing.T, cc *redis.ClusterClient, w *market.Watch, ms []struct {
	name string
	m    market.Market
}, ids []string) {
	t.Helper()
	refused := []error{market.ErrNotListed, market.ErrPriceChanged, market.ErrAlreadyOwned, market.ErrInsufficientFunds,
		market.ErrNotInInventory, market.ErrAlreadyListed, market.ErrContention}
	var wg sync.WaitGroup
	var done atomic.Int64
	errs := make(chan error, len(ids))
	for n, id := range ids {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(n), 7))
			for range 25 {
				m := ms[r.IntN(len(ms))].m
				var err error
				if r.IntN(2) == 0 {
					u, uerr := w.User(ctx, cc, id)
					if uerr != nil || len(u.Inventory) == 0 {
						err = uerr
					} else {
						_, err = m.ListItem(ctx, cc, u.Inventory[r.IntN(len(u.Inventory))], id, 1+r.Int64N(30))
					}
				} else {
					ls, lerr := w.Cheapest(ctx, cc, 5)
					if lerr != nil || len(ls) == 0 {
						err = lerr
					} else if l := ls[r.IntN(len(ls))]; l.Seller != id {
						_, err = m.PurchaseItem(ctx, cc, id, l.Item, l.Seller, l.Price)
					}
				}
				if err == nil {
					done.Add(1)
				} else if !slices.ContainsFunc(refused, func(e error) bool { return errors.Is(err, e) }) {
					errs <- fmt.Errorf("%s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if done.Load() == 0 {
		t.Error("no trade went through")
	}
	t.Logf("%d of %d trades went through", done.Load(), 25*len(ids))
}
