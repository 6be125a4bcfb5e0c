// Package ch10 is section 10.2 of Redis in Action, "Scaling writes and memory capacity", on ria:
// the book's 16 sharded servers and the sharded_connection decorator (shard.Wrap), count_visit over
// them (uniquevisits.Counter), every server at once (shard/hostset), and a HyperLogLog variant
// (sharded.go); the bulk CountVisits, a week in the three variants and the bitmap (week.go); and
// access logs turned into unique visitors by process_logs feeding CountVisits (visitlogs.go).
//
// Run it with `go run ./examples/ch10`; the tour (examples/tour) runs it among the others.
package ch10

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/shard/hostset"
	"github.com/ria-go/ria/uniquevisits"
)

const visits = 3_000

// Parts are the chapter's parts in order.
var Parts = []tour.Part{
	{Chapter: "ch10", Title: "10.2 Sharded connections: count_visit over 16 servers", Run: ShardedConnections},
	{Chapter: "ch10", Title: "10.2.2 Unique visitors in bulk, over a week, and as bitmaps", Run: Week},
	{Chapter: "ch10", Title: "4.1.1 and 10.2.2 Access logs to unique visitors: process_logs feeding CountVisits", Run: VisitLogs},
}

// ShardedConnections configures the book's 16 sharded servers and the unsharded one, counts
// visits over them through the sharded_connection decorator and the Counter, and looks at the result
// from every server at once.
func ShardedConnections(ctx context.Context, env *tour.Env) error {
	reg := env.Registry

	env.Section("configs: config:redis:unique:0 to :15 (sets), config:redis:unique (counts)")
	// 17 servers. With fewer databases than that (one -addr address) some share one: the sets'
	// unique:<date>:<n> and the counts' unique:<date>, unique:<date>:expected and unique:hll:<date>
	// cannot collide, a visitor id always goes to the same shard (so a shared set holds each id once),
	// and Recount reads a shared database once.
	cfgs, err := env.SharedServers(ctx, uniquevisits.Shards+1)
	if err != nil {
		return err
	}
	for i, cfg := range cfgs {
		comp := uniquevisits.Component
		if i < uniquevisits.Shards {
			comp = shard.ShardComponent(uniquevisits.Component, i)
		}
		if err := reg.SetConfig(ctx, comp, cfg); err != nil {
			return err
		}
		if i == 0 || i >= uniquevisits.Shards-1 {
			raw, err := json.Marshal(cfg)
			if err != nil {
				return err
			}
			env.Printf("%s = %s\n", reg.Key(comp), raw)
		} else if i == 1 {
			env.Printf("...\n")
		}
	}

	env.Section("10.2.2 sharded_connection: crc32(\"x\"+key) % 16 picks the server")
	sids := tour.Sessions(visits)
	for _, sid := range sids[:3] {
		comp, _ := shard.Component(uniquevisits.Component, sid, uniquevisits.Shards)
		env.Printf("%s -> %s\n", sid, comp)
	}

	// Today's sets are sized from yesterday's count, read on the unsharded server.
	now := time.Now()
	err = reg.Do(ctx, uniquevisits.Component, func(counts redis.UniversalClient) error {
		return counts.Set(ctx, "unique:"+uniquevisits.Day(now.AddDate(0, 0, -1)), 2_500, 0).Err()
	})
	if err != nil {
		return err
	}
	counter, err := uniquevisits.New(reg, &uniquevisits.Options{Now: func() time.Time { return now }})
	if err != nil {
		return err
	}

	env.Section("the book's decorated count_visit: @sharded_connection('unique', 16)")
	// The decorator injects the session's shard; get_expected and the INCR use the unsharded server.
	countVisit := shard.Wrap(reg, uniquevisits.Component, uniquevisits.Shards,
		func(ctx context.Context, sets redis.Cmdable, sessionID string) (uniquevisits.Visit, error) {
			id, err := uniquevisits.ParseSessionID(sessionID)
			if err != nil {
				return uniquevisits.Visit{}, err
			}
			expected, err := counter.Expected(ctx, now)
			if err != nil {
				return uniquevisits.Visit{}, err
			}
			return conn.Call(ctx, reg, uniquevisits.Component, func(ctx context.Context, counts redis.Cmdable) (uniquevisits.Visit, error) {
				return uniquevisits.Add(ctx, sets, counts, now, id, expected, uniquevisits.ShardSize)
			})
		})
	for _, sid := range sids[:3] {
		v, err := countVisit(ctx, sid)
		if err != nil {
			return err
		}
		env.Printf("visitor %d: new=%v, in %s, count now %d\n", v.ID, v.New, v.Set, v.Count)
	}

	env.Section(fmt.Sprintf("Counter.CountVisit: %d visits over 16 servers", visits))
	start := time.Now()
	for _, sid := range sids {
		if _, err := counter.CountVisit(ctx, sid); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	count, err := counter.Count(ctx, now)
	if err != nil {
		return err
	}
	exact, err := counter.Recount(ctx, now)
	if err != nil {
		return err
	}
	expected, err := counter.Expected(ctx, now)
	if err != nil {
		return err
	}
	env.Printf("unique visitors: %d (INCRed count), %d (SCARD of every shard on every server); %v\n", count, exact, elapsed.Round(time.Millisecond))
	if count != exact { // INCR only when SADD added: the two must agree
		return fmt.Errorf("the INCRed count %d differs from the recount %d", count, exact)
	}
	env.Printf("yesterday 2500 -> expected %d -> %d set shards per server\n", expected, shard.Shards(int(expected), uniquevisits.ShardSize))
	if _, err := counter.CountVisit(ctx, "0xBAD"); errors.Is(err, uniquevisits.ErrBadSessionID) {
		env.Printf("a malformed session id: %v\n", err)
	}

	env.Section("all 16 servers at once: rb-style hosts over the same registry (All)")
	hosts, err := hostset.FromRegistry(reg, uniquevisits.Component, uniquevisits.Shards, nil)
	if err != nil {
		return err
	}
	defer hosts.Close()
	// One pipeline per server, in parallel: SCARD of each of today's set shards.
	cards := map[int][]*redis.IntCmd{}
	err = hosts.All(ctx, func(id int, p redis.Pipeliner) error {
		for i := 0; i < shard.Shards(int(expected), uniquevisits.ShardSize); i++ {
			cards[id] = append(cards[id], p.SCard(ctx, fmt.Sprintf("unique:%s:%d", uniquevisits.Day(now), i)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A server sharing an earlier one's database shows as "=<that server>": its ids are counted there.
	var line, shared []string
	first := map[string]int{}
	for _, id := range hosts.IDs() {
		where := reg.Config(shard.ShardComponent(uniquevisits.Component, id)).String()
		if f, ok := first[where]; ok {
			line = append(line, fmt.Sprintf("=%d", f))
			shared = append(shared, fmt.Sprintf("%d and %d", f, id))
			continue
		}
		first[where] = id
		var n int64
		for _, c := range cards[id] {
			n += c.Val()
		}
		line = append(line, fmt.Sprint(n))
	}
	env.Printf("visitor ids per server: %s\n", strings.Join(line, " "))
	if len(shared) > 0 {
		env.Printf("(servers %s share a database: give more -addr addresses for one database each)\n", strings.Join(shared, ", "))
	}

	env.Section("the HyperLogLog variant: one ~12 KB PFADD counter a day instead of sharded sets")
	for _, sid := range sids {
		if _, err := counter.CountVisitHLL(ctx, sid); err != nil {
			return err
		}
	}
	est, err := counter.UniqueHLL(ctx, now)
	if err != nil {
		return err
	}
	env.Printf("estimate %d for %d exact: %+.2f%% (standard error 0.81%%)\n", est, exact, 100*float64(est-exact)/float64(exact))
	return nil
}
