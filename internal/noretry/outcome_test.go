package noretry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
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
