package writes_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/faulttest"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/redistest/faultproxy"
	"github.com/ria-go/ria/tokens"
	"github.com/ria-go/ria/uniquevisits"
)

// The toolkit's non-idempotent writes outside MULTI (grep of INCR, HINCRBY, ZINCRBY and friends over the
// packages): tokens' ZINCRBY on viewed: (UpdateToken, UpdateTokenPipeline) and uniquevisits' INCR on
// unique:<date> (CountVisit, after a SADD that found the id new). The market's HINCRBYs run inside
// MULTI/EXEC or a script (see internal/faulttest/market), logs' callback writes inside MULTI/EXEC;
// shard's SADD and uniquevisits' PFADD are idempotent.
const (
	workers     = 8
	nItems      = 12
	opTimeout   = 200 * time.Millisecond
	shortCalls  = 12_000
	soakCalls   = 1_000_000
	faultCycles = 3 // every fault at least this many times per run
)

var day = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// notSent mirrors the toolkit's own test for an error that certainly came before the request left.
func notSent(err error) bool {
	var op *net.OpError
	return errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, redis.ErrPoolExhausted) || (errors.As(err, &op) && op.Op == "dial")
}

// tally counts, per key, the writes acknowledged and those whose outcome is unknown.
type tally struct {
	acked, unknown int
}

func (t tally) check(final int) error {
	if final < t.acked || final > t.acked+t.unknown {
		return fmt.Errorf("final %d; want %d acknowledged <= final <= %d with the unknown outcomes",
			final, t.acked, t.acked+t.unknown)
	}
	return nil
}

// worker's own tallies (merged at the end).
type worker struct {
	views   [nItems]tally
	visits  tally
	ids     []string
	calls   int
	byError map[string]int
}

// fault is a read timeout or a lost reply, injected for hold.
type fault struct {
	name   string
	inject func(rng *rand.Rand) (remove func() error, hold time.Duration, err error)
}

// removeFunc removes tx, giving Toxiproxy 20 s: past that it is stuck (faultproxy.ErrStuck).
func removeFunc(tx faultproxy.Toxic) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return tx.Remove(ctx)
	}
}

func readFaults(srv *redistest.Server, p *faultproxy.Proxy) []fault {
	ms := func(rng *rand.Rand, lo, hi int) time.Duration {
		return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond
	}
	return []fault{
		{"late replies", func(rng *rand.Rand) (func() error, time.Duration, error) {
			// The server applies the write; its reply arrives after the caller's deadline.
			tx, err := p.Latency(faultproxy.Downstream, opTimeout+100*time.Millisecond, 50*time.Millisecond)
			return removeFunc(tx), ms(rng, 300, 600), err
		}},
		{"pause server", func(rng *rand.Rand) (func() error, time.Duration, error) {
			// Requests wait in the socket; they run on resume, after their callers gave up.
			return srv.Resume, ms(rng, 300, 700), srv.Pause()
		}},
		{"reset replies", func(rng *rand.Rand) (func() error, time.Duration, error) {
			// New connections are reset when the first reply reaches the proxy: EOF after the write ran,
			// the error go-redis retries by default.
			tx, err := p.Add(faultproxy.ToxicSpec{Type: "reset_peer", Direction: faultproxy.Downstream,
				Toxicity: 0.5, Attributes: map[string]any{"timeout": rng.IntN(5)}})
			return removeFunc(tx), ms(rng, 150, 300), err
		}},
	}
}

// calls is the number of calls: shortCalls, soakCalls with RIA_SOAK=1, or RIA_SOAK_OPS (see
// package faulttest).
func calls(t *testing.T) int64 {
	if n, ok := faulttest.Ops(t); ok {
		return n
	}
	if faulttest.Soak(t) {
		return soakCalls
	}
	return shortCalls
}

// TestNoDoubleWritesUnderReadTimeouts updates tokens and counts visits from several goroutines through
// clients made by conn (no retries), behind a fault proxy, while replies are delayed past the callers'
// deadlines, the server is paused after receiving, and replies are reset. Afterwards every counter
// satisfies acknowledged <= final <= acknowledged + unknown-outcome writes: no write was applied twice.
// Short form: at least 12,000 calls and every fault 3 times, about 8 s under -race. Soak, 1,000,000
// calls in about 3m40s without -race:
//
//	RIA_SOAK=1 go test -timeout 1h -run TestNoDoubleWrites -v ./internal/faulttest/writes/
func TestNoDoubleWritesUnderReadTimeouts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := redistest.RunT(t, nil)
	p := faultproxy.StartT(t, srv.Addr())
	cfgServer := miniredis.RunT(t)
	cfg := redis.NewClient(&redis.Options{Addr: cfgServer.Addr()})
	t.Cleanup(func() { cfg.Close() })
	reg, err := conn.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	for _, comp := range []string{"tokens", "unique", "unique:0", "unique:1"} {
		if err := reg.SetConfig(ctx, comp, map[string]any{"addr": p.Addr(), "pool_size": 2 * workers, "dial_timeout": "500ms"}); err != nil {
			t.Fatal(err)
		}
	}
	update := conn.Wrap3(reg, "tokens", tokens.UpdateToken)
	updatePipe := conn.Wrap3(reg, "tokens", tokens.UpdateTokenPipeline)
	counter, err := uniquevisits.New(reg, &uniquevisits.Options{Shards: 2, DailyExpected: 4096, Now: func() time.Time { return day }})
	if err != nil {
		t.Fatal(err)
	}

	target := calls(t)
	fs := readFaults(srv, p)
	var made, episodes atomic.Int64
	start := time.Now()
	deadline := start.Add(10 * time.Minute)
	if target > shortCalls {
		deadline = start.Add(time.Duration(target) * 5 * time.Millisecond)
	}
	faultsDone := make(chan struct{}) // closed when the schedule ends, early on an error
	var stuck atomic.Bool             // a fault could not be removed: nothing else can be
	stop := func() bool {
		select {
		case <-faultsDone:
			return true
		default:
		}
		return made.Load() >= target && episodes.Load() >= int64(faultCycles*len(fs)) || time.Now().After(deadline)
	}

	stopFaults := make(chan struct{})
	injected := map[string]int{}
	var fwg sync.WaitGroup
	fwg.Add(1)
	go func() {
		defer fwg.Done()
		defer close(faultsDone)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 10_000; i++ { // bounded: the run ends long before
			select {
			case <-stopFaults:
				return
			case <-time.After(150*time.Millisecond + time.Duration(rng.IntN(150))*time.Millisecond):
			}
			f := fs[i%len(fs)]
			remove, hold, err := f.inject(rng)
			if err != nil {
				t.Errorf("inject %s: %v", f.name, err)
				return
			}
			select {
			case <-stopFaults:
			case <-time.After(hold):
			}
			done := make(chan error, 1)
			go func() { done <- remove() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("remove %s: %v", f.name, err)
					return
				}
			case <-time.After(20 * time.Second): // a Toxiproxy toxic blocked on a dead link never returns
				t.Errorf("remove %s: stuck for 20s", f.name)
				stuck.Store(true)
				return
			}
			injected[f.name]++
			episodes.Add(1)
		}
	}()

	ws := make([]*worker, workers)
	var wg sync.WaitGroup
	for g := range workers {
		w := &worker{byError: map[string]int{}}
		ws[g] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for !stop() {
				made.Add(1)
				w.calls++
				cctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				switch r := rng.IntN(3); r {
				case 0, 1: // a page view: ZINCRBY viewed: is the last command
					item := rng.IntN(nItems)
					token, user := "tok"+strconv.Itoa(rng.IntN(40)), "user"+strconv.Itoa(g)
					var up tokens.Update
					var err error
					if r == 0 {
						up, err = update(cctx, token, user, "item"+strconv.Itoa(item))
					} else {
						up, err = updatePipe(cctx, token, user, "item"+strconv.Itoa(item))
					}
					switch {
					case err == nil:
						w.views[item].acked++
					case errors.Is(err, tokens.ErrUnknownOutcome) && (r == 1 || up.Commands == 5):
						w.views[item].unknown++ // the ZINCRBY was sent (alone, or in the pipeline)
						w.byError["view: unknown"]++
					case errors.Is(err, tokens.ErrUnknownOutcome):
						w.byError["view: unknown before ZINCRBY"]++
					default:
						w.byError["view: not sent"]++
					}
				default: // a visit: SADD, then INCR when the id is new
					var id string
					if len(w.ids) > 0 && rng.IntN(10) == 0 {
						id = w.ids[rng.IntN(len(w.ids))] // a returning visitor
					} else {
						id = fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
						w.ids = append(w.ids, id)
					}
					v, err := counter.CountVisit(cctx, id)
					switch {
					case err == nil && v.New:
						w.visits.acked++
					case err == nil:
					case errors.Is(err, uniquevisits.ErrUncounted) && !notSent(err):
						w.visits.unknown++ // the INCR was sent and its reply lost
						w.byError["visit: INCR unknown"]++
					case errors.Is(err, uniquevisits.ErrUncounted):
						w.byError["visit: INCR not sent"]++
					default:
						w.byError["visit: failed before INCR"]++
					}
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopFaults)
	fwg.Wait()
	if stuck.Load() {
		t.FailNow() // quiesce would hang too
	}
	reg.Close()
	audit := quiesce(t, srv, p)
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second) // the setup's has run out in a soak
	defer cancel()

	var views [nItems]tally
	var visits tally
	byError := map[string]int{}
	total := 0
	for _, w := range ws {
		total += w.calls
		for i := range nItems {
			views[i].acked += w.views[i].acked
			views[i].unknown += w.views[i].unknown
		}
		visits.acked += w.visits.acked
		visits.unknown += w.visits.unknown
		for k, n := range w.byError {
			byError[k] += n
		}
	}
	if int64(total) < target {
		t.Errorf("%d calls in %v; want at least %d", total, elapsed.Round(time.Millisecond), target)
	}
	t.Logf("%d calls in %v (%.0f/s); faults injected %v; errors %v", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds(), injected, byError)

	extra, unknown := 0, 0
	for i := range nItems {
		item := "item" + strconv.Itoa(i)
		score, err := audit.ZScore(ctx, "viewed:", item).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		final := int(-score)
		if err := views[i].check(final); err != nil {
			t.Errorf("viewed: %s: %v", item, err)
		}
		t.Logf("viewed: %-6s acknowledged %5d, unknown %3d, final %5d", item, views[i].acked, views[i].unknown, final)
		extra += final - views[i].acked
		unknown += views[i].unknown
	}

	count, err := uniquevisits.Count(ctx, audit, day)
	if err != nil {
		t.Fatal(err)
	}
	if err := visits.check(int(count)); err != nil {
		t.Errorf("unique:%s: %v", uniquevisits.Day(day), err)
	}
	auditCounter, err := uniquevisits.NewOnClient(audit, &uniquevisits.Options{Now: func() time.Time { return day }})
	if err != nil {
		t.Fatal(err)
	}
	exact, err := auditCounter.Recount(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	// Every INCR follows a SADD that found its id new, so the count never exceeds the ids in the sets;
	// it falls short by the visits whose INCR was lost (ErrUncounted) or whose SADD reply was.
	if count > exact {
		t.Errorf("unique:%s = %d, more than the %d ids in its sets", uniquevisits.Day(day), count, exact)
	}
	t.Logf("unique:%s acknowledged %d, unknown %d, final %d; %d ids in the sets", uniquevisits.Day(day),
		visits.acked, visits.unknown, count, exact)
	extra += int(count) - visits.acked
	unknown += visits.unknown

	// The run must have done what it claims: writes whose reply was lost, some of them applied.
	if unknown == 0 || extra == 0 {
		t.Errorf("%d writes had an unknown outcome, %d of them applied: want some of each; the faults did not bite", unknown, extra)
	}
	if t.Failed() {
		t.Logf("%d writes with an unknown outcome, %d of them applied; see the errors above", unknown, extra)
		return
	}
	t.Logf("%d writes with an unknown outcome, %d of them applied, none twice", unknown, extra)
}

// quiesce ends the faults and waits until the server has dropped every connection but the auditor's,
// so every request still buffered has run (or been dropped) before the counts are read.
func quiesce(t *testing.T, srv *redistest.Server, p *faultproxy.Proxy) *redis.Client {
	t.Helper()
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	rmCtx, rmCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rmCancel()
	if err := p.RemoveAll(rmCtx); err != nil {
		t.Errorf("remove the faults: %v", err) // Close below still drops the connections
	}
	p.Close()
	opt := srv.Options()
	opt.PoolSize = 1
	audit := redis.NewClient(opt)
	t.Cleanup(func() { audit.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for stable := 0; stable < 5; {
		info, err := audit.InfoMap(ctx, "clients").Result()
		if err != nil {
			t.Fatalf("waiting for the clients to leave: %v", err)
		}
		if info["Clients"]["connected_clients"] == "1" {
			stable++
		} else {
			stable = 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	return audit
}
