package acltest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/logs"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/shard/hostset"
	riasync "github.com/ria-go/ria/sync"
	"github.com/ria-go/ria/tokens"
	"github.com/ria-go/ria/uniquevisits"
)

// A scenario runs one pattern through clients logged in as the pattern's ACL user. It exercises the
// success paths and the refusals, so every command the pattern can send is sent.
type scenario struct {
	pattern string
	setup   func(ctx context.Context, e *scenarioEnv) error // as the admin, before statistics are reset
	run     func(ctx context.Context, e *scenarioEnv) error
}

type scenarioEnv struct {
	user        func(server *redistest.Server) redis.UniversalClient // a client logged in as the pattern's user
	server      *redistest.Server                                    // the pattern's data server
	replica     *redistest.Server                                    // a replica of server (sync only)
	cluster     *redistest.Cluster                                   // a Redis Cluster ("Redis Cluster" patterns only)
	clusterUser func() *redis.ClusterClient                          // a cluster client logged in as the pattern's user
	admin       *redis.Client                                        // the default user on server, for setup
	dir         string
	registry    func(client redis.Cmdable) *conn.Registry
}

var scenarios = []scenario{
	{"conn registry (reader)", func(ctx context.Context, e *scenarioEnv) error {
		return e.admin.Set(ctx, "config:redis:app", fmt.Sprintf(`{"addr": %q}`, e.server.Addr()), 0).Err()
	}, func(ctx context.Context, e *scenarioEnv) error {
		reg := e.registry(e.user(e.server))
		defer reg.Close()
		if _, err := reg.Client(ctx, "app"); err != nil {
			return err
		}
		if _, err := reg.Client(ctx, "missing"); !errors.Is(err, conn.ErrNoConfig) {
			return fmt.Errorf("missing config: %v", err)
		}
		if _, release, err := reg.Acquire(ctx, "app"); err != nil {
			return fmt.Errorf("Acquire: %w", err)
		} else {
			release()
		}
		if err := reg.Do(ctx, "app", func(redis.UniversalClient) error { return nil }); err != nil {
			return fmt.Errorf("Do: %w", err)
		}
		if names, err := reg.StoredComponents(ctx); err != nil || len(names) != 1 {
			return fmt.Errorf("StoredComponents = %q, %v", names, err)
		}
		if _, err := reg.StoredConfig(ctx, "app"); err != nil {
			return fmt.Errorf("StoredConfig: %w", err)
		}
		return reg.Refresh(ctx, "app")
	}},
	{"conn registry (writer)", nil, func(ctx context.Context, e *scenarioEnv) error {
		reg := e.registry(e.user(e.server))
		defer reg.Close()
		if err := reg.SetConfig(ctx, "app", fmt.Sprintf(`{"addr": %q}`, e.server.Addr())); err != nil {
			return err
		}
		_, err := reg.Client(ctx, "app")
		return err
	}},
	{"market", marketSetup(""), func(ctx context.Context, e *scenarioEnv) error {
		return marketRun(ctx, e, nil)
	}},
	{"market (durable, hash-tagged)", marketSetup("{market}"), func(ctx context.Context, e *scenarioEnv) error {
		return marketRun(ctx, e, &market.Options{HashTag: "market", Durable: market.Durability{Replicas: 1}})
	}},
	{"tokens", nil, func(ctx context.Context, e *scenarioEnv) error {
		c := e.user(e.server)
		for i := 0; i < 30; i++ {
			if _, err := tokens.UpdateToken(ctx, c, "t1", "u1", fmt.Sprint("item", i)); err != nil {
				return err
			}
			if _, err := tokens.UpdateTokenPipeline(ctx, c, "t2", "u2", fmt.Sprint("item", i)); err != nil {
				return err
			}
		}
		return tokensRun(ctx, c, nil)
	}},
	{"tokens (durable)", nil, func(ctx context.Context, e *scenarioEnv) error {
		return tokensRun(ctx, e.user(e.server), &tokens.Options{Durable: tokens.Durability{Replicas: 1}})
	}},
	{"logs", nil, func(ctx context.Context, e *scenarioEnv) error {
		return logsRun(ctx, e, "", nil)
	}},
	{"logs (durable, hash-tagged)", nil, func(ctx context.Context, e *scenarioEnv) error {
		return logsRun(ctx, e, "{logs}", &logs.Options{Durable: logs.Durability{Replicas: 1}})
	}},
	{"sync: WaitForSync, WaitReplicas", nil, func(ctx context.Context, e *scenarioEnv) error {
		m, r := e.user(e.server), e.user(e.replica)
		if _, err := riasync.WaitForSync(ctx, m, r, nil); err != nil {
			return err
		}
		_, err := riasync.WaitReplicas(ctx, m, nil)
		return err
	}},
	{"sync: BGSave, EnableAOF, Promote, ReplicaOf", nil, func(ctx context.Context, e *scenarioEnv) error {
		m, r := e.user(e.server), e.user(e.replica)
		if _, err := riasync.BGSave(ctx, m, nil); err != nil {
			return fmt.Errorf("BGSave: %w", err)
		}
		if _, err := riasync.EnableAOF(ctx, m, nil); err != nil {
			return fmt.Errorf("EnableAOF: %w", err)
		}
		if _, err := riasync.Promote(ctx, r, nil); err != nil {
			return fmt.Errorf("Promote: %w", err)
		}
		if _, err := riasync.ReplicaOf(ctx, r, e.server.Addr(), nil); err != nil {
			return fmt.Errorf("ReplicaOf: %w", err)
		}
		return nil
	}},
	{"sync: ReadPersistence, Replication, ReadReplication", nil, func(ctx context.Context, e *scenarioEnv) error {
		m, r := e.user(e.server), e.user(e.replica)
		if _, err := riasync.ReadPersistence(ctx, m); err != nil {
			return fmt.Errorf("ReadPersistence: %w", err)
		}
		for _, c := range []redis.UniversalClient{m, r} {
			if _, err := riasync.Replication(ctx, c); err != nil {
				return fmt.Errorf("Replication: %w", err)
			}
			if _, err := riasync.ReadReplication(ctx, c); err != nil {
				return fmt.Errorf("ReadReplication: %w", err)
			}
		}
		return nil
	}},
	{"uniquevisits", nil, func(ctx context.Context, e *scenarioEnv) error {
		c := e.user(e.server)
		day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
		counter, err := uniquevisits.NewOnClient(c, &uniquevisits.Options{Now: func() time.Time { return day }})
		if err != nil {
			return err
		}
		if err := countVisits(ctx, counter, day); err != nil {
			return err
		}
		return uniqueFuncs(ctx, c, day)
	}},
	{"uniquevisits (durable)", nil, func(ctx context.Context, e *scenarioEnv) error {
		day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
		counter, err := uniquevisits.NewOnClient(e.user(e.server), &uniquevisits.Options{Now: func() time.Time { return day },
			Durable: uniquevisits.Durability{Replicas: 1}})
		if err != nil {
			return err
		}
		return countVisits(ctx, counter, day)
	}},
	{"uniquevisits bitmap", nil, func(ctx context.Context, e *scenarioEnv) error {
		return bitmapRun(ctx, e.user(e.server), nil)
	}},
	{"uniquevisits bitmap (durable)", nil, func(ctx context.Context, e *scenarioEnv) error {
		return bitmapRun(ctx, e.user(e.server), &uniquevisits.BitmapOptions{Durable: uniquevisits.Durability{Replicas: 1}})
	}},
	{"uniquevisits bitmap on a Redis Cluster", nil, func(ctx context.Context, e *scenarioEnv) error {
		return bitmapRun(ctx, e.clusterUser(), nil)
	}},
	{"uniquevisits (sharded, through the registry)", func(ctx context.Context, e *scenarioEnv) error {
		// The components' configs log the data clients in as the pattern's user too.
		cfg := fmt.Sprintf(`{"addr": %q, "username": "ria", "password": %q}`, e.server.Addr(), password)
		for _, comp := range []string{"unique", "unique:0", "unique:1", "unique:2", "unique:3"} {
			if err := e.admin.Set(ctx, "config:redis:"+comp, cfg, 0).Err(); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, e *scenarioEnv) error {
		// Recount reads INFO server (run_id) to tell the shards' servers apart: the four shards
		// share one server, counted once. Hence +info in the rules; without it Recount falls back
		// on the components' configs.
		reg := e.registry(e.user(e.server))
		defer reg.Close()
		day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
		counter, err := uniquevisits.New(reg, &uniquevisits.Options{Shards: 4, Now: func() time.Time { return day }})
		if err != nil {
			return err
		}
		return countVisits(ctx, counter, day)
	}},
	{"uniquevisits on a Redis Cluster", nil, func(ctx context.Context, e *scenarioEnv) error {
		day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
		c := e.clusterUser()
		counter, err := uniquevisits.NewOnClient(c, &uniquevisits.Options{Now: func() time.Time { return day }})
		if err != nil {
			return err
		}
		if err := countVisits(ctx, counter, day); err != nil {
			return err
		}
		return uniqueFuncs(ctx, c, day)
	}},
	{"shard (rb-style cluster)", nil, func(ctx context.Context, e *scenarioEnv) error {
		cl, err := hostset.New(&hostset.Options{
			Hosts:        map[int]map[string]any{0: {"addr": e.server.Addr()}, 1: {"addr": e.server.Addr()}},
			HostDefaults: map[string]any{"username": "ria", "password": password},
		})
		if err != nil {
			return err
		}
		defer cl.Close()
		keys := []string{"app:a", "app:b", "app:c", "app:d"}
		if err := cl.Map(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Set(ctx, k, k, 0) // batched into MSET
			}
			return nil
		}); err != nil {
			return err
		}
		if err := cl.Map(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Get(ctx, k) // batched into MGET
			}
			return nil
		}); err != nil {
			return err
		}
		// The host-level calls carry your own commands too.
		if err := cl.All(ctx, func(_ int, p redis.Pipeliner) error { p.Get(ctx, "app:a"); return nil }); err != nil {
			return fmt.Errorf("All: %w", err)
		}
		if err := cl.Fanout(ctx, []int{1}, func(_ int, p redis.Pipeliner) error { p.Get(ctx, "app:b"); return nil }); err != nil {
			return fmt.Errorf("Fanout: %w", err)
		}
		if _, err := hostset.FanoutCmd(ctx, cl, []int{0, 1}, func(p redis.Pipeliner) *redis.StringCmd { return p.Get(ctx, "app:c") }); err != nil {
			return fmt.Errorf("FanoutCmd: %w", err)
		}
		h, err := cl.Host(ctx, 0)
		if err != nil {
			return fmt.Errorf("Host: %w", err)
		}
		if err := h.Get(ctx, "app:d").Err(); err != nil {
			return fmt.Errorf("Host: %w", err)
		}
		k, _, err := cl.ClientForKey(ctx, "app:a")
		if err != nil {
			return fmt.Errorf("ClientForKey: %w", err)
		}
		if err := k.Get(ctx, "app:a").Err(); err != nil {
			return fmt.Errorf("ClientForKey: %w", err)
		}
		a, release, err := cl.Acquire(ctx, 1)
		if err != nil {
			return fmt.Errorf("Acquire: %w", err)
		}
		defer release()
		if err := a.Get(ctx, "app:b").Err(); err != nil {
			return fmt.Errorf("Acquire: %w", err)
		}
		return cl.Routing().Incr(ctx, "app:counter").Err() // your own commands, routed as they are
	}},
	{"shard: HSet, HGet, SAdd, MGet, Scan", nil, func(ctx context.Context, e *scenarioEnv) error {
		c := e.user(e.server)
		for i := range 20 {
			id := fmt.Sprint(1000 + i*37)
			if _, err := shard.HSet(ctx, c, "app:h:", id, i, 1000, 100); err != nil {
				return fmt.Errorf("HSet: %w", err)
			}
			if got, err := shard.HGet(ctx, c, "app:h:", id, 1000, 100); err != nil || got != fmt.Sprint(i) {
				return fmt.Errorf("HGet %s = %q, %w", id, got, err)
			}
			if _, err := shard.SAdd(ctx, c, "app:s:", id, 1000, 100); err != nil {
				return fmt.Errorf("SAdd: %w", err)
			}
		}
		if _, err := shard.HGet(ctx, c, "app:h:", "999999", 1000, 100); !errors.Is(err, redis.Nil) {
			return fmt.Errorf("HGet of a missing key: %v; want redis.Nil", err)
		}
		if _, err := shard.MGet(ctx, c, "app:a", "app:b"); err != nil {
			return fmt.Errorf("MGet: %w", err)
		}
		n := 0
		if err := shard.Scan(ctx, c.(*redis.Client), "app:*", 10, func(string) error { n++; return nil }); err != nil {
			return fmt.Errorf("Scan: %w", err)
		}
		if n == 0 {
			return errors.New("Scan found none of the shards")
		}
		return nil
	}},
}

// The visitors the uniquevisits scenarios count.
const (
	visitorA = "0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d"
	visitorB = "1b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d"
	visitorC = "2b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d"
	visitorD = "3b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d"
	visitorE = "4b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d"
)

// countVisits runs every call of a uniquevisits counter, on day: two visitors one at a time, one
// of them twice, then a batch of three new visitors (so CountVisits' INCRBY covers more than one),
// a known one, a repeat in the batch and a malformed id; then the counts, recounts and ranges.
func countVisits(ctx context.Context, counter *uniquevisits.Counter, day time.Time) error {
	for _, id := range []string{visitorA, visitorB, visitorA} {
		if _, err := counter.CountVisit(ctx, id); err != nil {
			return fmt.Errorf("CountVisit: %w", err)
		}
		if _, err := counter.CountVisitHLL(ctx, id); err != nil {
			return fmt.Errorf("CountVisitHLL: %w", err)
		}
	}
	if n, err := counter.Count(ctx, day); err != nil || n != 2 {
		return fmt.Errorf("Count = %d, %v; want 2 visitors", n, err)
	}
	if n, err := counter.Recount(ctx, day); err != nil || n != 2 {
		return fmt.Errorf("Recount = %d, %v; want 2 visitors", n, err)
	}
	res, err := counter.CountVisits(ctx, []string{visitorC, visitorA, visitorD, visitorE, visitorC, "not-a-uuid"})
	if err != nil {
		return fmt.Errorf("CountVisits: %w", err)
	}
	if !errors.Is(res[5].Err, uniquevisits.ErrBadSessionID) {
		return fmt.Errorf("CountVisits of a malformed id: %v", res[5].Err)
	}
	if n, err := counter.Count(ctx, day); err != nil || n != 5 {
		return fmt.Errorf("Count after CountVisits = %d, %v; want 5 visitors", n, err)
	}
	shards := 0
	if n, err := counter.RecountEach(ctx, day, func(uniquevisits.ShardCount) { shards++ }); err != nil || n != 5 || shards == 0 {
		return fmt.Errorf("RecountEach = %d, %v (%d servers reported); want 5 visitors", n, err, shards)
	}
	if _, err := counter.Expected(ctx, day); err != nil {
		return fmt.Errorf("Expected: %w", err)
	}
	if _, err := counter.UniqueHLL(ctx, day); err != nil {
		return fmt.Errorf("UniqueHLL: %w", err)
	}
	from := day.AddDate(0, 0, -1) // a day without visits, so the range spans two days' keys
	for _, opt := range []*uniquevisits.RangeOptions{nil, {Passes: 2, Batch: 1}} {
		if n, err := counter.UniqueRange(ctx, from, day, opt); err != nil || n != 5 {
			return fmt.Errorf("UniqueRange(%+v) = %d, %v; want 5 visitors", opt, n, err)
		}
	}
	if _, err := counter.UniqueRangeHLL(ctx, from, day); err != nil {
		return fmt.Errorf("UniqueRangeHLL: %w", err)
	}
	return nil
}

// uniqueFuncs runs the package's functions on one client c (a single server or a Redis Cluster),
// on the day after day, then its ranges over both days.
func uniqueFuncs(ctx context.Context, c redis.Cmdable, day time.Time) error {
	next := day.AddDate(0, 0, 1)
	expected, err := uniquevisits.Expected(ctx, c, next, uniquevisits.DailyExpected)
	if err != nil {
		return fmt.Errorf("Expected: %w", err)
	}
	if _, err := uniquevisits.CountVisit(ctx, c, visitorA, next); err != nil {
		return fmt.Errorf("CountVisit: %w", err)
	}
	if _, err := uniquevisits.CountVisitHLL(ctx, c, visitorA, next); err != nil {
		return fmt.Errorf("CountVisitHLL: %w", err)
	}
	if _, err := uniquevisits.CountVisits(ctx, c, []string{visitorB, visitorC, visitorA}, next); err != nil {
		return fmt.Errorf("CountVisits: %w", err)
	}
	id, err := uniquevisits.ParseSessionID(visitorD)
	if err != nil {
		return err
	}
	if _, err := uniquevisits.Add(ctx, c, c, next, id, expected, uniquevisits.ShardSize); err != nil {
		return fmt.Errorf("Add: %w", err)
	}
	if n, err := uniquevisits.Count(ctx, c, next); err != nil || n != 4 {
		return fmt.Errorf("Count = %d, %v; want 4 visitors", n, err)
	}
	if _, err := uniquevisits.UniqueHLL(ctx, c, next); err != nil {
		return fmt.Errorf("UniqueHLL: %w", err)
	}
	if n, err := uniquevisits.UniqueRange(ctx, c, day, next, nil); err != nil || n != 5 {
		return fmt.Errorf("UniqueRange = %d, %v; want 5 visitors", n, err)
	}
	if _, err := uniquevisits.UniqueRangeHLL(ctx, c, day, next); err != nil {
		return fmt.Errorf("UniqueRangeHLL: %w", err)
	}
	return nil
}

// bitmapRun runs every call of the bitmap variant with opt on c: visits on two days (one repeated,
// one id refused before any I/O), the days' counts, and the range over them, through a Bitmap and
// through the package's functions.
func bitmapRun(ctx context.Context, c redis.Cmdable, opt *uniquevisits.BitmapOptions) error {
	day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	now := day
	o := uniquevisits.BitmapOptions{}
	if opt != nil {
		o = *opt
	}
	o.MaxID = 1 << 20
	o.Now = func() time.Time { return now }
	b, err := uniquevisits.NewBitmap(c, &o)
	if err != nil {
		return err
	}
	for _, id := range []int64{0, 7, 7, 1 << 20} {
		if _, err := b.CountVisit(ctx, id); err != nil {
			return fmt.Errorf("CountVisit(%d): %w", id, err)
		}
	}
	if _, err := b.CountVisit(ctx, 1<<20+1); !errors.Is(err, uniquevisits.ErrBadUserID) {
		return fmt.Errorf("CountVisit past MaxID: %v", err)
	}
	next := day.AddDate(0, 0, 1)
	now = next
	for _, id := range []int64{7, 9} {
		if _, err := b.CountVisit(ctx, id); err != nil {
			return fmt.Errorf("CountVisit(%d): %w", id, err)
		}
	}
	if n, err := b.Count(ctx, day); err != nil || n != 3 {
		return fmt.Errorf("Count = %d, %v; want 3 visitors", n, err)
	}
	if n, err := uniquevisits.UniqueBitmap(ctx, c, next); err != nil || n != 2 {
		return fmt.Errorf("UniqueBitmap = %d, %v; want 2 visitors", n, err)
	}
	if n, err := b.CountRange(ctx, day, next); err != nil || n != 4 {
		return fmt.Errorf("CountRange = %d, %v; want 4 visitors", n, err)
	}
	if n, err := uniquevisits.UniqueRangeBitmap(ctx, c, day, next); err != nil || n != 4 {
		return fmt.Errorf("UniqueRangeBitmap = %d, %v; want 4 visitors", n, err)
	}
	return nil
}

// tokensRun updates tokens through an Updater with opt (and its default Keep, so the trim is sent),
// both calls, with and without an item.
func tokensRun(ctx context.Context, c redis.Cmdable, opt *tokens.Options) error {
	u, err := tokens.New(opt)
	if err != nil {
		return err
	}
	for i := 0; i < 30; i++ {
		if _, err := u.UpdateToken(ctx, c, "t3", "u3", fmt.Sprint("item", i)); err != nil {
			return fmt.Errorf("UpdateToken: %w", err)
		}
		if _, err := u.UpdateTokenPipeline(ctx, c, "t4", "u4", fmt.Sprint("item", i)); err != nil {
			return fmt.Errorf("UpdateTokenPipeline: %w", err)
		}
	}
	if _, err := u.UpdateToken(ctx, c, "t3", "u3", ""); err != nil {
		return fmt.Errorf("UpdateToken without an item: %w", err)
	}
	if _, err := u.UpdateTokenPipeline(ctx, c, "t4", "u4", ""); err != nil {
		return fmt.Errorf("UpdateTokenPipeline without an item: %w", err)
	}
	return nil
}

// marketSetup gives the users and inventories the market scenarios trade, under prefix's keys.
func marketSetup(prefix string) func(ctx context.Context, e *scenarioEnv) error {
	return func(ctx context.Context, e *scenarioEnv) error {
		setup := e.admin.Pipeline()
		setup.HSet(ctx, prefix+"users:17", "name", "Frank", "funds", 43)
		setup.HSet(ctx, prefix+"users:27", "name", "Bill", "funds", 125)
		setup.SAdd(ctx, prefix+"inventory:17", "ItemL", "ItemM", "ItemN", "ItemO")
		_, err := setup.Exec(ctx)
		return err
	}
}

// marketRun lists and buys through both variants with opt, refusals included.
func marketRun(ctx context.Context, e *scenarioEnv, opt *market.Options) error {
	c := e.user(e.server)
	watch, err := market.NewWatch(opt)
	if err != nil {
		return err
	}
	script, err := market.NewScript(opt)
	if err != nil {
		return err
	}
	for i, m := range []market.Market{watch, script} {
		item, other := fmt.Sprintf("Item%c", 'L'+2*i), fmt.Sprintf("Item%c", 'M'+2*i)
		if _, err := m.ListItem(ctx, c, item, "17", 10); err != nil {
			return err
		}
		if _, err := m.ListItem(ctx, c, "NoSuch", "17", 10); !errors.Is(err, market.ErrNotInInventory) {
			return fmt.Errorf("list unknown item: %v", err)
		}
		if _, err := m.PurchaseItem(ctx, c, "27", item, "17", 10); err != nil {
			return err
		}
		if _, err := m.ListItem(ctx, c, other, "17", 1000); err != nil {
			return err
		}
		if _, err := m.PurchaseItem(ctx, c, "27", other, "17", 1000); !errors.Is(err, market.ErrInsufficientFunds) {
			return fmt.Errorf("purchase beyond funds: %v", err)
		}
		if _, err := m.PurchaseItem(ctx, c, "27", other, "17", 999); !errors.Is(err, market.ErrPriceChanged) && !errors.Is(err, market.ErrNotListed) {
			return fmt.Errorf("purchase at a wrong price: %v", err)
		}
	}
	// The reads, on both variants' layout.
	for _, r := range []interface {
		Cheapest(ctx context.Context, c redis.Cmdable, n int) ([]market.Listing, error)
		User(ctx context.Context, c redis.Cmdable, id string) (market.UserInfo, error)
	}{watch, script} {
		if l, err := r.Cheapest(ctx, c, 10); err != nil || len(l) != 2 {
			return fmt.Errorf("Cheapest = %v, %v; want 2 listings", l, err)
		}
		if u, err := r.User(ctx, c, "27"); err != nil || len(u.Inventory) != 2 {
			return fmt.Errorf("User = %+v, %v; want 2 items", u, err)
		}
		if _, err := r.User(ctx, c, "99"); !errors.Is(err, market.ErrNoUser) {
			return fmt.Errorf("User of nobody: %v", err)
		}
	}
	if opt != nil && opt.HashTag != "" {
		return nil
	}
	// The package's functions, on the book's layout: WATCH, then script.
	for i, f := range []struct {
		list     func(ctx context.Context, c redis.UniversalClient, item, seller string, price int64) (market.Listing, error)
		purchase func(ctx context.Context, c redis.UniversalClient, buyer, item, seller string, price int64) (market.Purchase, error)
	}{{market.ListItem, market.PurchaseItem}, {market.ListItemScript, market.PurchaseItemScript}} {
		item := fmt.Sprintf("Item%c", 'M'+2*i) // the items the variants above failed to sell
		if _, err := f.list(ctx, c, item+"x", "17", 10); !errors.Is(err, market.ErrNotInInventory) {
			return fmt.Errorf("list unknown item: %v", err)
		}
		if _, err := f.purchase(ctx, c, "27", item, "17", 1000); !errors.Is(err, market.ErrInsufficientFunds) {
			return fmt.Errorf("purchase beyond funds: %v", err)
		}
	}
	if _, err := market.Cheapest(ctx, c, 10); err != nil {
		return fmt.Errorf("Cheapest: %w", err)
	}
	if _, err := market.User(ctx, c, "17"); err != nil {
		return fmt.Errorf("User: %w", err)
	}
	return nil
}

// logsRun processes two small access logs with opt, its keys (progress and the callback's) under tag.
func logsRun(ctx context.Context, e *scenarioEnv, tag string, opt *logs.Options) error {
	for i, body := range []string{"GET / 200\nGET /a 404\n", "GET /b 200\n"} {
		if err := os.WriteFile(filepath.Join(e.dir, fmt.Sprintf("access-%d.log", i)), []byte(body), 0o600); err != nil {
			return err
		}
	}
	c := e.user(e.server)
	count := func(ctx context.Context, p redis.Pipeliner, l logs.Line) error {
		p.HIncrBy(ctx, tag+"status:counts", l.Text[len(l.Text)-3:], 1) // the callback's own key, granted separately
		return nil
	}
	o := logs.Options{BatchLines: 1}
	if opt != nil {
		o = *opt
		o.BatchLines = 1
	}
	o.Prefix = tag + "progress:"
	commits := 0
	o.OnCommit = func(logs.Result) { commits++ }
	if _, err := logs.ProcessLogs(ctx, c, e.dir, count, &o); err != nil {
		return err
	}
	if commits == 0 {
		return errors.New("ProcessLogs committed nothing")
	}
	if _, err := logs.ReadProgress(ctx, c, o.Prefix); err != nil {
		return fmt.Errorf("ReadProgress: %w", err)
	}
	// Resumed: a line appended to the last file, and one more file with a partial line held back.
	f, err := os.OpenFile(filepath.Join(e.dir, "access-1.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("GET /c 500\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.dir, "access-2.log"), []byte("GET /d 200\nGET /e 20"), 0o600); err != nil {
		return err
	}
	o.HoldPartial = true
	if _, err := logs.ProcessLogs(ctx, c, e.dir, count, &o); err != nil {
		return fmt.Errorf("resumed: %w", err)
	}
	// The saved file gone: refused, then skipped.
	if err := os.Remove(filepath.Join(e.dir, "access-2.log")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.dir, "access-3.log"), []byte("GET /f 200\n"), 0o600); err != nil {
		return err
	}
	o.HoldPartial = false
	if _, err := logs.ProcessLogs(ctx, c, e.dir, count, &o); !errors.Is(err, logs.ErrFileMissing) {
		return fmt.Errorf("saved file gone: %v; want ErrFileMissing", err)
	}
	o.SkipMissing = true
	if _, err := logs.ProcessLogs(ctx, c, e.dir, count, &o); err != nil {
		return fmt.Errorf("saved file gone, skipped: %w", err)
	}
	return nil
}
