package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/faulttest"
	"github.com/ria-go/ria/internal/faulttest/cluster"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/tokens"
	"github.com/ria-go/ria/uniquevisits"
)

const (
	reshardOpTimeout  = 500 * time.Millisecond
	reshardGoroutines = 4
)

// reshardSize is a run's size: operations, and the fault schedule.
func reshardSize(t *testing.T) (int64, cluster.Plan) {
	target, p := int64(1500), cluster.Plan{Moves: 2, Kills: 1, Gap: 150 * time.Millisecond}
	if faulttest.Soak(t) {
		target, p = 50_000, cluster.Plan{Moves: 8, Kills: 4, Gap: time.Second}
		if n, ok := faulttest.Ops(t); ok {
			target = n
		}
	}
	p.Move = redistest.MoveOptions{Batch: 4, Pause: 20 * time.Millisecond}
	return target, p
}

// reshardOutcome is how a write's caller saw it.
type reshardOutcome uint8

const (
	reshardAcked reshardOutcome = iota // acknowledged (durable): it must be there
	reshardMaybe                       // unknown, not durable, or partly applied: there at most once
)

// TestReshardSharded runs tokens and uniquevisits, whose keys spread over many slots, on one 3+3 cluster
// while several of their slots move to other masters and the master serving the first is killed.
// Writes are durable (Replicas 1), so every acknowledged one must survive; the others may be
// applied or not, never twice. Short form: each pattern 1,500 writes, 2 rounds of slot moves and
// 1 kill, about 20 s in all under -race. The soak:
//
//	RIA_SOAK=1 go test -timeout 1h -run TestReshardSharded -v ./internal/faulttest/cluster/
func TestReshardSharded(t *testing.T) {
	c := redistest.RunClusterT(t, &redistest.ClusterOptions{NodeTimeout: time.Second})
	t.Run("tokens", func(t *testing.T) { reshardTokens(t, c) })
	t.Run("uniquevisits", func(t *testing.T) { reshardVisits(t, c) })
}

// reshardRun runs op in reshardGoroutines goroutines (op(g, i) for the i-th call of goroutine g)
// while p runs, until p is over and target calls were made, then closes the client and waits until
// the cluster has run or dropped every command sent.
func reshardRun(t *testing.T, c *redistest.Cluster, cl *redis.ClusterClient, red *redistest.Redirects,
	p cluster.Plan, target int64, op func(ctx context.Context, g, i int) error) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	p.Clients = []*redis.ClusterClient{cl}
	sched := cluster.Start(ctx, c, p)
	var calls atomic.Int64
	var kinds cluster.Kinds
	var wg sync.WaitGroup
	for g := range reshardGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-sched.Done():
					if calls.Load() >= target {
						return
					}
				case <-ctx.Done():
					return
				default:
				}
				octx, ocancel := context.WithTimeout(ctx, reshardOpTimeout)
				kinds.Add(op(octx, g, i))
				ocancel()
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	rep := sched.End(ctx, t, c, red, cl)
	t.Logf("%d calls in %v; %v; redirections: %v; outcomes: %v", calls.Load(), sched.Since().Round(time.Millisecond), rep, red, &kinds)
}

// reshardSlots are the distinct slots of keys, in order.
func reshardSlots(keys ...string) []int {
	var s []int
	for _, k := range keys {
		if n := shard.Slot(k); !slices.Contains(s, n) {
			s = append(s, n)
		}
	}
	return s
}

// tokenCall is one update as its caller saw it. Every call views an item of its own. start and end
// order calls across goroutines (one counter for all): a call whose end is before another's start
// wrote before it.
type tokenCall struct {
	token, user, item string
	ts                float64
	out               reshardOutcome
	start, end        int64
}

func reshardTokens(t *testing.T, c *redistest.Cluster) {
	target, p := reshardSize(t)
	const nTokens = 40
	p.Slots = reshardSlots("viewed:", "recent:", "login:", "viewed:t0")
	up, err := tokens.New(&tokens.Options{Keep: -1, // every view stays, so every acknowledged one can be checked
		Durable: tokens.Durability{Replicas: 1, Timeout: 250 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var red redistest.Redirects
	cl := c.NewClientWith(red.Count)
	defer cl.Close()
	calls := make([][]tokenCall, reshardGoroutines)
	rngs := make([]*rand.Rand, reshardGoroutines)
	for g := range rngs {
		rngs[g] = rand.New(rand.NewPCG(uint64(g), 11))
	}
	outcomes := make([]atomic.Int64, 2)
	var seq atomic.Int64
	reshardRun(t, c, cl, &red, p, target, func(ctx context.Context, g, i int) error {
		n := rngs[g].IntN(nTokens)
		tc := tokenCall{token: fmt.Sprint("t", n), user: fmt.Sprint("u", n), item: fmt.Sprintf("g%d-%d", g, i)}
		update := up.UpdateToken
		if i%2 == 1 {
			update = up.UpdateTokenPipeline
		}
		tc.start = seq.Add(1)
		u, err := update(ctx, cl, tc.token, tc.user, tc.item)
		tc.end = seq.Add(1)
		tc.ts = u.Timestamp
		switch {
		case err == nil:
			tc.out = reshardAcked
		case errors.Is(err, tokens.ErrInvalidToken), errors.Is(err, tokens.ErrInvalidUser), errors.Is(err, tokens.ErrNoNode):
			t.Errorf("%s: %v", tc.item, err)
			tc.out = reshardMaybe
		default:
			// An error reply does not undo the commands before it: any error may be a partial update.
			tc.out = reshardMaybe
		}
		if tc.out == reshardMaybe {
			tc.end = math.MaxInt64 // its writes may still land after it returned
		}
		outcomes[tc.out].Add(1)
		calls[g] = append(calls[g], tc)
		return err
	})

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ac := c.Client(t)
	viewed, err := ac.ZRangeWithScores(ctx, "viewed:", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	views := map[string]float64{}
	for _, z := range viewed {
		views[z.Member.(string)] = z.Score
	}
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	// recent: keeps the last ZADD to arrive (the book's, no GT): of two concurrent updates of one
	// token, the one with the earlier timestamp may arrive last. So recent:<token> must hold the
	// timestamp of a call that did not end before the latest acknowledged one started.
	lastAcked := map[string]int64{}     // token -> start of its latest-started acknowledged call
	byToken := map[string][]tokenCall{} // token -> its calls
	known := map[string]bool{}          // items of our calls
	for _, cs := range calls {
		for _, tc := range cs {
			known[tc.item] = true
			byToken[tc.token] = append(byToken[tc.token], tc)
			score, err := ac.ZScore(ctx, "viewed:"+tc.token, tc.item).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			hasToken := err == nil
			v, inViewed := views[tc.item]
			switch {
			case hasToken && score != tc.ts:
				report("viewed:%s %s scored %v; want its timestamp %v", tc.token, tc.item, score, tc.ts)
			case inViewed && v != -1:
				report("viewed: %s scored %v; want -1 (one view): applied %v times", tc.item, v, -v)
			case tc.out == reshardAcked && (!hasToken || !inViewed):
				report("acknowledged view of %s by %s lost: in viewed:%s %v, in viewed: %v", tc.item, tc.token, tc.token, hasToken, inViewed)
			}
			if tc.out == reshardAcked {
				lastAcked[tc.token] = max(lastAcked[tc.token], tc.start)
			}
		}
	}
	for item := range views {
		if !known[item] {
			report("viewed: holds %q, which no call viewed", item)
		}
	}
	for token, after := range lastAcked {
		n := token[1:]
		if got, err := ac.HGet(ctx, "login:", token).Result(); err != nil || got != "u"+n {
			report("login: %s = %q, %v; want u%s", token, got, err, n)
		}
		got, err := ac.ZScore(ctx, "recent:", token).Result()
		if err != nil {
			report("recent: %s: %v; want a score", token, err)
			continue
		}
		if !slices.ContainsFunc(byToken[token], func(tc tokenCall) bool { return tc.ts == got && tc.end > after }) {
			report("recent: %s = %v; want the timestamp of a call not over before its last acknowledged one began", token, got)
		}
	}
	t.Logf("updates: %d acknowledged, %d unknown or not durable; %d items viewed", outcomes[reshardAcked].Load(),
		outcomes[reshardMaybe].Load(), len(views))
	if outcomes[reshardAcked].Load() == 0 {
		t.Error("no update was acknowledged")
	}
}

func reshardVisits(t *testing.T, c *redistest.Cluster) {
	target, p := reshardSize(t)
	day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	date := uniquevisits.Day(day)
	// 4096 expected visitors in sets of 128: 64 set shards, in as many slots.
	opt := uniquevisits.Options{DailyExpected: 4096, ShardSize: 128, Now: func() time.Time { return day },
		Durable: uniquevisits.Durability{Replicas: 1, Timeout: 250 * time.Millisecond}}
	p.Slots = reshardSlots("unique:"+date, "unique:"+date+":expected", "unique:"+date+":0", "unique:"+date+":1")
	var red redistest.Redirects
	cl := c.NewClientWith(red.Count)
	defer cl.Close()
	counter, err := uniquevisits.NewOnClient(cl, &opt)
	if err != nil {
		t.Fatal(err)
	}
	// Half the calls bring a new visitor and half come back, so visitors join all through the run.
	type visitor struct {
		acked, maybe, notDone, counted int // counted: acknowledged visits that were New
	}
	var mu sync.Mutex
	var seen []visitor
	rngs := make([]*rand.Rand, reshardGoroutines)
	for g := range rngs {
		rngs[g] = rand.New(rand.NewPCG(uint64(g), 13))
	}
	reshardRun(t, c, cl, &red, p, target, func(ctx context.Context, g, _ int) error {
		mu.Lock()
		i := len(seen)
		if i == 0 || rngs[g].IntN(2) == 0 {
			seen = append(seen, visitor{})
		} else {
			i = rngs[g].IntN(i)
		}
		mu.Unlock()
		v, err := counter.CountVisit(ctx, reshardSession(i))
		mu.Lock()
		defer mu.Unlock()
		s := &seen[i]
		switch {
		case err == nil:
			s.acked++
			if v.New {
				s.counted++
			}
		case errors.Is(err, uniquevisits.ErrBadSessionID), errors.Is(err, uniquevisits.ErrBadCount), errors.Is(err, uniquevisits.ErrNoClient):
			t.Errorf("visit %d: %v", i, err)
		case errors.Is(err, uniquevisits.ErrUnknownOutcome), errors.Is(err, uniquevisits.ErrNotDurable),
			errors.Is(err, uniquevisits.ErrUncounted):
			s.maybe++
		default:
			s.notDone++ // refused, or never sent: nothing written
		}
		return err
	})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	ac := c.Client(t)
	audit, err := uniquevisits.NewOnClient(ac, &opt)
	if err != nil {
		t.Fatal(err)
	}
	recount, err := audit.Recount(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	count, err := audit.Count(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	expected, err := ac.Get(ctx, "unique:"+date+":expected").Int()
	if err != nil {
		t.Fatal(err)
	}
	// Where each visitor should be, asked in pipelines of 1000 (go-redis splits them by node).
	in := make([]bool, len(seen))
	for lo := 0; lo < len(seen); lo += 1000 {
		pipe := ac.Pipeline()
		var cmds []*redis.BoolCmd
		for i := lo; i < min(lo+1000, len(seen)); i++ {
			id, err := uniquevisits.ParseSessionID(reshardSession(i))
			if err != nil {
				t.Fatal(err)
			}
			set, err := shard.Key("unique:"+date, "x"+strconv.FormatInt(id, 10), expected, opt.ShardSize, shard.Python3)
			if err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, pipe.SIsMember(ctx, set, id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for k, cmd := range cmds {
			in[lo+k] = cmd.Val()
		}
	}
	var acked, possible, members, counted, uncertain int64
	bad := 0
	for i, s := range seen {
		if in[i] {
			members++
		}
		if s.acked > 0 {
			acked++
		} else if s.maybe > 0 {
			uncertain++
		}
		if s.acked+s.maybe > 0 {
			possible++
		}
		counted += int64(s.counted)
		switch {
		case s.acked > 0 && !in[i]:
			bad++
			t.Errorf("visitor %d: %d acknowledged visits, and not in its set", i, s.acked)
		case s.acked+s.maybe == 0 && in[i]:
			bad++
			t.Errorf("visitor %d: every visit reported not written (%d), yet in its set", i, s.notDone)
		case s.counted > 1:
			bad++
			t.Errorf("visitor %d counted new %d times", i, s.counted)
		}
		if bad > 10 {
			t.FailNow()
		}
	}
	t.Logf("%d visitors: %d acknowledged, %d only unknown or not durable, %d in the sets; Recount %d, Count %d, acknowledged new %d",
		len(seen), acked, uncertain, members, recount, count, counted)
	if recount != members {
		t.Errorf("Recount %d; want %d, the visitors found in their sets (no stranger, none twice)", recount, members)
	}
	if recount < acked || recount > possible {
		t.Errorf("Recount %d; want between %d (acknowledged) and %d (possibly written)", recount, acked, possible)
	}
	if count < counted || count > recount {
		t.Errorf("Count %d; want between %d (acknowledged new visits) and %d (Recount): never counted twice", count, counted, recount)
	}
	if acked == 0 {
		t.Error("no visit was acknowledged")
	}
}

// reshardSession is visitor i's session id, a UUID drawn from i.
func reshardSession(i int) string {
	rng := rand.New(rand.NewPCG(uint64(i), 99))
	var u uuid.UUID
	for j := range u {
		u[j] = byte(rng.UintN(256))
	}
	return u.String()
}
