package main

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/tokens"
)

// The functions Table 4.4 times, called as the book's benchmark calls them: (conn, 'token', 'user', 'item').
// Each checks the round trips the call reports, since the table's ceilings assume 5 and 1.

func updateToken(ctx context.Context, c redis.Cmdable) error {
	up, err := tokens.UpdateToken(ctx, c, "token", "user", "item")
	return checkRoundTrips(up, err, 5)
}

func updateTokenPipeline(ctx context.Context, c redis.Cmdable) error {
	up, err := tokens.UpdateTokenPipeline(ctx, c, "token", "user", "item")
	return checkRoundTrips(up, err, 1)
}

func checkRoundTrips(up tokens.Update, err error, want int) error {
	if err != nil {
		return err
	}
	if up.RoundTrips != want {
		return fmt.Errorf("%d round trips; the table's ceilings assume %d", up.RoundTrips, want)
	}
	return nil
}
