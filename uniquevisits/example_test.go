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

func ExampleCountVisit() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	m.Start()
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	today := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, sid := range []string{
		"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2",
		"00000000-0000-0000-0000-000000000001",
		"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", // again: not new
	} {
		v, _ := uniquevisits.CountVisit(ctx, c, sid, today) // chapter 9: one server
		fmt.Println(v.Set, v.New, v.Count)
	}
	n, _ := uniquevisits.Count(ctx, c, today)
	fmt.Println("unique visitors:", n)
	// Output:
	// unique:2024-03-01:8089 true 1
	// unique:2024-03-01:4525 true 2
	// unique:2024-03-01:8089 false 0
	// unique visitors: 2
}

func ExampleExpected() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	m.Start()
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	m.Set("unique:2024-03-01", "100") // yesterday's count
	today := time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)
	e, _ := uniquevisits.Expected(ctx, c, today, uniquevisits.DailyExpected)
	unknown, _ := uniquevisits.Expected(ctx, c, today.AddDate(0, 0, 5), uniquevisits.DailyExpected)
	fmt.Println(e, unknown)
	// Output: 256 2097152
}

func ExampleCounter_CountVisit() {
	ctx := context.Background()
	cfg := miniredis.NewMiniRedis()
	cfg.Start()
	defer cfg.Close()
	cfgClient := redis.NewClient(&redis.Options{Addr: cfg.Addr()})
	defer cfgClient.Close()
	reg, err := conn.New(cfgClient, nil)
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	// Chapter 10: sets on config:redis:unique:0 and :1, counts on config:redis:unique.
	for _, comp := range []string{shard.ShardComponent("unique", 0), shard.ShardComponent("unique", 1), "unique"} {
		m := miniredis.NewMiniRedis()
		m.Start()
		defer m.Close()
		reg.SetConfig(ctx, comp, map[string]any{"host": m.Host(), "port": m.Server().Addr().Port})
	}
	now := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	counter, err := uniquevisits.New(reg, &uniquevisits.Options{Shards: 2, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	for _, sid := range []string{
		"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2",
		"00000000-0000-0000-0000-000000000001",
		"12345678-9abc-def0-1234-56789abcdef0",
		"{12345678-9ABC-DEF0-1234-56789ABCDEF0}", // the same session spelled another way: not new
	} {
		v, err := counter.CountVisit(ctx, sid)
		fmt.Println(v.Shard, v.Set, v.New, err)
	}
	_, err = counter.CountVisit(ctx, "12345678-9abc-def0-1234-56789abcdef0x")
	fmt.Println(errors.Is(err, uniquevisits.ErrBadSessionID))
	n, _ := counter.Count(ctx, now)
	exact, _ := counter.Recount(ctx, now)
	fmt.Println(n, exact)
	// Output:
	// unique:1 unique:2024-03-01:8089 true <nil>
	// unique:0 unique:2024-03-01:4525 true <nil>
	// unique:0 unique:2024-03-01:2742 true <nil>
	// unique:0 unique:2024-03-01:2742 false <nil>
	// true
	// 3 3
}

func ExampleCountVisitHLL() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	m.Start()
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	today := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, sid := range []string{
		"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2",
		"00000000-0000-0000-0000-000000000001",
		"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", // again: the estimate does not change
	} {
		changed, _ := uniquevisits.CountVisitHLL(ctx, c, sid, today)
		fmt.Println(changed)
	}
	_, err := uniquevisits.CountVisitHLL(ctx, c, "not-a-session", today)
	n, _ := uniquevisits.UniqueHLL(ctx, c, today) // an estimate: exact at this size
	fmt.Println(n, errors.Is(err, uniquevisits.ErrBadSessionID))
	// Output:
	// true
	// true
	// false
	// 2 true
}
