package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/shard"
)

// Property: over random layouts (shard counts, components sharing servers), RecountEach returns
// Recount's total, reports every sharded server once in order, and its parts add up to the total;
// a shared server is reported as shared with a component counted before it.
func TestRecountEachProperty(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	when := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for round := 0; round < 8; round++ {
		cfgSrv := miniredis.RunT(t)
		cfgClient := redis.NewClient(&redis.Options{Addr: cfgSrv.Addr()})
		reg, err := conn.New(cfgClient, nil)
		if err != nil {
			t.Fatal(err)
		}
		shards := 1 + rng.IntN(6)
		servers := make([]*miniredis.Miniredis, 1+rng.IntN(shards))
		for i := range servers {
			servers[i] = miniredis.RunT(t)
		}
		for i := 0; i < shards; i++ {
			s := servers[rng.IntN(len(servers))]
			if err := reg.SetConfig(ctx, shard.ShardComponent("u", i), map[string]any{"addr": s.Addr()}); err != nil {
				t.Fatal(err)
			}
		}
		if err := reg.SetConfig(ctx, "u", map[string]any{"addr": servers[0].Addr(), "db": 1}); err != nil {
			t.Fatal(err)
		}
		c, err := New(reg, &Options{Component: "u", Shards: shards, DailyExpected: 2000, Now: func() time.Time { return when }})
		if err != nil {
			t.Fatal(err)
		}
		distinct := map[string]bool{}
		for i := 0; i < rng.IntN(300); i++ {
			sid := fmt.Sprintf("%08x-0000-4000-8000-%012x", rng.Uint32(), rng.IntN(50))
			if _, err := c.CountVisit(ctx, sid); err != nil {
				t.Fatal(err)
			}
			distinct[sid] = true
		}
		var parts []ShardCount
		total, err := c.RecountEach(ctx, when, func(sc ShardCount) { parts = append(parts, sc) })
		if err != nil {
			t.Fatal(err)
		}
		plain, err := c.Recount(ctx, when)
		if err != nil || total != plain || total != int64(len(distinct)) {
			t.Fatalf("round %d: RecountEach %d, Recount %d (%v); want %d", round, total, plain, err, len(distinct))
		}
		if len(parts) != shards {
			t.Fatalf("round %d: %d reports; want %d", round, len(parts), shards)
		}
		var sum int64
		counted := map[string]bool{}
		for i, p := range parts {
			if p.Done != i+1 || p.Total != shards || p.Component != shard.ShardComponent("u", i) {
				t.Fatalf("report %d = %+v", i, p)
			}
			if p.Shared != "" && (!counted[p.Shared] || p.Count != 0) {
				t.Fatalf("report %d shared with %q, not counted before it: %+v", i, p.Shared, p)
			}
			if p.Shared == "" {
				counted[p.Component] = true
			}
			sum += p.Count
		}
		if sum != total {
			t.Fatalf("round %d: parts add up to %d; total %d", round, sum, total)
		}
		reg.Close()
		cfgClient.Close()
	}
}

func TestRecountEachOnClientAndEmptyDay(t *testing.T) {
	ctx := context.Background()
	s := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer client.Close()
	when := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	c, err := NewOnClient(client, &Options{Now: func() time.Time { return when }, DailyExpected: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var parts []ShardCount
	if n, err := c.RecountEach(ctx, when, func(sc ShardCount) { parts = append(parts, sc) }); err != nil || n != 0 || len(parts) != 1 {
		t.Fatalf("empty day: %d, %v, %+v; want 0 and one report", n, err, parts)
	}
	if _, err := c.CountVisit(ctx, "8a5f5f3c-5e8d-4b6b-9b1b-3f7f3c5e8d4b"); err != nil {
		t.Fatal(err)
	}
	parts = nil
	if n, err := c.RecountEach(ctx, when, func(sc ShardCount) { parts = append(parts, sc) }); err != nil || n != 1 ||
		len(parts) != 1 || parts[0].Count != 1 || parts[0].Done != 1 {
		t.Fatalf("one visit: %d, %v, %+v", n, err, parts)
	}
	if n, err := c.RecountEach(ctx, when, nil); err != nil || n != 1 {
		t.Fatalf("nil fn: %d, %v", n, err)
	}
	s.Set("unique:2024-03-01:expected", "x")
	if _, err := c.RecountEach(ctx, when, nil); !errors.Is(err, ErrBadCount) {
		t.Fatalf("bad expected size: %v; want ErrBadCount", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.RecountEach(cctx, when, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended ctx: %v; want context.Canceled", err)
	}
	if _, err := New(nil, nil); !errors.Is(err, ErrNoClient) {
		t.Fatalf("nil registry: %v; want ErrNoClient", err)
	}
}
