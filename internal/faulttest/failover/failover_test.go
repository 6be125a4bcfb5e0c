package failover_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/faulttest"
	"github.com/ria-go/ria/redistest"
)

// mode is how a workload's writes are acknowledged.
type mode struct {
	name    string
	durable durable.Options
}

var modes = []mode{
	{name: "default"}, // the book's: acknowledged once the master applied the write
	{name: "durable", durable: durable.Options{Replicas: 2, Timeout: time.Second}},
}

// workload is one pattern in one mode, on a database of its own.
type workload interface {
	name() string
	mode() string
	// run makes calls until ctx ends.
	run(ctx context.Context)
	// check looks for every operation acknowledged so far on master (a client of the new master, on
	// the workload's database) and returns the totals so far: acknowledged, lost (counted once, at
	// the first check that misses it), not confirmed (ErrNotDurable). Any error is a broken
	// invariant (money, exactly once), not a loss.
	check(ctx context.Context, master *redis.Client) (tally, error)
}

type tally struct{ acked, lost, notConfirmed int }

// failoverPlan sizes a run: a few failovers in the short form, 20 in the soak.
func failoverPlan(t *testing.T) (failovers int, limit time.Duration) {
	if faulttest.Soak(t) {
		return 20, 6 * time.Minute
	}
	return 3, 90 * time.Second
}

// callTimeout bounds one call: a call to a SIGSTOPped master ends with an unknown outcome.
const callTimeout = 3 * time.Second

// errPause is how long a worker waits after a failed call, so a master that is down is not spun on.
const errPause = 20 * time.Millisecond

func TestMain(m *testing.M) {
	// go-redis logs every failed dial and every new master: thousands of lines per failover.
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestFailoverLosses(t *testing.T) {
	failovers, limit := failoverPlan(t)
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	rng := rand.New(rand.NewPCG(faulttest.Seed(t), 7))

	g := redistest.RunSentinelGroupT(t, nil)
	cfg := redistest.RunT(t, nil).Client(t)
	reg, err := conn.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	// client stores a component whose config names the Sentinel, and returns the registry's client:
	// a *redis.Client from redis.NewFailoverClient that follows the master.
	db := 0
	client := func(component string) (redis.UniversalClient, int) {
		t.Helper()
		db++
		js := fmt.Sprintf(`{"sentinel": {"master": %q, "addrs": [%q]}, "db": %d, "socket_timeout": %d}`,
			g.MasterName, g.Sentinel.Addr(), db, int(callTimeout/time.Second))
		if err := reg.SetConfig(ctx, component, js); err != nil {
			t.Fatal(err)
		}
		c, err := reg.Client(ctx, component)
		if err != nil {
			t.Fatal(err)
		}
		return c, db
	}

	var ws []workload
	dbs := map[workload]int{}
	for _, m := range modes {
		for _, v := range []string{"watch", "script"} {
			c, n := client("market-" + v + "-" + m.name)
			w := newMarketWorkload(ctx, t, c, v, m)
			ws, dbs[w] = append(ws, w), n
		}
		c, n := client("logs-" + m.name)
		w := newLogsWorkload(t, c, m)
		ws, dbs[w] = append(ws, w), n
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(runCtx) })
	}
	defer func() { stop(); wg.Wait() }()

	totals := map[workload]tally{}
	done, extra := 0, 0 // failovers asked for and done; those the Sentinel made by itself meanwhile
	for i := range failovers {
		// A random moment: the workloads are mid-call most of the time.
		if !sleep(ctx, time.Duration(300+rng.IntN(1200))*time.Millisecond) {
			break
		}
		fault := redistest.FaultKill
		if rng.IntN(2) == 1 {
			fault = redistest.FaultPause
		}
		f, err := g.Failover(ctx, fault)
		if err != nil {
			t.Fatalf("failover %d: %v\nsentinel log:\n%s", i+1, err, g.Sentinel.Log())
		}
		done++
		extra += f.Extra
		nm, err := g.Master(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var line []string
		for _, w := range ws {
			c := redis.NewClient(withDB(nm.Options(), dbs[w]))
			got, err := w.check(ctx, c)
			c.Close()
			if err != nil {
				t.Errorf("failover %d: %s %s: %v", i+1, w.name(), w.mode(), err)
			}
			if n := got.lost - totals[w].lost; n > 0 {
				line = append(line, fmt.Sprintf("%s %s lost %d", w.name(), w.mode(), n))
			}
			totals[w] = got
		}
		again := ""
		if f.Extra > 0 {
			again = fmt.Sprintf(", then %d more by the Sentinel itself (it took the new master for down)", f.Extra)
			t.Logf("sentinel log:\n%s", g.Sentinel.Log())
		}
		t.Logf("failover %d: %v %s -> %s (promoted in %v, settled in %v%s): %s", i+1, f.Fault, f.Old, f.New,
			f.Promoted.Round(time.Millisecond), f.Settled.Round(time.Millisecond), again, orNone(line))
		if t.Failed() {
			break
		}
	}
	if done < failovers {
		t.Fatalf("%d of %d failovers done before the time limit", done, failovers)
	}

	for _, m := range modes {
		var sum tally
		for _, w := range ws {
			if w.mode() != m.name {
				continue
			}
			got := totals[w]
			t.Logf("  %-7s %-14s acked %6d, lost %3d, not confirmed %4d", m.name, w.name(), got.acked, got.lost, got.notConfirmed)
			if got.acked == 0 {
				t.Errorf("%s %s: no operation acknowledged: the workload did not run", w.name(), m.name)
			}
			sum.acked += got.acked
			sum.lost += got.lost
			sum.notConfirmed += got.notConfirmed
		}
		all := done + extra
		t.Logf("%s mode: %d failovers (%d by the Sentinel itself), %d acked ops, %d lost acked ops, %.2f lost per failover, %d not confirmed",
			m.name, all, extra, sum.acked, sum.lost, float64(sum.lost)/float64(max(all, 1)), sum.notConfirmed)
		if m.durable.On() && sum.lost > 0 {
			t.Errorf("durable mode lost %d acknowledged operations over %d failovers; want 0", sum.lost, all)
		}
	}
}

func withDB(o *redis.Options, db int) *redis.Options {
	o.DB = db
	return o
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing acknowledged lost"
	}
	return strings.Join(s, ", ")
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// notConfirmed reports whether err says the write ran on the master but was not confirmed.
func notConfirmed(err error) bool { return errors.Is(err, durable.ErrNotDurable) }
