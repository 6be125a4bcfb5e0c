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
		return nil
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
	{"uniquevisits", nil, func(ctx context.Context, e *scenarioEnv) error {
		c := e.user(e.server)
		day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
		counter, err := uniquevisits.NewOnClient(c, &uniquevisits.Options{Now: func() time.Time { return day }})
		if err != nil {
			return err
		}
		return countVisits(ctx, counter, day)
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
		counter, err := uniquevisits.NewOnClient(e.clusterUser(), &uniquevisits.Options{Now: func() time.Time { return day }})
		if err != nil {
			return err
		}
		return countVisits(ctx, counter, day)
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

// countVisits runs every call of a uniquevisits counter: two visitors, one of them twice.
func countVisits(ctx context.Context, counter *uniquevisits.Counter, day time.Time) error {
	for _, id := range []string{"0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d", "1b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d", "0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d"} {
		if _, err := counter.CountVisit(ctx, id); err != nil {
			return err
		}
		if _, err := counter.CountVisitHLL(ctx, id); err != nil {
			return err
		}
	}
	if _, err := counter.Count(ctx, day); err != nil {
		return err
	}
	if n, err := counter.Recount(ctx, day); err != nil || n != 2 {
		return fmt.Errorf("Recount = %d, %v; want 2 visitors", n, err)
	}
	_, err := counter.UniqueHLL(ctx, day)
	return err
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
	if _, err := logs.ProcessLogs(ctx, c, e.dir, count, &o); err != nil {
		return err
	}
	_, err := logs.ReadProgress(ctx, c, o.Prefix)
	return err
}
