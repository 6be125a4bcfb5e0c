package tokens_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/tokens"
)

// endCtx is a context the test ends at a chosen point of a call: Done closes and Err reports err.
// With past set, its deadline has passed from the start, as go-redis sees it on the socket, while
// Err stays nil until end: a context whose timer has not run yet.
type endCtx struct {
	context.Context
	err  error
	past time.Time
	done chan struct{}
	once sync.Once
}

func newEndCtx(err error) *endCtx {
	return &endCtx{Context: context.Background(), err: err, done: make(chan struct{})}
}

func (c *endCtx) end()                  { c.once.Do(func() { close(c.done) }) }
func (c *endCtx) Done() <-chan struct{} { return c.done }
func (c *endCtx) Deadline() (time.Time, bool) {
	return c.past, !c.past.IsZero()
}
func (c *endCtx) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// How the injected request fails. The context ends at that request in every case.
const (
	faultLost   = iota // sent, run by the server, reply lost as a socket deadline reports it
	faultUnsent        // never sent: the dial timed out
	faultCtx           // never sent: go-redis saw the context over (its pool does)
	faultAfter         // the request succeeds; the context ends right after it
	faults
)

var (
	timeoutRead = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	timeoutDial = &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
)

// stepHook counts the update's requests (commands or the pipeline) and fails request k as fault
// says, ending ctx there.
type stepHook struct {
	ctx   *endCtx
	k     int64
	fault int
	steps *atomic.Int64
}

func (h stepHook) fail(run func() error) error {
	switch h.fault {
	case faultLost:
		run()
		h.ctx.end()
		return timeoutRead
	case faultUnsent:
		h.ctx.end()
		return timeoutDial
	case faultCtx:
		h.ctx.end()
		return h.ctx.Err()
	}
	err := run()
	h.ctx.end()
	return err
}

func (h stepHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h stepHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !isUpdate(cmd) || h.steps.Add(1)-1 != h.k {
			return next(ctx, cmd)
		}
		err := h.fail(func() error { return next(ctx, cmd) })
		if err != nil {
			cmd.SetErr(err)
		}
		return err
	}
}
func (h stepHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || !isUpdate(cmds[0]) || h.steps.Add(1)-1 != h.k {
			return next(ctx, cmds)
		}
		err := h.fail(func() error { return next(ctx, cmds) })
		if err != nil && h.fault != faultAfter {
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
		}
		return err
	}
}

// TestCtxEndedErrors ends the context at a random request of an update, failing that request in each
// way go-redis can. Whatever happens, an error matches ctx.Err(); a lost reply is ErrUnknownOutcome
// and a request never sent is not; a success wrote everything; a view is never counted twice.
func TestCtxEndedErrors(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("seed %d", seed)
	for i := range 300 {
		vs := variants(newUpdater(nil))
		v := vs[rng.IntN(len(vs))]
		item := []string{"", "item"}[rng.IntN(2)]
		cause := []error{context.DeadlineExceeded, context.Canceled}[rng.IntN(2)]
		fault := rng.IntN(faults)
		requests := int64(1) // the pipeline
		if v.name == "plain" {
			requests = map[string]int64{"": 2, "item": 5}[item]
		}
		k := rng.Int64N(requests)

		m, check := newMini(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
		ctx := newEndCtx(cause)
		var steps atomic.Int64
		c.AddHook(stepHook{ctx: ctx, k: k, fault: fault, steps: &steps})
		_, err := v.f(ctx, c, "tok", "u", item)
		c.Close()

		views := check.ZScore(context.Background(), "viewed:", "item").Val()
		login := check.HGet(context.Background(), "login:", "tok").Val()
		last := k == requests-1
		switch {
		case steps.Load() <= k:
			t.Fatalf("case %d %s: %d requests made; want more than %d", i, v.name, steps.Load(), k)
		case err != nil && !errors.Is(err, cause):
			t.Fatalf("case %d %s, request %d, fault %d: err %v does not match %v", i, v.name, k, fault, err, cause)
		case fault == faultAfter && last && err != nil:
			t.Fatalf("case %d %s: every request succeeded, yet err %v", i, v.name, err)
		case err == nil && (login != "u" || (item != "" && views != -1)):
			t.Fatalf("case %d %s: success, but login: tok %q, viewed: item %v", i, v.name, login, views)
		case views != 0 && views != -1:
			t.Fatalf("case %d %s: viewed: item %v; want 0 or -1", i, v.name, views)
		case fault == faultLost && !errors.Is(err, tokens.ErrUnknownOutcome):
			t.Fatalf("case %d %s, request %d: lost reply gave %v; want ErrUnknownOutcome", i, v.name, k, err)
		case fault == faultUnsent && (err == nil || errors.Is(err, tokens.ErrUnknownOutcome)):
			t.Fatalf("case %d %s, request %d: a request never sent gave %v; want a plain error", i, v.name, k, err)
		}
	}
}

// A deadline that has passed while its timer has not run yet: go-redis reports "i/o timeout" from
// the socket, and the error must still match context.DeadlineExceeded.
func TestDeadlinePassedTimerLate(t *testing.T) {
	for _, v := range variants(newUpdater(nil)) {
		t.Run(v.name, func(t *testing.T) {
			_, c := newMini(t)
			must(t, c.Ping(context.Background()).Err())
			ctx := newEndCtx(context.DeadlineExceeded)
			ctx.past = time.Now().Add(-time.Millisecond)
			time.AfterFunc(5*time.Millisecond, ctx.end) // the timer, late
			_, err := v.f(ctx, c, "tok", "u", "item")
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, tokens.ErrUnknownOutcome) {
				t.Fatalf("err %v; want it to match context.DeadlineExceeded and ErrUnknownOutcome", err)
			}
		})
	}
}

// TestDeadlineErrorsRealServer: on a paused server the same short deadline, again and again, on a
// pooled or a new connection, ended or cancelled, must give an error matching the context's, and
// ErrUnknownOutcome on a connection that was open (the first command may have been sent).
func TestDeadlineErrorsRealServer(t *testing.T) {
	srv := redistest.RunT(t, nil)
	warm := realClient(t, srv, 8)
	must(t, warm.Ping(context.Background()).Err())
	must(t, srv.Pause())
	t.Cleanup(func() { srv.Resume() })

	for rep := range 4 {
		for _, v := range variants(newUpdater(nil)) {
			for _, cancel := range []bool{false, true} {
				for _, fresh := range []bool{false, true} {
					c := warm
					if fresh {
						c = realClient(t, srv, 1)
					}
					ctx, stop := context.WithTimeout(context.Background(), 40*time.Millisecond)
					want := context.DeadlineExceeded
					if cancel {
						want = context.Canceled
						time.AfterFunc(10*time.Millisecond, stop)
					}
					_, err := v.f(ctx, c, "tok", "u", "item")
					stop()
					if !errors.Is(err, want) {
						t.Errorf("rep %d %s (new connection %v, cancelled %v): %v; want it to match %v",
							rep, v.name, fresh, cancel, err, want)
					}
					if !fresh && !errors.Is(err, tokens.ErrUnknownOutcome) {
						t.Errorf("rep %d %s: %v; want ErrUnknownOutcome", rep, v.name, err)
					}
				}
			}
		}
	}
}
