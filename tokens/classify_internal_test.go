package tokens

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// replyErr is an error reply as go-redis types them.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

// An update's error follows the toolkit's one rule: a reply is plain, not sent says so, anything else
// is ErrUnknownOutcome; the cause always wrapped.
func TestClassifyFollowsNoretry(t *testing.T) {
	causes := []error{
		redis.Nil, replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"),
		redis.ErrPoolTimeout, redis.ErrPoolExhausted, redis.ErrClosed,
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded},
		&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded},
		&net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE},
		io.EOF, context.Canceled, context.DeadlineExceeded,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		cause := causes[rng.IntN(len(causes))]
		err := cause
		for range rng.IntN(4) {
			err = fmt.Errorf("layer: %w", err)
		}
		got := classify("zincrby", "", err)
		outcome := noretry.Classify(err)
		if errors.Is(got, ErrUnknownOutcome) != (outcome == noretry.Unknown) {
			t.Fatalf("classify(%v) = %v; Classify says %v", err, got, outcome)
		}
		if strings.Contains(got.Error(), "not sent") != (outcome == noretry.NotSent) {
			t.Fatalf("classify(%v) = %v; Classify says %v", err, got, outcome)
		}
		if !errors.Is(got, cause) {
			t.Fatalf("classify(%v) = %v does not wrap the cause", err, got)
		}
	}
}
