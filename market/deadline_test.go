package market_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
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

// How the injected step fails. The context ends at that step in every case.
const (
	faultLost   = iota // sent, run by the server, reply lost as a socket deadline reports it
	faultUnsent        // never sent: the dial timed out
	faultCtx           // never sent: go-redis saw the context over (its pool does)
	faultAfter         // the step succeeds; the context ends right after it
	faults
)

var (
	timeoutRead = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	timeoutDial = &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
)

// stepHook counts the requests of a call (commands and pipelines) and fails request k as fault says,
// ending ctx there.
func stepHook(ctx *endCtx, k int64, fault int, steps *atomic.Int64) hook {
	fail := func(run func() error) error {
		switch fault {
		case faultLost:
			run()
			ctx.end()
			return timeoutRead
		case faultUnsent:
			ctx.end()
			return timeoutDial
		case faultCtx:
			ctx.end()
			return ctx.Err()
		}
		err := run()
		ctx.end()
		return err
	}
	return hook{
		process: func(next redis.ProcessHook) redis.ProcessHook {
			return func(c context.Context, cmd redis.Cmder) error {
				if cmd.Name() == "hello" || cmd.Name() == "client" || steps.Add(1)-1 != k {
					return next(c, cmd)
				}
				err := fail(func() error { return next(c, cmd) })
				if err != nil {
					cmd.SetErr(err)
				}
				return err
			}
		},
		pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
			return func(c context.Context, cmds []redis.Cmder) error {
				if steps.Add(1)-1 != k {
					return next(c, cmds)
				}
				err := fail(func() error { return next(c, cmds) })
				if err != nil && fault != faultAfter {
					for _, cmd := range cmds {
						cmd.SetErr(err)
					}
				}
				return err
			}
		},
	}
}

// marketOp is one operation of a variant on the book's story, ItemM listed first for a purchase.
type marketOp struct {
	name     string
	prepared func(t testing.TB, m market.Market, c *redis.Client)
	run      func(ctx context.Context, m market.Market, c *redis.Client) error
}

var marketOps = []marketOp{
	{"list", func(t testing.TB, _ market.Market, c *redis.Client) { setupStory(t, c) },
		func(ctx context.Context, m market.Market, c *redis.Client) error {
			_, err := m.ListItem(ctx, c, "ItemM", "17", 97)
			return err
		}},
	{"purchase", func(t testing.TB, m market.Market, c *redis.Client) {
		setupStory(t, c)
		_, err := m.ListItem(context.Background(), c, "ItemM", "17", 97)
		must(t, err)
	}, func(ctx context.Context, m market.Market, c *redis.Client) error {
		_, err := m.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
		return err
	}},
}

// TestCtxEndedErrors ends the context at a random request of a random operation, failing that request
// in each way go-redis can. Whatever happens, an error matches ctx.Err(); an error other than
// ErrUnknownOutcome left the data as it was; a success or a change is the whole operation.
func TestCtxEndedErrors(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	for i := range 300 {
		v := variants[rng.IntN(len(variants))]
		op := marketOps[rng.IntN(len(marketOps))]
		cause := []error{context.DeadlineExceeded, context.Canceled}[rng.IntN(2)]
		fault := rng.IntN(faults)

		// A run without faults: the requests it makes, and the data it leaves.
		rm, rcheck := newMini(t)
		op.prepared(t, v.m, rcheck)
		ref := redis.NewClient(&redis.Options{Addr: rm.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
		var steps atomic.Int64
		ref.AddHook(stepHook(newEndCtx(cause), -1, fault, &steps))
		must(t, op.run(context.Background(), v.m, ref))
		ref.Close()
		applied := dump(t, rcheck)
		k := rng.Int64N(steps.Load())

		m, check := newMini(t)
		op.prepared(t, v.m, check)
		before := dump(t, check)
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
		ctx := newEndCtx(cause)
		steps.Store(0)
		c.AddHook(stepHook(ctx, k, fault, &steps))
		err := op.run(ctx, v.m, c)
		c.Close()
		after := dump(t, check)

		what := func() string { return fmt.Sprintf("%s %s, request %d, fault %d", v.name, op.name, k, fault) }
		switch {
		case err != nil && !errors.Is(err, cause):
			t.Fatalf("case %d %s: err %v does not match %v", i, what(), err, cause)
		case err == nil && after != applied:
			t.Fatalf("case %d %s: success, but data:\n%s\nwant:\n%s", i, what(), after, applied)
		case err != nil && !errors.Is(err, market.ErrUnknownOutcome) && after != before:
			t.Fatalf("case %d %s: err %v says nothing was written, but data:\n%s\nwas:\n%s", i, what(), err, after, before)
		case after != before && after != applied:
			t.Fatalf("case %d %s: half applied:\n%s", i, what(), after)
		}
	}
}

// A deadline that has passed while its timer has not run yet: go-redis reports "i/o timeout" from
// the socket, and the error must still match context.DeadlineExceeded.
func TestDeadlinePassedTimerLate(t *testing.T) {
	for _, v := range variants {
		for _, op := range marketOps {
			t.Run(v.name+" "+op.name, func(t *testing.T) {
				_, c := newMini(t)
				op.prepared(t, v.m, c)
				ctx := newEndCtx(context.DeadlineExceeded)
				ctx.past = time.Now().Add(-time.Millisecond)
				time.AfterFunc(5*time.Millisecond, ctx.end) // the timer, late
				err := op.run(ctx, v.m, c)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err %v; want it to match context.DeadlineExceeded", err)
				}
			})
		}
	}
}

// TestDeadlineErrorsRealServer: on a paused server the same short deadline, again and again, on a
// pooled or a new connection, ended or cancelled, must give an error matching the context's, and
// the outcome's sentinel: a script on a connection that was open is ErrUnknownOutcome (it may have
// been sent); WATCH unanswered committed nothing.
func TestDeadlineErrorsRealServer(t *testing.T) {
	srv := redistest.RunT(t, nil)
	warm := realClient(t, srv, 8)
	setupStory(t, warm)
	_, err := market.ListItem(context.Background(), warm, "ItemM", "17", 97)
	must(t, err)
	must(t, srv.Pause())
	t.Cleanup(func() { srv.Resume() })

	cold := func() *redis.Client { return realClient(t, srv, 1) }
	for rep := range 4 {
		for _, v := range variants {
			for _, op := range marketOps {
				for _, cancel := range []bool{false, true} {
					for _, fresh := range []bool{false, true} {
						c := warm
						if fresh {
							c = cold()
						}
						ctx, stop := context.WithTimeout(context.Background(), 40*time.Millisecond)
						want := context.DeadlineExceeded
						if cancel {
							want = context.Canceled
							time.AfterFunc(10*time.Millisecond, stop)
						}
						err := op.run(ctx, v.m, c)
						stop()
						name := v.name + " " + op.name
						if !errors.Is(err, want) {
							t.Errorf("rep %d %s (new connection %v, cancelled %v): %v; want it to match %v",
								rep, name, fresh, cancel, err, want)
						}
						if v.name == "watch" && errors.Is(err, market.ErrUnknownOutcome) {
							t.Errorf("rep %d %s: %v; WATCH got no reply, so nothing was committed", rep, name, err)
						}
						if v.name == "script" && !fresh && !errors.Is(err, market.ErrUnknownOutcome) {
							t.Errorf("rep %d %s: %v; want ErrUnknownOutcome, the script may have been sent", rep, name, err)
						}
					}
				}
			}
		}
	}
}

// A nil reply to the script is the server's answer (the shared rule's Reply), not a refusal: the
// error must not say the script was refused, as it ran to its end.
func TestScriptNilReply(t *testing.T) {
	_, c := newMini(t)
	setupStory(t, c)
	c.AddHook(hook{process: func(next redis.ProcessHook) redis.ProcessHook {
		return func(ctx context.Context, cmd redis.Cmder) error {
			if !isScript(cmd) {
				return next(ctx, cmd)
			}
			cmd.SetErr(redis.Nil)
			return redis.Nil
		}
	}})
	_, err := market.Script{}.ListItem(context.Background(), c, "ItemM", "17", 97)
	if err == nil || !strings.Contains(err.Error(), "empty script reply") || strings.Contains(err.Error(), "refused") {
		t.Fatalf("err %v; want an empty script reply, not a refusal", err)
	}
}
