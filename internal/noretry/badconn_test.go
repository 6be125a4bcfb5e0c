package noretry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/redistest"
)

// A *redis.Conn whose connection broke refuses the next command before writing it: that command
// was not sent, whatever earlier failure the refusal wraps.
func TestBadConnNotSent(t *testing.T) {
	ctx := context.Background()
	srv := redistest.RunT(t, nil)
	c := srv.Client(t)
	conn := c.Conn()
	defer conn.Close()
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Client(t).ClientKillByFilter(ctx, "ID", fmt.Sprint(id)).Err(); err != nil {
		t.Fatal(err)
	}
	first := conn.Incr(ctx, "n").Err() // written to a closed socket, or its reply lost
	if got := noretry.Classify(first); got != noretry.Unknown && got != noretry.NotSent {
		t.Fatalf("first command after the kill: %v classified %v", first, got)
	}
	second := conn.Incr(ctx, "n").Err()
	if second == nil {
		t.Fatal("a Conn whose connection was killed ran a command")
	}
	if got := noretry.Classify(fmt.Errorf("market: list: %w", second)); got != noretry.NotSent {
		t.Fatalf("the refusal %q: %v, want NotSent", second, got)
	}
	if n, err := c.Get(ctx, "n").Int(); err == nil && n > 1 {
		t.Fatalf("n = %d: the refused INCR ran", n)
	}
}
