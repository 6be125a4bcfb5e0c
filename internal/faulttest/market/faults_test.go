package market_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/redistest/faultproxy"
)

// fault is one kind of fault: inject starts it and says how long to hold it; remove ends it.
type fault struct {
	name   string
	inject func(rng *rand.Rand) (remove func(context.Context) error, hold time.Duration, err error)
}

// faults are the faults the schedule cycles through. Every one of them makes some commands fail
// with a lost reply, a reset, a cut stream or a timeout; opTimeout is the clients' per-call deadline.
func faults(srv *redistest.Server, p *faultproxy.Proxy, opTimeout time.Duration) []fault {
	toxic := func(t faultproxy.Toxic, err error) (func(context.Context) error, error) { return t.Remove, err }
	dir := func(rng *rand.Rand) faultproxy.Direction {
		return []faultproxy.Direction{faultproxy.Upstream, faultproxy.Downstream, faultproxy.Both}[rng.IntN(3)]
	}
	ms := func(rng *rand.Rand, lo, hi int) time.Duration {
		return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Millisecond
	}
	late := opTimeout + 100*time.Millisecond // past the deadline: the caller gives up first
	return []fault{
		{"reset replies", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			// New connections are reset once the first reply reaches the toxic: the command ran.
			rm, err := toxic(p.Add(faultproxy.ToxicSpec{Type: "reset_peer", Direction: faultproxy.Downstream,
				Toxicity: 0.5, Attributes: map[string]any{"timeout": rng.IntN(5)}}))
			return rm, ms(rng, 100, 250), err
		}},
		{"late replies", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			rm, err := toxic(p.Latency(faultproxy.Downstream, late, 50*time.Millisecond))
			return rm, ms(rng, 300, 600), err
		}},
		{"cut streams", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			rm, err := toxic(p.LimitData(dir(rng), int64(20+rng.IntN(3000))))
			return rm, ms(rng, 100, 250), err
		}},
		{"pause server", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			return func(context.Context) error { return srv.Resume() }, ms(rng, 300, 800), srv.Pause()
		}},
		{"reset requests", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			rm, err := toxic(p.Add(faultproxy.ToxicSpec{Type: "reset_peer", Direction: faultproxy.Upstream,
				Toxicity: 0.5, Attributes: map[string]any{"timeout": rng.IntN(20)}}))
			return rm, ms(rng, 100, 250), err
		}},
		{"late requests", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			// Commands reach the server after the caller gave up, and still run.
			rm, err := toxic(p.Latency(faultproxy.Upstream, late, 50*time.Millisecond))
			return rm, ms(rng, 300, 600), err
		}},
		{"sliced requests", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			// Requests only: Toxiproxy's slicer sends each piece without watching for an interrupt, so
			// once a link's writer has died (a client that gave up mid-reply, downstream) it blocks
			// for ever, and removing the toxic then never completes (Remove gives up with ErrStuck and
			// the proxy takes no more changes). Upstream the writer is the server, which
			// never closes a connection first here.
			rm, err := toxic(p.Slicer(faultproxy.Upstream, 1+rng.IntN(6), 1, 20*time.Microsecond))
			return rm, ms(rng, 200, 400), err
		}},
		{"black hole", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			rm, err := toxic(p.BlackHole(dir(rng)))
			return rm, ms(rng, 300, 600), err
		}},
		{"timeout", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			rm, err := toxic(p.Timeout(dir(rng), ms(rng, 1, 50)))
			return rm, ms(rng, 150, 300), err
		}},
		{"refuse connections", func(rng *rand.Rand) (func(context.Context) error, time.Duration, error) {
			return func(context.Context) error { return p.Enable() }, ms(rng, 100, 250), p.Disable()
		}},
	}
}

// episode is one fault's time on, in the clock of the run (now).
type episode struct {
	name     string
	from, to int64
}

// runFaults injects faults in turn, each for its hold time, with a quiet gap of gapMin to 2*gapMin
// before each, until stop is closed or maxEpisodes were injected. It counts the episodes ended in
// ended, and returns them, and whether a fault could not be removed (then nothing else can be).
func runFaults(t *testing.T, fs []fault, seed uint64, gapMin time.Duration, maxEpisodes int, stop <-chan struct{},
	ended *atomic.Int64, now func() int64) (eps []episode, stuck bool) {
	rng := rand.New(rand.NewPCG(seed, 1))
	sleep := func(d time.Duration) bool {
		select {
		case <-stop:
			return false
		case <-time.After(d):
			return true
		}
	}
	for i := 0; i < maxEpisodes; i++ {
		if !sleep(gapMin + time.Duration(rng.Int64N(int64(gapMin)))) {
			break
		}
		f := fs[i%len(fs)]
		from := now()
		remove, hold, err := f.inject(rng)
		if err != nil {
			t.Errorf("inject %s: %v", f.name, err)
			if remove != nil {
				_ = removeWithin(remove, 20*time.Second)
			}
			break
		}
		sleep(hold)
		err = removeWithin(remove, 20*time.Second)
		eps = append(eps, episode{f.name, from, now()})
		if err != nil {
			t.Errorf("remove %s: %v", f.name, err)
			return eps, errors.Is(err, faultproxy.ErrStuck)
		}
		ended.Add(1)
	}
	return eps, false
}

// removeWithin runs remove with a deadline d: a Toxiproxy toxic blocked on a dead link never goes
// (see "sliced requests"); Toxic.Remove then gives up with faultproxy.ErrStuck and the test fails
// rather than hangs.
func removeWithin(remove func(context.Context) error, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return remove(ctx)
}

// during is the fault that was on while a call ran (the first that overlaps it), or "no fault".
func during(eps []episode, start, end int64) string {
	i, _ := slices.BinarySearchFunc(eps, start, func(e episode, t int64) int { return cmp.Compare(e.to, t) })
	if i < len(eps) && eps[i].from <= end {
		return eps[i].name
	}
	return "no fault"
}

// quiesce ends every fault and waits until the server has dropped every connection but the auditor's:
// each command the clients sent (some still in the proxy or the server's buffers when their callers
// gave up) has then been run or dropped, and the data no longer changes. The registry's clients must
// be closed first.
func quiesce(t *testing.T, srv *redistest.Server, p *faultproxy.Proxy, audit *redis.Client) {
	t.Helper()
	if err := srv.Resume(); err != nil {
		t.Fatalf("resume: %v", err)
	}
	rmCtx, rmCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rmCancel()
	if err := p.RemoveAll(rmCtx); err != nil {
		t.Errorf("remove the faults: %v", err) // Close below still drops the connections
	}
	p.Close() // closes the connections it carries: the server reads what they held, then EOF
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stable := 0
	for stable < 5 {
		n, err := connectedClients(ctx, audit)
		if err != nil {
			t.Fatalf("waiting for the clients to leave: %v", err)
		}
		if n == 1 {
			stable++
		} else {
			stable = 0
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func connectedClients(ctx context.Context, c *redis.Client) (int, error) {
	info, err := c.InfoMap(ctx, "clients").Result()
	if err != nil {
		return 0, err
	}
	var n int
	_, err = fmt.Sscan(info["Clients"]["connected_clients"], &n)
	return n, err
}

// runUntil runs fn in n goroutines and returns once all have returned.
func runUntil(n int, fn func(g int)) {
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(g)
		}()
	}
	wg.Wait()
}
