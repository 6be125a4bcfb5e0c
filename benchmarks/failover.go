package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	riasync "github.com/ria-go/ria/sync"
)

func init() { register(48, failoverBench{}) }

// failoverBench is chapter 4's replacing of a failed master, with Sentinel doing it: listers list
// new items on the market through a go-redis FailoverClient while the master is SIGKILLed or
// SIGSTOPped, and after each failover every listing acknowledged so far is looked for on the new
// master. Three ways of acknowledging run side by side against the same failovers, each in a
// database of its own: the book's (the master applied it), the durable mode (WAIT for both
// replicas on the write's connection) and the book's wait_for_sync after each write.
type failoverBench struct{}

func (failoverBench) Name() string { return "failover" }

const (
	failoverWorkers = 2                       // listers per mode
	failoverPace    = 2 * time.Millisecond    // a lister's pause between calls while faults run
	failoverTimeout = 3 * time.Second         // socket timeout: a call to a SIGSTOPped master gives up
	failoverWait    = 1 * time.Second         // how long a write waits for its replicas, in both modes that wait
	failoverMaxGap  = 1500 * time.Millisecond // the longest pause between two failovers (drawn at random)
)

// failoverMode is one way of acknowledging a listing.
type failoverMode struct {
	name, short string
	db          int
	list        func(ctx context.Context, c, replica *redis.Client, item, seller string) error
}

// failoverRow is what one mode did.
type failoverRow struct {
	mode failoverMode
	// without faults
	rate  Rate
	waits Latencies
	// under failovers
	acked, lost, notConfirmed, unknown int
	notReplica                         int   // of notConfirmed: wait_for_sync's replica client reached a master
	lostBy                             []int // lost, per failover
}

func (b failoverBench) Run(ctx context.Context, env *Env) (Section, error) {
	g, err := redistest.RunSentinelGroup(ctx, nil)
	if err != nil {
		return Section{}, err
	}
	defer g.Close()

	plain, err := market.NewScript(nil)
	if err != nil {
		return Section{}, err
	}
	durable, err := market.NewScript(&market.Options{Durable: market.Durability{Replicas: 2, Timeout: failoverWait}})
	if err != nil {
		return Section{}, err
	}
	syncOpt := &riasync.Options{Timeout: failoverWait}
	modes := []failoverMode{
		{name: "default (the book's: the master applied it)", short: "default", db: 0,
			list: func(ctx context.Context, c, _ *redis.Client, item, seller string) error {
				_, err := plain.ListItem(ctx, c, item, seller, 1)
				return err
			}},
		{name: "durable (WAIT for 2 of 2 replicas)", short: "durable", db: 1,
			list: func(ctx context.Context, c, _ *redis.Client, item, seller string) error {
				_, err := durable.ListItem(ctx, c, item, seller, 1)
				return err
			}},
		{name: "wait_for_sync after each write (listing 4.3, one replica)", short: "wait_for_sync", db: 2,
			list: func(ctx context.Context, c, replica *redis.Client, item, seller string) error {
				if _, err := plain.ListItem(ctx, c, item, seller, 1); err != nil {
					return err
				}
				_, err := riasync.WaitForSync(ctx, c, replica, syncOpt)
				return err
			}},
	}
	rows := make([]*failoverRow, len(modes))
	clients := make([][2]*redis.Client, len(modes))
	for i, m := range modes {
		rows[i] = &failoverRow{mode: m}
		fo := func(replica bool) *redis.Client {
			return redis.NewFailoverClient(&redis.FailoverOptions{
				MasterName: g.MasterName, SentinelAddrs: []string{g.Sentinel.Addr()}, DB: m.db, ReplicaOnly: replica,
				ContextTimeoutEnabled: true, MaxRetries: -1, DialTimeout: time.Second,
				ReadTimeout: failoverTimeout, WriteTimeout: failoverTimeout, PoolSize: 2 * failoverWorkers,
			})
		}
		clients[i] = [2]*redis.Client{fo(false), fo(true)}
		defer clients[i][0].Close()
		defer clients[i][1].Close()
	}
	restore := quietRedis()
	defer restore()

	// Throughput without faults, one mode after the other.
	budget := Pick(env, 5*time.Second, 2*time.Second, 300*time.Millisecond)
	for i, r := range rows {
		env.Progress("no faults: %s for %v", r.mode.short, budget)
		if err := b.loadOnly(ctx, env, clients[i], r, budget); err != nil {
			return Section{}, fmt.Errorf("%s without faults: %w", r.mode.short, err)
		}
	}

	// Failovers, all modes at once.
	failovers := Pick(env, 20, 3, 1)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 48))
	runs := make([]*failoverRun, len(rows))
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, r := range rows {
		runs[i] = &failoverRun{row: r, c: clients[i][0], replica: clients[i][1], prefix: "f" + strconv.Itoa(i)}
		for w := range failoverWorkers {
			wg.Go(func() { runs[i].work(runCtx, env, w) })
		}
	}
	defer func() { stop(); wg.Wait() }()
	var faults []string
	var settled Latencies
	extra := 0 // failovers the Sentinel made by itself, taking a new master for down
	for k := range failovers {
		t := time.NewTimer(time.Duration(200+rng.Int64N(int64(failoverMaxGap/time.Millisecond)-200)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return Section{}, ctx.Err()
		case <-t.C:
		}
		fault := redistest.FaultKill
		if rng.IntN(2) == 1 {
			fault = redistest.FaultPause
		}
		env.Progress("failover %d of %d (%v)", k+1, failovers, fault)
		f, err := g.Failover(ctx, fault)
		if err != nil {
			return Section{}, err
		}
		faults = append(faults, fault.String())
		settled = append(settled, f.Settled)
		extra += f.Extra
		m, err := g.Master(ctx)
		if err != nil {
			return Section{}, err
		}
		for _, run := range runs {
			if err := run.audit(ctx, m); err != nil {
				return Section{}, fmt.Errorf("%s after failover %d: %w", run.row.mode.short, k+1, err)
			}
		}
	}
	stop()
	wg.Wait()
	return b.section(env, rows, faults, extra, settled, seed, budget)
}

// quietRedis silences go-redis's log (a line per failed dial while the master is down) until the
// returned function restores a plain logger.
func quietRedis() func() {
	redis.SetLogger(quietLog{})
	return func() { redis.SetLogger(defaultLog{}) }
}

type quietLog struct{}

func (quietLog) Printf(context.Context, string, ...any) {}

// defaultLog is go-redis's own default: standard error, "redis: " and the time.
type defaultLog struct{}

var stderrLog = log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)

func (defaultLog) Printf(_ context.Context, format string, v ...any) {
	_ = stderrLog.Output(2, fmt.Sprintf(format, v...))
}

// loadOnly lists as fast as failoverWorkers goroutines can for budget, timing each call.
func (failoverBench) loadOnly(ctx context.Context, env *Env, c [2]*redis.Client, r *failoverRow, budget time.Duration) error {
	lat := make([]Latencies, failoverWorkers)
	errs := make([]error, failoverWorkers)
	calls := make([]int, failoverWorkers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range failoverWorkers {
		wg.Go(func() {
			seller := "q" + strconv.Itoa(w)
			for n := 0; time.Since(start) < budget; n++ {
				item := seller + "-" + strconv.Itoa(n)
				t0 := time.Now()
				err := c[0].SAdd(ctx, "inventory:"+seller, item).Err()
				if err == nil {
					err = r.mode.list(ctx, c[0], c[1], item, seller)
				}
				if err != nil {
					errs[w] = err
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
				calls[w]++
				env.Tick()
			}
		})
	}
	wg.Wait()
	r.rate = Rate{Elapsed: time.Since(start)}
	for w := range failoverWorkers {
		r.rate.Calls += calls[w]
		r.waits = append(r.waits, lat[w]...)
	}
	return errors.Join(errs...)
}

// failoverRun is one mode's listers under failovers and what they were told.
type failoverRun struct {
	row        *failoverRow
	c, replica *redis.Client
	prefix     string

	pause sync.RWMutex // calls hold it to read, the audit to write: it sees no call in flight
	mu    sync.Mutex
	acked []failoverAck
}

type failoverAck struct {
	member string // "<item>.<seller>" in market:
	lost   bool
}

func (r *failoverRun) work(ctx context.Context, env *Env, w int) {
	seller := r.prefix + "s" + strconv.Itoa(w)
	for n := 0; ctx.Err() == nil; n++ {
		item := seller + "-" + strconv.Itoa(n)
		r.pause.RLock()
		call, cancel := context.WithTimeout(ctx, 2*failoverTimeout)
		err := r.c.SAdd(call, "inventory:"+seller, item).Err()
		if err == nil {
			err = r.row.mode.list(call, r.c, r.replica, item, seller)
		}
		cancel()
		r.mu.Lock()
		switch {
		case err == nil:
			r.acked = append(r.acked, failoverAck{member: item + "." + seller})
			env.Tick()
		case errors.Is(err, riasync.ErrNotReplica):
			r.row.notReplica++
			r.row.notConfirmed++
		case errors.Is(err, market.ErrNotDurable), errors.Is(err, riasync.ErrNotSynced):
			r.row.notConfirmed++ // applied on a master, not acknowledged
		case errors.Is(err, market.ErrUnknownOutcome):
			r.row.unknown++
		}
		r.mu.Unlock()
		r.pause.RUnlock()
		pause := failoverPace
		if err != nil {
			pause = 20 * time.Millisecond
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// audit looks for every acknowledged listing on the new master, with no call in flight.
func (r *failoverRun) audit(ctx context.Context, master *redistest.Server) error {
	r.pause.Lock()
	defer r.pause.Unlock()
	o := master.Options()
	o.DB = r.row.mode.db
	c := redis.NewClient(o)
	defer c.Close()
	members, err := c.ZRange(ctx, "market:", 0, -1).Result()
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(members))
	for _, m := range members {
		have[m] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	lost := 0
	for i := range r.acked {
		if a := &r.acked[i]; !a.lost && !have[a.member] {
			a.lost = true
			lost++
		}
	}
	r.row.acked = len(r.acked)
	r.row.lost += lost
	r.row.lostBy = append(r.row.lostBy, lost)
	return nil
}

func (failoverBench) section(env *Env, rows []*failoverRow, faults []string, extra int, settled Latencies, seed uint64, budget time.Duration) (Section, error) {
	asked := len(faults)
	n := asked + extra
	kills := strings.Count(strings.Join(faults, " "), "SIGKILL")
	itself := ""
	if extra > 0 {
		itself = fmt.Sprintf(", and %d more that the Sentinel made by itself, taking a master that had just been "+
			"promoted for down (a split brain: the old one went on acknowledging writes until it was reconfigured)", extra)
	}
	s := Section{
		Title: "Failover: what is lost",
		Text: []string{
			fmt.Sprintf("Chapter 4's replacing of a failed master, with Sentinel doing the replacing: a master, two "+
				"replicas and one Sentinel (quorum 1, down-after 1 s, failover-timeout 2 s), started by "+
				"`redistest.RunSentinelGroup`. %d listers per mode call `market.Script.ListItem` on a new item each "+
				"time through a go-redis FailoverClient (socket timeout %v), while the master is taken down %s "+
				"at random moments (%d by SIGKILL, %d by SIGSTOP; seed %d)%s. After each failover has settled (the new "+
				"master promoted, the old one back as its replica, both links up) every listing acknowledged so far "+
				"is looked for on the new master. The three modes run side by side against the same failovers, each "+
				"in a database of its own; throughput and latency are measured first, without faults, one mode "+
				"after the other, %v each.", failoverWorkers, failoverTimeout, times(asked), kills, asked-kills, seed, itself, budget),
			"Acknowledged means the call returned no error at all. In the durable mode a listing that ran on the " +
				"master but that fewer than 2 replicas confirmed within 1 s returns `ErrNotDurable`. wait_for_sync is " +
				"`sync.WaitForSync` after each listing, against one replica (a go-redis FailoverClient with ReplicaOnly, " +
				"which picks one of the replicas the Sentinel lists); `ErrNotSynced` (the token did not reach it in 1 s) " +
				"or `ErrNotReplica` is not acknowledged. Both are counted as not confirmed. With 2 of 2 replicas the " +
				"promoted one has every confirmed write, whichever Sentinel picks; until the old master is back and " +
				"synced the new one has a single replica, so durable writes are not confirmed then: the price in " +
				"availability.",
		},
	}
	tab := Table{Header: []string{"mode", "failovers", "acknowledged", "lost acknowledged", "lost per failover",
		"not confirmed", "unknown outcome", "listings/s without faults", "p50", "p99", "share of default's throughput"}}
	def := rows[0].rate.PerSec()
	var vals []float64
	var groups []string
	for _, r := range rows {
		tab.Rows = append(tab.Rows, []string{r.mode.name, count(n), count(r.acked), count(r.lost),
			num(float64(r.lost) / float64(max(n, 1))), count(r.notConfirmed), count(r.unknown),
			num(r.rate.PerSec()), ms(r.waits.Quantile(0.5)), ms(r.waits.Quantile(0.99)), pct(r.rate.PerSec() / def)})
		vals = append(vals, float64(r.lost)/float64(max(n, 1)))
		groups = append(groups, r.mode.short)
	}
	s.Tables = append(s.Tables, tab)
	var by []string
	for _, r := range rows {
		by = append(by, fmt.Sprintf("%s %v", r.mode.short, r.lostBy))
	}
	def0, dur, wfs := rows[0], rows[1], rows[2]
	s.Summary = fmt.Sprintf("%d failovers: acknowledged listings lost: default %s, durable %s, wait_for_sync %s; "+
		"durable at %s of default's throughput (p99 %s vs %s)", n, count(def0.lost), count(dur.lost), count(wfs.lost),
		pct(dur.rate.PerSec()/def), ms(dur.waits.Quantile(0.99)), ms(def0.waits.Quantile(0.99)))
	own := ""
	if extra > 0 {
		own = "; a failover of a master that was up (the Sentinel's own, above) loses everything it acknowledged " +
			"until its clients moved"
	}
	s.Notes = append(s.Notes,
		fmt.Sprintf("Lost per failover asked for, in order: %s. Settling took %.1f s median (%.1f s at most) from the fault.",
			strings.Join(by, "; "), settled.Quantile(0.5).Seconds(), settled.Quantile(1).Seconds()),
		"Where the book's mode loses writes: a SIGSTOPped master does not know it was replaced. When it resumes it "+
			"still answers, as master, the commands its clients sent while it hung, before it is made a replica of the "+
			"new master (here at once; Sentinel itself waits some 8 s), and those acknowledged writes are then gone. "+
			"A SIGKILL loses only what the master acknowledged and had not yet sent to the replicas, which on "+
			"loopback is rare"+own+fmt.Sprintf(". Of wait_for_sync's %s listings not confirmed, %s were `ErrNotReplica`: the "+
			"server its replica client reached answered role:master (go-redis's ReplicaOnly client falls back to the "+
			"master when the Sentinel lists no healthy replica); the rest timed out waiting for the token.",
			count(wfs.notConfirmed), count(wfs.notReplica)))
	var met string
	switch {
	case dur.lost > 0:
		met = fmt.Sprintf("This run lost %s confirmed durable writes: one of those cases happened.", count(dur.lost))
	case wfs.lost > 0:
		met = fmt.Sprintf("This run met the promotion case with wait_for_sync, which waits for one replica: %s listings it "+
			"confirmed on one replica were lost when Sentinel promoted the other (WAIT for 1 of 2 has the same hole). "+
			"The durable mode, waiting for both, lost none.", count(wfs.lost))
	default:
		met = "This run restarts no replica and waits for both, so only the promotion case could have hit the durable " +
			"mode, and its count of lost writes is 0; wait_for_sync, confirmed by one replica, lost none either this time."
	}
	s.Notes = append(s.Notes, "What WAIT does not promise (the package doc of internal/durable): the write is in the "+
		"replicas' memory, not on their disk (no persistence here; WAITAOF is Redis 7.2); a replica restarted without "+
		"persistence forgets it; Sentinel can promote a replica that did not confirm it when fewer replicas than all "+
		"are waited for or the confirming one is unreachable to it; and others may read a write before it is "+
		"confirmed. "+met)

	p, err := barChart("Failover: acknowledged listings lost per failover", "lost per failover",
		groups, []series{{Name: "lost acknowledged per failover", Values: vals, Color: red}}, false, nil)
	if err != nil {
		return s, err
	}
	path, err := env.SaveChart("failover", p, chartW, chartH)
	if err != nil {
		return s, err
	}
	s.Charts = append(s.Charts, Chart{Title: "Failover chart", Path: path})
	return s, nil
}

// times is "once", "twice", "20 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}
