package tokens_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/tokens"
)

func ExampleUpdateTokenPipeline() {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		panic(err)
	}
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	ctx := context.Background()

	// A fixed clock, so the timestamps are known.
	at := time.Date(2013, 6, 1, 12, 0, 0, 0, time.UTC)
	u, err := tokens.New(&tokens.Options{Now: func() time.Time { return at }})
	if err != nil {
		panic(err)
	}

	up, err := u.UpdateToken(ctx, c, "d2f1b6", "bill", "ItemM")
	if err != nil {
		panic(err)
	}
	fmt.Printf("plain: %d commands in %d round trips at %.0f\n", up.Commands, up.RoundTrips, up.Timestamp)
	up, err = u.UpdateTokenPipeline(ctx, c, "d2f1b6", "bill", "ItemN")
	if err != nil {
		panic(err)
	}
	fmt.Printf("pipeline: %d commands in %d round trip\n", up.Commands, up.RoundTrips)

	fmt.Println("login:", c.HGet(ctx, "login:", "d2f1b6").Val())
	fmt.Println("viewed:d2f1b6", c.ZRange(ctx, "viewed:d2f1b6", 0, -1).Val())
	fmt.Println("viewed:", c.ZRangeWithScores(ctx, "viewed:", 0, -1).Val())
	// Output:
	// plain: 5 commands in 5 round trips at 1370088000
	// pipeline: 5 commands in 1 round trip
	// login: bill
	// viewed:d2f1b6 [ItemM ItemN]
	// viewed: [{-1 ItemM} {-1 ItemN}]
}
