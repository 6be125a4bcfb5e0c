package uniquevisits_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
)

func ExampleCounter_CountVisits() {
	ctx := context.Background()
	cfg := scaleMini()
	defer cfg.Close()
	cfgClient := redis.NewClient(&redis.Options{Addr: cfg.Addr()})
	defer cfgClient.Close()
	reg, _ := conn.New(cfgClient, nil)
	defer reg.Close()
	// Chapter 10: sets on unique:0 and unique:1, counts on unique.
	for _, comp := range []string{shard.ShardComponent("unique", 0), shard.ShardComponent("unique", 1), "unique"} {
		m := scaleMini()
		defer m.Close()
		reg.SetConfig(ctx, comp, map[string]any{"addr": m.Addr()})
	}
	now := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	counter, _ := uniquevisits.New(reg, &uniquevisits.Options{Shards: 2, Now: func() time.Time { return now }})
	// One pipeline of SADDs per server, then one INCRBY for the new visitors.
	results, err := counter.CountVisits(ctx, []string{
		"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2",
		"00000000-0000-0000-0000-000000000001",
		"not a session id",                     // fails only itself
		"6A1F0A42-0D23-4D6E-9A4C-4AB3E5C6F1D2", // the first visitor again: not new
		"12345678-9abc-def0-1234-56789abcdef0",
	})
	for _, r := range results {
		fmt.Println(r.Visit.Shard, r.Visit.New, r.Visit.Count, errors.Is(r.Err, uniquevisits.ErrBadSessionID))
	}
	n, _ := counter.Count(ctx, now)
	fmt.Println("batch error:", err, "count:", n)
	// Output:
	// unique:1 true 1 false
	// unique:0 true 2 false
	//  false 0 true
	// unique:1 false 0 false
	// unique:0 true 3 false
	// batch error: <nil> count: 3
}

// A week's unique visitors in the three variants: the sharded sets (a streaming union), the
// HyperLogLog (PFCOUNT of the days) and the bitmap (BITOP OR of the days).
func ExampleCounter_UniqueRange() {
	ctx := context.Background()
	m := scaleMini()
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	monday := time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)
	now := monday
	counter, _ := uniquevisits.NewOnClient(c, &uniquevisits.Options{Now: func() time.Time { return now }})
	bitmap, _ := uniquevisits.NewBitmap(c, &uniquevisits.BitmapOptions{Now: func() time.Time { return now }})
	users := map[int64]string{ // dense user ids and their session ids
		1: "00000000-0000-0010-8000-000000000000",
		2: "00000000-0000-0020-8000-000000000000",
		3: "00000000-0000-0030-8000-000000000000",
	}
	for day, who := range [][]int64{{1, 2}, {2}, {}, {1, 3}, {3}, {}, {2}} {
		now = monday.AddDate(0, 0, day)
		for _, u := range who {
			counter.CountVisits(ctx, []string{users[u]})
			counter.CountVisitHLL(ctx, users[u])
			bitmap.CountVisit(ctx, u)
		}
	}
	sunday := monday.AddDate(0, 0, 6)
	sets, _ := counter.UniqueRange(ctx, monday, sunday, nil)
	hll, _ := counter.UniqueRangeHLL(ctx, monday, monday) // one day: miniredis sums several days' estimates
	bits, _ := bitmap.CountRange(ctx, monday, sunday)
	weekdays, _ := bitmap.CountRange(ctx, monday.AddDate(0, 0, 1), monday.AddDate(0, 0, 4))
	fmt.Println("sets:", sets, "bitmap:", bits, "Tuesday to Friday:", weekdays, "HyperLogLog on Monday:", hll)
	_, err := counter.UniqueRange(ctx, sunday, monday, nil)
	fmt.Println(errors.Is(err, uniquevisits.ErrBadRange))
	// Output:
	// sets: 3 bitmap: 3 Tuesday to Friday: 3 HyperLogLog on Monday: 2
	// true
}

func ExampleBitmap() {
	ctx := context.Background()
	m := scaleMini()
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	today := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	// Ids up to a million: a day's bitmap takes 125 KB at most.
	b, _ := uniquevisits.NewBitmap(c, &uniquevisits.BitmapOptions{MaxID: 1_000_000, Now: func() time.Time { return today }})
	for _, id := range []int64{42, 7, 42} {
		v, _ := b.CountVisit(ctx, id)
		fmt.Println(v.Key, v.ID, v.New)
	}
	_, err := b.CountVisit(ctx, 1_000_001)
	var ue *uniquevisits.UserIDError
	fmt.Println(errors.As(err, &ue), ue.Max)
	n, _ := b.Count(ctx, today)
	fmt.Println("unique visitors:", n)
	// Output:
	// unique:bitmap:2024-03-01 42 true
	// unique:bitmap:2024-03-01 7 true
	// unique:bitmap:2024-03-01 42 false
	// true 1000000
	// unique visitors: 2
}

// scaleMini starts a miniredis server.
func scaleMini() *miniredis.Miniredis {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		panic(err)
	}
	return m
}
