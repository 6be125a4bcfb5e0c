package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/option"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// sidForUser is a session id whose visitor id (its first 15 hex digits) is the user id, with a
// random rest: the same visitor on every day, routed to a server by the whole id.
func sidForUser(r *rand.Rand, uid int64) string {
	hex := fmt.Sprintf("%015x%x%016x", uid, r.IntN(16), r.Uint64())
	return hex[:8] + "-" + hex[8:12] + "-" + hex[12:16] + "-" + hex[16:20] + "-" + hex[20:]
}

// week is random visits over 7 days by dense user ids, a few of them far above the rest (so that a
// day's bitmap is read in more than one chunk on a Redis Cluster), and the truth: who came on which
// day.
type week struct {
	days   []time.Time
	visits [][]int64 // per day, with repeats
	truth  []map[int64]bool
}

func randomWeek(r *rand.Rand, users int) week {
	var w week
	for i := 0; i < 7; i++ {
		w.days = append(w.days, day.AddDate(0, 0, i))
		n := 100 + r.IntN(1200) // the daily counts vary, so do the days' expected sizes and shards
		var v []int64
		seen := map[int64]bool{}
		for len(v) < n {
			uid := int64(r.IntN(users))
			if r.IntN(50) == 0 {
				uid = 9_000_000 + int64(r.IntN(20))
			}
			v = append(v, uid)
			seen[uid] = true
		}
		w.visits = append(w.visits, v)
		w.truth = append(w.truth, seen)
	}
	return w
}

// union is the number of distinct users from day i to day j, inclusive.
func (w week) union(i, j int) int64 {
	all := map[int64]bool{}
	for k := i; k <= j; k++ {
		for u := range w.truth[k] {
			all[u] = true
		}
	}
	return int64(len(all))
}

// countWeek counts the week in all three variants: CountVisits into the sets, PFADD (pipelined) into
// the HyperLogLogs on hll, SETBIT into the bitmaps. A user keeps one session id a day and gets
// another the next day, so a visitor moves between servers from day to day.
func countWeek(t *testing.T, ctx context.Context, w week, c *Counter, now *time.Time, hll redis.Cmdable, bm *Bitmap, bmNow *time.Time) {
	t.Helper()
	for i, d := range w.days {
		*now, *bmNow = d, d
		sids := make([]string, len(w.visits[i]))
		for k, uid := range w.visits[i] {
			sids[k] = sidForUser(rand.New(rand.NewPCG(uint64(uid), uint64(i))), uid)
		}
		if _, err := c.CountVisits(ctx, sids); err != nil {
			t.Fatal(err)
		}
		if _, err := hll.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, sid := range sids {
				if _, err := CountVisitHLL(ctx, p, sid, d); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, uid := range w.visits[i] {
			if _, err := bm.CountVisit(ctx, uid); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkWeek compares every variant's count over random ranges of the week with the truth: exact for
// the sets (in one pass and in several, small batches) and the bitmaps, within the HyperLogLog's
// error for it.
func checkWeek(t *testing.T, ctx context.Context, w week, r *rand.Rand, c *Counter, hll redis.Cmdable, bm *Bitmap) {
	t.Helper()
	ranges := [][2]int{{0, 6}, {3, 3}}
	for len(ranges) < 6 {
		i := r.IntN(7)
		ranges = append(ranges, [2]int{i, i + r.IntN(7-i)})
	}
	for _, rg := range ranges {
		from, to := w.days[rg[0]], w.days[rg[1]]
		want := w.union(rg[0], rg[1])
		sets, err := c.UniqueRange(ctx, from, to, nil)
		if err != nil {
			t.Fatal(err)
		}
		passes, err := c.UniqueRange(ctx, from, to, &RangeOptions{Passes: 3, Batch: 50})
		if err != nil {
			t.Fatal(err)
		}
		bits, err := bm.CountRange(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		est, err := UniqueRangeHLL(ctx, hll, from, to)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("days %d..%d: %d visitors; sets %d, in passes %d, bitmaps %d, HyperLogLog %d", rg[0], rg[1], want, sets, passes, bits, est)
		if sets != want || passes != want || bits != want {
			t.Errorf("days %d..%d: sets %d, in 3 passes %d, bitmaps %d; want %d", rg[0], rg[1], sets, passes, bits, want)
		}
		if e := float64(est-want) / float64(want); abs(e) > 3*0.0081 {
			t.Errorf("days %d..%d: HyperLogLog %d, error %+.2f%%; want within 3 x 0.81%% of %d", rg[0], rg[1], est, 100*e, want)
		}
	}
	for i, d := range w.days { // one day: every count agrees
		want := int64(len(w.truth[i]))
		n, _ := c.Count(ctx, d)
		re, _ := c.Recount(ctx, d)
		one, _ := c.UniqueRange(ctx, d, d, nil)
		bits, _ := bm.Count(ctx, d)
		if n != want || re != want || one != want || bits != want {
			t.Errorf("day %d: count %d, recount %d, range %d, bitmap %d; want %d", i, n, re, one, bits, want)
		}
	}
}

// TestRangesAgree (property): random visitors over 7 days, counted in the three variants, the sets on
// 16 sharded miniredis servers: over random ranges of days the sets' streaming union and the bitmaps'
// OR give the exact number of distinct visitors, and the HyperLogLog is within its error. The
// HyperLogLogs are on a real redis-server: miniredis's PFCOUNT of several keys adds the keys'
// estimates up instead of counting their union.
func TestRangesAgree(t *testing.T) {
	ctx := t.Context()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 3))
	w := randomWeek(r, 3000)

	reg := scaleRegistry(t)
	scaleMinis(t, reg, Shards)
	var now, bmNow time.Time
	c := newCounter(t, reg, &Options{Now: func() time.Time { return now }, DailyExpected: 500})
	counts, err := reg.Client(ctx, Component)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := NewBitmap(counts, &BitmapOptions{Now: func() time.Time { return bmNow }})
	if err != nil {
		t.Fatal(err)
	}
	hll := redistest.RunT(t, nil).Client(t)
	countWeek(t, ctx, w, c, &now, hll, bm, &bmNow)

	// The days were sized differently, so one visitor's set shard moves from day to day: a union by
	// set name (SUNION of unique:<date>:<n> across days) would not even meet the same sets.
	sizes := map[int64]bool{}
	for _, d := range w.days {
		e, err := c.Expected(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		sizes[e] = true
	}
	if len(sizes) < 2 {
		t.Errorf("the week's expected sizes %v are all one: the test does not vary the shards", sizes)
	}
	checkWeek(t, ctx, w, r, c, hll, bm)
}

// TestUniqueRangeOneVisitorManyDays: one visitor on days of different sizes sits in differently
// numbered set shards, on one server or (with other session ids) on several; the range counts it
// once.
func TestUniqueRangeOneVisitorManyDays(t *testing.T) {
	ctx := t.Context()
	reg := scaleRegistry(t)
	minis := scaleMinis(t, reg, Shards)
	var now time.Time
	c := newCounter(t, reg, &Options{Now: func() time.Time { return now }})
	r := rand.New(rand.NewPCG(1, 2))
	sets, servers := map[string]bool{}, map[string]bool{}
	for i := 0; i < 5; i++ {
		now = day.AddDate(0, 0, i)
		// Yesterday's count decides today's size: 1, then 2048 and more.
		minis[Shards].Set(countKey(Day(now.AddDate(0, 0, -1))), fmt.Sprint(1<<(4*i)))
		v, err := c.CountVisit(ctx, sidForUser(r, 42))
		if err != nil || !v.New {
			t.Fatalf("day %d: %+v, %v", i, v, err)
		}
		sets[strings.TrimPrefix(v.Set, setBase(v.Day))] = true
		servers[v.Shard] = true
	}
	if len(sets) < 2 || len(servers) < 2 {
		t.Fatalf("set shards %v on servers %v: want several of each", sets, servers)
	}
	if n, err := c.UniqueRange(ctx, day, now, nil); err != nil || n != 1 {
		t.Errorf("UniqueRange = %d, %v; want 1", n, err)
	}
	if n, err := c.UniqueRange(ctx, day.AddDate(0, 0, -3), day.AddDate(0, 0, -1), nil); err != nil || n != 0 {
		t.Errorf("UniqueRange of days without visits = %d, %v; want 0", n, err)
	}
}

// readHook records, per pipeline, the members its SSCAN replies carried.
type readHook struct {
	tripHook
	mu      sync.Mutex
	batches [][2]int // members read, SSCANs sent
	sscans  int      // single SSCANs (a cursor followed)
}

func (h *readHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "sscan" {
			h.mu.Lock()
			h.sscans++
			h.mu.Unlock()
		}
		return err
	}
}

func (h *readHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		members, scans := 0, 0
		for _, c := range cmds {
			if sc, ok := c.(*redis.ScanCmd); ok {
				k, _ := sc.Val()
				members += len(k)
				scans++
			}
		}
		if scans > 0 {
			h.mu.Lock()
			h.batches = append(h.batches, [2]int{members, scans})
			h.mu.Unlock()
		}
		return err
	}
}

// TestUniqueRangeBatchBound: no pipeline of SSCANs reads more than Batch members, except one SSCAN of
// one set larger than Batch, whose cursor is then followed Batch members at a time; and the count is
// exact for every Batch.
func TestUniqueRangeBatchBound(t *testing.T) {
	ctx := t.Context()
	_, client := mini(t)
	c := newCounterOn(t, client, &Options{Now: fixedClock(day), DailyExpected: 3000}) // 32 set shards
	r := rand.New(rand.NewPCG(4, 4))
	sids := make([]string, 3000)
	for i := range sids {
		sids[i] = randomSID(r)
	}
	if _, err := c.CountVisits(ctx, sids); err != nil {
		t.Fatal(err)
	}
	h := &readHook{}
	client.AddHook(h)
	for _, batch := range []int{1, 7, 60, 200, 5000} {
		h.mu.Lock()
		h.batches, h.sscans = nil, 0
		h.mu.Unlock()
		n, err := c.UniqueRange(ctx, day, day, &RangeOptions{Batch: batch})
		if err != nil || n != int64(len(sids)) {
			t.Errorf("Batch %d: %d, %v; want %d", batch, n, err, len(sids))
		}
		h.mu.Lock()
		for _, b := range h.batches {
			if b[0] > batch && b[1] > 1 {
				t.Errorf("Batch %d: a pipeline of %d SSCANs read %d members", batch, b[1], b[0])
			}
		}
		if batch < 60 && h.sscans == 0 { // the shards hold about 94 each
			t.Errorf("Batch %d: no cursor followed", batch)
		}
		h.mu.Unlock()
	}
}

// TestRangeDays (property): rangeDays lists every date from from's to to's once, in order, for
// times in any locations, and refuses a reversed or too long range with ErrBadRange.
func TestRangeDays(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	zones := []*time.Location{time.UTC, time.FixedZone("+14", 14*3600), time.FixedZone("-12", -12*3600)}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		zones = append(zones, ny) // DST changes: days of 23 and 25 hours
	}
	for i := 0; i < 2000; i++ {
		from := time.Unix(1_700_000_000+r.Int64N(400*86400), 0).In(zones[r.IntN(len(zones))])
		to := from.Add(time.Duration(r.Int64N(int64(40*24*time.Hour))) - 5*24*time.Hour).In(zones[r.IntN(len(zones))])
		if r.IntN(20) == 0 {
			to = from.AddDate(0, 0, MaxRangeDays-2+r.IntN(4))
		}
		days, err := rangeDays(from, to)
		fd, td := Day(from), Day(to)
		if td < fd {
			if !errors.Is(err, ErrBadRange) {
				t.Fatalf("%s..%s: %v; want ErrBadRange", fd, td, err)
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadRange) || !strings.Contains(err.Error(), "at most") {
				t.Fatalf("%s..%s: %v", fd, td, err)
			}
			continue
		}
		if days[0] != fd || days[len(days)-1] != td || len(days) > MaxRangeDays {
			t.Fatalf("%s..%s: %d days from %s to %s", fd, td, len(days), days[0], days[len(days)-1])
		}
		for k := 1; k < len(days); k++ {
			prev, _ := time.Parse(DateLayout, days[k-1])
			if prev.AddDate(0, 0, 1).Format(DateLayout) != days[k] {
				t.Fatalf("%s..%s: %s follows %s", fd, td, days[k], days[k-1])
			}
		}
	}
}

// TestRangeBadInput: a reversed or too long range, a bad option, a set member that is not an id and
// a bad expected size are typed errors.
func TestRangeBadInput(t *testing.T) {
	ctx := t.Context()
	m, client := mini(t)
	c := newCounterOn(t, client, &Options{Now: fixedClock(day)})
	bm, err := NewBitmap(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(from, to time.Time) error{
		"Counter.UniqueRange": func(f, to time.Time) error { _, err := c.UniqueRange(ctx, f, to, nil); return err },
		"UniqueRange":         func(f, to time.Time) error { _, err := UniqueRange(ctx, client, f, to, nil); return err },
		"UniqueRangeHLL":      func(f, to time.Time) error { _, err := UniqueRangeHLL(ctx, client, f, to); return err },
		"Counter.HLL":         func(f, to time.Time) error { _, err := c.UniqueRangeHLL(ctx, f, to); return err },
		"UniqueRangeBitmap":   func(f, to time.Time) error { _, err := UniqueRangeBitmap(ctx, client, f, to); return err },
		"Bitmap.CountRange":   func(f, to time.Time) error { _, err := bm.CountRange(ctx, f, to); return err },
	}
	for name, call := range calls {
		if err := call(day, day.AddDate(0, 0, -1)); !errors.Is(err, ErrBadRange) {
			t.Errorf("%s reversed: %v; want ErrBadRange", name, err)
		}
		if err := call(day, day.AddDate(0, 0, MaxRangeDays)); !errors.Is(err, ErrBadRange) {
			t.Errorf("%s too long: %v; want ErrBadRange", name, err)
		}
		if err := call(day, day.AddDate(0, 0, MaxRangeDays-1)); err != nil {
			t.Errorf("%s of MaxRangeDays: %v", name, err)
		}
	}
	for _, opt := range []RangeOptions{{Passes: -1}, {Batch: -3}} {
		_, err := c.UniqueRange(ctx, day, day, &opt)
		var oe *option.Error
		if !errors.Is(err, option.ErrBadOption) || !errors.As(err, &oe) || oe.Type != "uniquevisits.RangeOptions" {
			t.Errorf("UniqueRange(%+v): %v; want an option error", opt, err)
		}
	}
	for _, plain := range []func() error{
		func() error { _, err := UniqueRange(ctx, nil, day, day, nil); return err },
		func() error { _, err := UniqueRangeHLL(ctx, nil, day, day); return err },
		func() error { _, err := UniqueRangeBitmap(ctx, nil, day, day); return err },
		func() error { _, err := UniqueBitmap(ctx, nil, day); return err },
	} {
		if err := plain(); !errors.Is(err, ErrNoClient) {
			t.Errorf("nil client: %v; want ErrNoClient", err)
		}
	}

	if _, err := c.CountVisit(ctx, "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2"); err != nil {
		t.Fatal(err)
	}
	// Members CountVisit never writes: "05" and "5" would be one visitor here, two to Recount.
	for _, foreign := range []string{"not-an-id", "05", "+5", "-0", " 5"} {
		key := setBase(Day(day)) + ":3"
		m.SAdd(key, foreign)
		if _, err := c.UniqueRange(ctx, day, day, nil); !errors.Is(err, ErrBadMember) || strings.Contains(err.Error(), `"`+foreign) {
			t.Errorf("a foreign member %q: %v; want ErrBadMember, without the member", foreign, err)
		}
		m.SRem(key, foreign)
	}
	m.Set(expectedKey(Day(day)), "-5")
	if _, err := c.UniqueRange(ctx, day, day, nil); !errors.Is(err, ErrBadCount) {
		t.Errorf("a bad expected size: %v; want ErrBadCount", err)
	}
	m.Set(bitmapKey(Day(day)), "x")
	m.SAdd(bitmapKey(Day(day.AddDate(0, 0, 1))), "a set") // not a string
	if _, err := bm.CountRange(ctx, day, day.AddDate(0, 0, 1)); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("a day's bitmap of another type: %v; want WRONGTYPE", err)
	}
	for _, k := range m.Keys() {
		if strings.Contains(k, ":range:") {
			t.Errorf("temporary key %s left behind", k)
		}
	}
}

// TestScaleEndedContext: every new public call, on a server that does not answer, returns an error
// that matches the ctx's end, each time, and with a ctx cancelled beforehand.
func TestScaleEndedContext(t *testing.T) {
	srv := redistest.RunT(t, nil)
	c := srv.Client(t)
	reg := scaleRegistry(t)
	setup := t.Context()
	for i := 0; i <= 4; i++ {
		if err := reg.SetConfig(setup, scaleComp(i, 4), map[string]any{"addr": srv.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	one := newCounterOn(t, c, &Options{Now: fixedClock(day)})
	sharded := newCounter(t, reg, &Options{Shards: 4, Now: fixedClock(day)})
	// Sets to read, so the range calls reach the server.
	if _, err := sharded.CountVisit(setup, "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2"); err != nil {
		t.Fatal(err)
	}
	bm, err := NewBitmap(c, &BitmapOptions{Now: fixedClock(day)})
	if err != nil {
		t.Fatal(err)
	}
	sids := []string{"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", "00000000-0000-0000-0000-000000000001"}
	week := day.AddDate(0, 0, 6)
	calls := map[string]func(context.Context) error{
		"CountVisits":        func(ctx context.Context) error { _, err := CountVisits(ctx, c, sids, day); return err },
		"UniqueRange":        func(ctx context.Context) error { _, err := UniqueRange(ctx, c, day, week, nil); return err },
		"UniqueRangeHLL":     func(ctx context.Context) error { _, err := UniqueRangeHLL(ctx, c, day, week); return err },
		"UniqueBitmap":       func(ctx context.Context) error { _, err := UniqueBitmap(ctx, c, day); return err },
		"UniqueRangeBitmap":  func(ctx context.Context) error { _, err := UniqueRangeBitmap(ctx, c, day, week); return err },
		"Bitmap.CountVisit":  func(ctx context.Context) error { _, err := bm.CountVisit(ctx, 7); return err },
		"Bitmap.Count":       func(ctx context.Context) error { _, err := bm.Count(ctx, day); return err },
		"Bitmap.CountRange":  func(ctx context.Context) error { _, err := bm.CountRange(ctx, day, week); return err },
		"Counter.UniqueRHLL": func(ctx context.Context) error { _, err := sharded.UniqueRangeHLL(ctx, day, week); return err },
	}
	for name, counter := range map[string]*Counter{"one client": one, "registry": sharded} {
		calls["Counter.CountVisits ("+name+")"] = func(ctx context.Context) error { _, err := counter.CountVisits(ctx, sids); return err }
		calls["Counter.UniqueRange ("+name+")"] = func(ctx context.Context) error {
			_, err := counter.UniqueRange(ctx, day, week, nil)
			return err
		}
	}
	for i := 0; i <= 4; i++ { // the registry's clients exist before the server stops answering
		if _, err := reg.Client(setup, scaleComp(i, 4)); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	for name, call := range calls {
		for rep := 0; rep < 2; rep++ {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
			err := call(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s, try %d: %v; want context.DeadlineExceeded", name, rep, err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled ctx: %v; want context.Canceled", name, err)
		}
	}
}

// TestRealRangesOnCluster: the three variants on a real Redis Cluster, every component naming it.
// The days' keys sit in different slots, where a PFCOUNT or BITOP of several days is refused
// (CROSSSLOT); the range calls still agree with the truth, the sets read once although 16 components
// name the cluster, and no temporary key is left.
func TestRealRangesOnCluster(t *testing.T) {
	ctx := t.Context()
	rc := shared.Cluster(t)
	reg := scaleRegistry(t)
	cfg := map[string]any{"cluster": rc.Addrs()}
	for i := 0; i <= Shards; i++ {
		if err := reg.SetConfig(ctx, scaleComp(i, Shards), cfg); err != nil {
			t.Fatal(err)
		}
	}
	client, err := reg.Client(ctx, Component)
	if err != nil {
		t.Fatal(err)
	}
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("component %q is a %T; want *redis.ClusterClient", Component, client)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 5))
	w := randomWeek(r, 3000)
	var now, bmNow time.Time
	c := newCounter(t, reg, &Options{Now: func() time.Time { return now }, DailyExpected: 500})
	bm, err := NewBitmap(cc, &BitmapOptions{Now: func() time.Time { return bmNow }})
	if err != nil {
		t.Fatal(err)
	}
	countWeek(t, ctx, w, c, &now, cc, bm, &bmNow)

	keys := []string{hllKey(Day(w.days[0])), hllKey(Day(w.days[1]))}
	if shard.Slot(keys[0]) == shard.Slot(keys[1]) {
		t.Fatalf("%v share a slot", keys)
	}
	if err := cc.PFCount(ctx, keys...).Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("PFCOUNT of two days on the cluster: %v; want CROSSSLOT", err)
	}
	checkWeek(t, ctx, w, r, c, cc, bm)
	// The Counter's HyperLogLog range reads the same keys, on its unsharded component.
	a, err := c.UniqueRangeHLL(ctx, w.days[0], w.days[6])
	b, err2 := UniqueRangeHLL(ctx, cc, w.days[0], w.days[6])
	if err != nil || err2 != nil || a != b {
		t.Errorf("Counter.UniqueRangeHLL = %d, %v; UniqueRangeHLL = %d, %v; want equal", a, err, b, err2)
	}

	// The 16 components name one cluster: its sets are read through one of them only.
	hooks := hookAll(t, reg, Shards)
	if n, err := c.UniqueRange(ctx, w.days[0], w.days[6], nil); err != nil || n != w.union(0, 6) {
		t.Errorf("UniqueRange = %d, %v; want %d", n, err, w.union(0, 6))
	}
	read := 0
	for _, h := range hooks[:Shards] {
		if h.pipes.Load() > 0 {
			read++
		}
	}
	if read != 1 {
		t.Errorf("%d components read; want 1 (one cluster)", read)
	}

	err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		left, err := m.Keys(ctx, "*:range:*").Result()
		if err == nil && len(left) > 0 {
			return fmt.Errorf("temporary keys left: %v", left)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
}
