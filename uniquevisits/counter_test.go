package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// registry returns a registry whose configs live on a fresh miniredis.
func registry(t testing.TB) *conn.Registry {
	t.Helper()
	_, cfg := mini(t)
	reg, err := conn.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// miniShards configures "unique:0..15" on 16 miniredis servers and "unique" on a 17th.
func miniShards(t *testing.T, reg *conn.Registry) []*miniredis.Miniredis {
	t.Helper()
	ctx := t.Context()
	minis := make([]*miniredis.Miniredis, Shards+1)
	for i := range minis {
		minis[i] = miniredis.RunT(t)
		comp := Component
		if i < Shards {
			comp = shard.ShardComponent(Component, i)
		}
		// The book's redis-py keyword form.
		if err := reg.SetConfig(ctx, comp, map[string]any{"host": minis[i].Host(), "port": minis[i].Server().Addr().Port}); err != nil {
			t.Fatal(err)
		}
	}
	return minis
}

// visits is a fixed list of session ids, a third of them repeats, and the number of distinct ids.
func visits(n int) ([]string, int) {
	r := rand.New(rand.NewPCG(1, 2))
	var out []string
	distinct := 0
	for len(out) < n {
		if len(out) > 0 && r.IntN(3) == 0 {
			out = append(out, out[r.IntN(len(out))])
			continue
		}
		out = append(out, fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff))
		distinct++
	}
	return out, distinct
}

// countAll counts the visits and returns the INCRed count and the recount from the sets.
func countAll(t *testing.T, ctx context.Context, c *Counter, sids []string) (int64, int64) {
	t.Helper()
	for _, sid := range sids {
		if _, err := c.CountVisit(ctx, sid); err != nil {
			t.Fatalf("CountVisit(%s): %v", sid, err)
		}
	}
	count, err := c.Count(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	recount, err := c.Recount(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	return count, recount
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestCounter16Shards(t *testing.T) {
	ctx := t.Context()
	reg := registry(t)
	minis := miniShards(t, reg)
	c := mustNew(t, reg, &Options{Now: fixedClock(day)})
	for _, v := range sessionVectors {
		got, err := c.CountVisit(ctx, v.sid)
		if err != nil {
			t.Fatal(err)
		}
		if got.Shard != v.component || got.Set != v.set || !got.New {
			t.Errorf("CountVisit(%q) = %+v; want %s on %s", v.sid, got, v.set, v.component)
		}
		var n int
		fmt.Sscanf(v.component, "unique:%d", &n)
		if ok, _ := minis[n].SIsMember(v.set, fmt.Sprint(v.id)); !ok {
			t.Errorf("%d not in %s on server %d", v.id, v.set, n)
		}
	}
	if s, _ := minis[Shards].Get("unique:2024-03-01"); s != fmt.Sprint(len(sessionVectors)) {
		t.Errorf("count on the unsharded server = %q; want %d", s, len(sessionVectors))
	}
	if s, _ := minis[Shards].Get("unique:2024-03-01:expected"); s != "2097152" {
		t.Errorf("expected on the unsharded server = %q", s)
	}

	sids, distinct := visits(1500)
	count, recount := countAll(t, ctx, c, sids)
	want := int64(distinct + len(sessionVectors))
	if count != want || recount != want {
		t.Errorf("count %d, recount %d; want %d", count, recount, want)
	}
	used := 0
	for _, m := range minis[:Shards] {
		if len(m.Keys()) > 0 {
			used++
		}
	}
	if used != Shards {
		t.Errorf("%d of %d sharded servers used", used, Shards)
	}
	if len(minis[Shards].Keys()) != 2 {
		t.Errorf("unsharded server holds %v; want the count and the expected size only", minis[Shards].Keys())
	}
}

func TestCounterBadInputWritesNothing(t *testing.T) {
	ctx := t.Context()
	reg := registry(t)
	minis := miniShards(t, reg)
	c := mustNew(t, reg, &Options{Now: fixedClock(day)})
	for _, bad := range []string{"", "short", "zzzzzzzzzzzzzzzzzzzz"} {
		if _, err := c.CountVisit(ctx, bad); !errors.Is(err, ErrBadSessionID) {
			t.Errorf("CountVisit(%q): %v; want ErrBadSessionID", bad, err)
		}
	}
	for i, m := range minis {
		if k := m.Keys(); len(k) != 0 {
			t.Errorf("server %d holds %v after bad input", i, k)
		}
	}
}

func TestCounterCacheBounded(t *testing.T) {
	ctx := t.Context()
	_, client := mini(t)
	now := day
	c := mustOnClient(t, client, &Options{Now: func() time.Time { return now }})
	for i := 0; i < 6; i++ {
		now = day.AddDate(0, 0, i)
		v, err := c.CountVisit(ctx, "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2")
		if err != nil || !v.New || v.Day != Day(now) {
			t.Fatalf("day %d: %+v, %v", i, v, err)
		}
	}
	if got := c.CachedDays(); len(got) != 2 || got[1] != "2024-03-06" || got[0] != "2024-03-05" {
		t.Errorf("cached days %v; want the last two", got)
	}
	// Day 2's expected size came from day 1's count of 1: 2.
	if v, err := c.Expected(ctx, day.AddDate(0, 0, 1)); err != nil || v != 2 {
		t.Errorf("Expected(day 2) = %d, %v; want 2", v, err)
	}
	// Midnight in the clock's location decides the day.
	loc := time.FixedZone("UTC+10", 10*3600)
	now = time.Date(2024, 3, 1, 23, 0, 0, 0, time.UTC).In(loc) // 09:00 on the 2nd there
	if v, _ := c.CountVisit(ctx, "123456789abcdef0123456789abcdef0"); v.Day != "2024-03-02" {
		t.Errorf("day in UTC+10 = %s; want 2024-03-02", v.Day)
	}
}

// TestUncounted: when the unsharded server fails between SADD and INCR, CountVisit says so, and
// Recount still finds the visitor.
func TestUncounted(t *testing.T) {
	ctx := t.Context()
	reg := registry(t)
	minis := miniShards(t, reg)
	c := mustNew(t, reg, &Options{Now: fixedClock(day), DailyExpected: 10_000}) // fewer set shards to recount
	sids, distinct := visits(30)
	for _, sid := range sids {
		if _, err := c.CountVisit(ctx, sid); err != nil {
			t.Fatal(err)
		}
	}
	minis[Shards].Close() // the expected size is cached: only the INCR fails
	v, err := c.CountVisit(ctx, "ffffffff-0000-0000-0000-000000000000")
	if !errors.Is(err, ErrUncounted) || !v.New {
		t.Fatalf("CountVisit with the count server down = %+v, %v; want New and ErrUncounted", v, err)
	}
	if err := minis[Shards].Restart(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.CountVisit(ctx, "ffffffff-0000-0000-0000-000000000000"); err != nil || v.New {
		t.Errorf("the visit again = %+v, %v; want not new (its id is recorded)", v, err)
	}
	count, _ := c.Count(ctx, day)
	recount, err := c.Recount(ctx, day)
	if err != nil || count != int64(distinct) || recount != int64(distinct+1) {
		t.Errorf("count %d, recount %d, %v; want %d and %d", count, recount, err, distinct, distinct+1)
	}
	if n, err := c.Recount(ctx, day.AddDate(0, 0, 3)); err != nil || n != 0 {
		t.Errorf("Recount of a day without visits = %d, %v", n, err)
	}
}

// TestSameCountEverywhere counts the same visits over 16 miniredis shards, over 16 components on 4
// real servers, and over 16 components that all name one real Redis Cluster, and gets the same count.
func TestSameCountEverywhere(t *testing.T) {
	ctx := t.Context()
	sids, distinct := visits(1200)
	want := int64(distinct)
	results := map[string][2]int64{}

	t.Run("miniredis", func(t *testing.T) {
		reg := registry(t)
		miniShards(t, reg)
		count, recount := countAll(t, ctx, mustNew(t, reg, &Options{Now: fixedClock(day)}), sids)
		results["miniredis"] = [2]int64{count, recount}
	})

	t.Run("4 real servers", func(t *testing.T) {
		g := redistest.RunShardsT(t, 4, nil)
		reg := registry(t)
		for i := 0; i < Shards; i++ { // 4 components per server, one database each
			if err := reg.SetConfig(ctx, shard.ShardComponent(Component, i), map[string]any{"addr": g[i%4].Addr(), "db": i / 4}); err != nil {
				t.Fatal(err)
			}
		}
		if err := reg.SetConfig(ctx, Component, map[string]any{"addr": g[0].Addr(), "db": 5}); err != nil {
			t.Fatal(err)
		}
		count, recount := countAll(t, ctx, mustNew(t, reg, &Options{Now: fixedClock(day)}), sids)
		results["real"] = [2]int64{count, recount}
		for i, s := range g {
			info, err := s.Client(t).Info(ctx, "keyspace").Result()
			if err != nil {
				t.Fatal(err)
			}
			for db := 0; db < 4; db++ {
				if !strings.Contains(info, fmt.Sprintf("db%d:keys=", db)) {
					t.Errorf("server %d db %d holds no sets: %q", i, db, info)
				}
			}
		}
	})

	t.Run("Redis Cluster", func(t *testing.T) {
		rc := shared.Cluster(t)
		reg := registry(t)
		cfg := map[string]any{"cluster": rc.Addrs()}
		for i := 0; i < Shards; i++ {
			if err := reg.SetConfig(ctx, shard.ShardComponent(Component, i), cfg); err != nil {
				t.Fatal(err)
			}
		}
		if err := reg.SetConfig(ctx, Component, cfg); err != nil {
			t.Fatal(err)
		}
		c := mustNew(t, reg, &Options{Now: fixedClock(day)})
		count, recount := countAll(t, ctx, c, sids)
		results["cluster"] = [2]int64{count, recount}
		client, err := reg.Client(ctx, Component)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := client.(*redis.ClusterClient); !ok {
			t.Fatalf("component %q is a %T; want *redis.ClusterClient", Component, client)
		}
		// The day's sets are spread over the masters' slots.
		var masters atomic.Int32 // ForEachMaster runs in parallel
		err = client.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			if n, err := m.DBSize(ctx).Result(); err == nil && n > 0 {
				masters.Add(1)
			}
			return nil
		})
		if err != nil || masters.Load() != 3 {
			t.Errorf("%d masters hold keys (%v); want 3", masters.Load(), err)
		}
	})

	for name, r := range results {
		if r[0] != want || r[1] != want {
			t.Errorf("%s: count %d, recount %d; want %d", name, r[0], r[1], want)
		}
	}
	if len(results) != 3 {
		t.Errorf("ran %d backends; want 3", len(results))
	}
}

// TestRealHLLError measures the HyperLogLog variant's error on a real server against its documented
// 0.81% standard error, and its size.
func TestRealHLLError(t *testing.T) {
	ctx := t.Context()
	c := redistest.RunT(t, nil).Client(t)
	r := rand.New(rand.NewPCG(3, 4))
	const n = 100_000
	counted := 0
	var worst float64
	for _, checkpoint := range []int{1_000, 10_000, 100_000} {
		p := c.Pipeline()
		for ; counted < checkpoint; counted++ {
			sid := fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
			if _, err := CountVisitHLL(ctx, p, sid, day); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		est, err := UniqueHLL(ctx, c, day)
		if err != nil {
			t.Fatal(err)
		}
		e := float64(est-int64(checkpoint)) / float64(checkpoint)
		t.Logf("%d distinct visitors: estimate %d, error %+.3f%%", checkpoint, est, 100*e)
		worst = max(worst, abs(e))
	}
	// 3 standard errors: a correct HyperLogLog stays inside this nearly always.
	if worst > 3*0.0081 {
		t.Errorf("worst error %.3f%%; want within 3 x 0.81%%", 100*worst)
	}
	size, err := c.MemoryUsage(ctx, hllKey("2024-03-01")).Result()
	// 12 KB of registers in dense form, plus the allocator's rounding (jemalloc's 14 KB size class).
	if err != nil || size > 16_384 {
		t.Errorf("HyperLogLog of %d visitors uses %d bytes (%v); want at most 16 KB", n, size, err)
	}
	t.Logf("HyperLogLog for %d visitors: %d bytes", n, size)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestCounterWithoutClient: New and NewOnClient refuse a nil registry or client with ErrNoClient,
// and a zero Counter fails every call with ErrNoClient instead of panicking.
func TestCounterWithoutClient(t *testing.T) {
	ctx := t.Context()
	if c, err := New(nil, &Options{Now: fixedClock(day)}); c != nil || !errors.Is(err, ErrNoClient) {
		t.Errorf("New(nil): %v, %v; want nil, ErrNoClient", c, err)
	}
	if c, err := NewOnClient(nil, nil); c != nil || !errors.Is(err, ErrNoClient) {
		t.Errorf("NewOnClient(nil): %v, %v; want nil, ErrNoClient", c, err)
	}
	const sid = "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2"
	c := &Counter{opt: Options{Now: fixedClock(day)}, cache: map[string]int64{}}
	calls := map[string]error{}
	_, calls["CountVisit"] = c.CountVisit(ctx, sid)
	_, calls["Expected"] = c.Expected(ctx, day)
	_, calls["Count"] = c.Count(ctx, day)
	_, calls["Recount"] = c.Recount(ctx, day)
	_, calls["CountVisitHLL"] = c.CountVisitHLL(ctx, sid)
	_, calls["UniqueHLL"] = c.UniqueHLL(ctx, day)
	for call, err := range calls {
		if !errors.Is(err, ErrNoClient) {
			t.Errorf("%s: %v; want ErrNoClient", call, err)
		}
	}
	if len(c.CachedDays()) != 0 {
		t.Errorf("cached %v after failures", c.CachedDays())
	}
}
