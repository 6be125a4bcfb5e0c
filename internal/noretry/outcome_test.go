package noretry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestClassify(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	read := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		name string
		err  error
		want Outcome
	}{
		{"nil", nil, Done},
		{"nil reply", redis.Nil, Reply},
		{"wrapped nil reply", fmt.Errorf("x: %w", redis.Nil), Reply},
		{"pool timeout", redis.ErrPoolTimeout, NotSent},
		{"pool exhausted", redis.ErrPoolExhausted, NotSent},
		{"closed", redis.ErrClosed, NotSent},
		{"dial", fmt.Errorf("wrapped: %w", dial), NotSent},
		{"read timeout", read, Unknown},
		{"ctx", context.Canceled, Unknown},
		{"eof", errors.New("EOF"), Unknown},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("%s: Classify = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestCtxErr(t *testing.T) {
	read := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	sentinel := errors.New("pkg: not synced")
	wrapped := fmt.Errorf("%w: %w", sentinel, read)

	live := context.Background()
	if got := CtxErr(live, wrapped); got != wrapped {
		t.Fatalf("live ctx: got %v; want the error unchanged", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := CtxErr(ctx, wrapped)
	if !errors.Is(got, context.Canceled) || !errors.Is(got, sentinel) || !errors.Is(got, os.ErrDeadlineExceeded) {
		t.Fatalf("ended ctx: %v should match Canceled, the sentinel and the cause", got)
	}
	if CtxErr(ctx, nil) != nil {
		t.Fatal("nil must stay nil")
	}
	already := fmt.Errorf("x: %w", context.Canceled)
	if CtxErr(ctx, already) != already {
		t.Fatal("an error that already wraps ctx.Err() must stay as it is")
	}
}

// A deadline that has passed counts as ended even before ctx's timer has fired.
func TestEndedAtDeadline(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	read := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	if err := CtxErr(ctx, read); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v; want it to match DeadlineExceeded", err)
	}
	if Ended(context.Background()) {
		t.Fatal("a context without a deadline has not ended")
	}
}

// reply is a server's error reply, as go-redis reads one.
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

// IsSlotMoving is true for the three replies of a moved or moving slot, as sent, and for nothing
// else: not for other replies, not for the same text that is no reply, not for a wrapped reply.
func TestIsSlotMoving(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	prefixes := []string{"MOVED ", "ASK ", "TRYAGAIN ", "MOVED", "TRYAGAIN", "CROSSSLOT ", "ERR ", "moved ", " ASK ", ""}
	for range 2000 {
		p := prefixes[rng.IntN(len(prefixes))]
		tail := make([]byte, rng.IntN(12))
		for i := range tail {
			tail[i] = byte(' ' + rng.IntN(95))
		}
		msg := p + string(tail)
		want := strings.HasPrefix(msg, "MOVED ") || strings.HasPrefix(msg, "ASK ") || strings.HasPrefix(msg, "TRYAGAIN ")
		if got := IsSlotMoving(reply(msg)); got != want {
			t.Fatalf("IsSlotMoving(reply %q) = %v; want %v", msg, got, want)
		}
		if IsSlotMoving(errors.New(msg)) || IsSlotMoving(fmt.Errorf("x: %w", reply(msg))) {
			t.Fatalf("IsSlotMoving(%q) true for an error that is not the reply itself", msg)
		}
	}
	if IsSlotMoving(nil) || IsSlotMoving(redis.Nil) {
		t.Fatal("IsSlotMoving true for nil or redis.Nil")
	}
}
