package market

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// replyErr is an error reply as go-redis types them.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

// causes are the errors go-redis returns, of every outcome noretry tells apart.
var causes = []error{
	redis.Nil, replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"),
	replyErr("EXECABORT Transaction discarded because of previous errors."),
	redis.ErrPoolTimeout, redis.ErrPoolExhausted, redis.ErrClosed,
	&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
	&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded},
	&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded},
	&net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE},
	io.EOF, context.Canceled, context.DeadlineExceeded,
}

// wrapped is cause under 0 to 3 layers of wrapping, sometimes with an ended context's error too.
func wrapped(rng *rand.Rand, cause error) error {
	err := cause
	for range rng.IntN(4) {
		err = fmt.Errorf("layer: %w", err)
	}
	if rng.IntN(2) == 0 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = noretry.CtxErr(ctx, err)
	}
	return err
}

// The commit's error follows the toolkit's one rule: ErrUnknownOutcome unless EXECABORT (nothing
// ran) or not sent; the cause always wrapped.
func TestCommitErrorFollowsNoretry(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		cause := causes[rng.IntN(len(causes))]
		err := wrapped(rng, cause)
		got := commitError("purchase", err)
		want := !redis.IsExecAbortError(err) && noretry.Classify(err) != noretry.NotSent
		if errors.Is(got, ErrUnknownOutcome) != want {
			t.Fatalf("commitError(%v) = %v; ErrUnknownOutcome should be %v (Classify %v)", err, got, want, noretry.Classify(err))
		}
		if !errors.Is(got, cause) {
			t.Fatalf("commitError(%v) = %v does not wrap the cause", err, got)
		}
	}
}
