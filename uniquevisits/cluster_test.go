package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// shared is the test binary's one Redis Cluster: 3 masters with a replica each.
var shared redistest.SharedCluster

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// weekSIDs are the session ids countWeek gives day i's visitors.
func weekSIDs(w week, i int) []string {
	sids := make([]string, len(w.visits[i]))
	for k, uid := range w.visits[i] {
		sids[k] = sidForUser(rand.New(rand.NewPCG(uint64(uid), uint64(i))), uid)
	}
	return sids
}

// TestRealClusterOnClient runs the public API on a *redis.ClusterClient (the chapter 9 functions,
// a Counter from NewOnClient, the HyperLogLog and bitmap variants) on 3 masters with a replica each.
// The day's keys (the count, the expected size, the set shards, the HyperLogLogs, the bitmaps) sit in
// many slots on all three masters. Every count equals the distinct ids written; the HyperLogLog's
// estimates, single days and ranges, equal those of one plain server given the same PFADDs (the
// same registers, so the same estimate).
func TestRealClusterOnClient(t *testing.T) {
	ctx := t.Context()
	cc := shared.Cluster(t).Client(t)
	single := redistest.RunT(t, nil).Client(t)
	r := rand.New(rand.NewPCG(7, 8))
	w := randomWeek(r, 2000)
	var now, bmNow time.Time
	c := newCounterOn(t, cc, &Options{Now: func() time.Time { return now }, DailyExpected: 500})
	bm, err := NewBitmap(cc, &BitmapOptions{Now: func() time.Time { return bmNow }})
	if err != nil {
		t.Fatal(err)
	}
	countWeek(t, ctx, w, c, &now, cc, bm, &bmNow)
	for i, d := range w.days {
		if _, err := single.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, sid := range weekSIDs(w, i) {
				if _, err := CountVisitHLL(ctx, p, sid, d); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	checkWeek(t, ctx, w, r, c, cc, bm)

	for i, d := range w.days {
		want := int64(len(w.truth[i]))
		if n, err := UniqueRange(ctx, cc, d, d, nil); err != nil || n != want {
			t.Errorf("day %d: UniqueRange = %d, %v; want %d", i, n, err, want)
		}
		if n, err := UniqueBitmap(ctx, cc, d); err != nil || n != want {
			t.Errorf("day %d: UniqueBitmap = %d, %v; want %d", i, n, err, want)
		}
		got, err := c.UniqueHLL(ctx, d)
		one, err2 := UniqueHLL(ctx, single, d)
		if err != nil || err2 != nil || got != one {
			t.Errorf("day %d: UniqueHLL on the cluster %d, %v; on one server %d, %v; want equal", i, got, err, one, err2)
		}
		var sum int64
		total, err := c.RecountEach(ctx, d, func(sc ShardCount) { sum += sc.Count })
		if err != nil || total != want || sum != want {
			t.Errorf("day %d: RecountEach = %d (parts %d), %v; want %d", i, total, sum, err, want)
		}
	}
	for _, rg := range [][2]int{{0, 6}, {1, 4}, {5, 6}} {
		from, to := w.days[rg[0]], w.days[rg[1]]
		want := w.union(rg[0], rg[1])
		if n, err := UniqueRange(ctx, cc, from, to, nil); err != nil || n != want {
			t.Errorf("days %v: UniqueRange = %d, %v; want %d", rg, n, err, want)
		}
		if n, err := UniqueRangeBitmap(ctx, cc, from, to); err != nil || n != want {
			t.Errorf("days %v: UniqueRangeBitmap = %d, %v; want %d", rg, n, err, want)
		}
		got, err := c.UniqueRangeHLL(ctx, from, to)
		one, err2 := UniqueRangeHLL(ctx, single, from, to)
		if err != nil || err2 != nil || got != one {
			t.Errorf("days %v: UniqueRangeHLL on the cluster %d, %v; on one server %d, %v; want equal", rg, got, err, one, err2)
		}
	}

	// The chapter 9 functions on the day after the week: its expected size comes from the week's
	// last count.
	d8 := w.days[6].AddDate(0, 0, 1)
	sids, distinct := visits(400)
	for _, sid := range sids[:100] {
		if _, err := CountVisit(ctx, cc, sid, d8); err != nil {
			t.Fatal(err)
		}
	}
	results, err := CountVisits(ctx, cc, sids[100:], d8)
	if err != nil {
		t.Fatal(err)
	}
	counted := map[int64]bool{}
	for _, sid := range sids {
		id, _ := ParseSessionID(sid)
		counted[id] = true
	}
	var news int
	for _, res := range results {
		if res.Visit.New {
			news++
		}
	}
	wantExpected, _ := roundUp(int64(len(w.truth[6])))
	expected, err := Expected(ctx, cc, d8, DailyExpected)
	if err != nil || expected != wantExpected {
		t.Errorf("Expected of the day after = %d, %v; want %d", expected, err, wantExpected)
	}
	extra := int64(1<<59 + 12345) // a visitor id no session above has
	v, err := Add(ctx, cc, cc, d8, extra, expected, ShardSize)
	if err != nil || !v.New || v.Count != int64(distinct)+1 {
		t.Errorf("Add = %+v, %v; want new, count %d", v, err, distinct+1)
	}
	if n, err := Count(ctx, cc, d8); err != nil || n != int64(distinct)+1 {
		t.Errorf("Count = %d, %v; want %d", n, err, distinct+1)
	}
	if n, err := UniqueRange(ctx, cc, d8, d8, nil); err != nil || n != int64(distinct)+1 {
		t.Errorf("UniqueRange of the day after = %d, %v; want %d", n, err, distinct+1)
	}
	if len(counted) != distinct || news == 0 {
		t.Fatalf("%d distinct ids, %d new in the batch: the test's visits are wrong", len(counted), news)
	}

	// The Counter on the same day: the ids are known, one more is new.
	now = d8
	if n, err := c.Expected(ctx, d8); err != nil || n != wantExpected {
		t.Errorf("Counter.Expected = %d, %v; want %d", n, err, wantExpected)
	}
	if v, err := c.CountVisit(ctx, sids[0]); err != nil || v.New {
		t.Errorf("Counter.CountVisit of a known id = %+v, %v; want not new", v, err)
	}
	if v, err := c.CountVisit(ctx, "ffffffff-ffff-4fff-8fff-ffffffffffff"); err != nil || !v.New || v.Count != int64(distinct)+2 {
		t.Errorf("Counter.CountVisit of a new id = %+v, %v; want new, count %d", v, err, distinct+2)
	}
	if n, err := c.Recount(ctx, d8); err != nil || n != int64(distinct)+2 {
		t.Errorf("Recount = %d, %v; want %d", n, err, distinct+2)
	}
	if changed, err := c.CountVisitHLL(ctx, sids[0]); err != nil || !changed {
		t.Errorf("Counter.CountVisitHLL on a new day = %v, %v; want changed", changed, err)
	}
	if n, err := c.UniqueHLL(ctx, d8); err != nil || n != 1 {
		t.Errorf("Counter.UniqueHLL = %d, %v; want 1", n, err)
	}
}

// masterOf maps each slot of the cluster to its master's address.
func masterOf(t *testing.T, cc *redis.ClusterClient) func(key string) string {
	t.Helper()
	slots, err := cc.ClusterSlots(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return func(key string) string {
		s := shard.Slot(key)
		for _, r := range slots {
			if r.Start <= s && s <= r.End {
				return r.Nodes[0].Addr
			}
		}
		t.Fatalf("no master serves %s", key)
		return ""
	}
}

// serverAt is the cluster node at addr.
func serverAt(t *testing.T, rc *redistest.Cluster, addr string) *redistest.Server {
	t.Helper()
	for _, s := range rc.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	t.Fatalf("no node %s", addr)
	return nil
}

// TestRealClusterDurable: a Counter, a Bitmap and the HyperLogLog variant in the durable mode on the
// cluster's client. Each master the sets are written on gets a WAIT ending its pipeline, the count's
// master one ending the INCRBY's, and everything is confirmed. With the replica of one master paused
// (not the count's), only the new visits whose set shard that master holds are ErrNotDurable, in
// CountVisits and in CountVisit; the counts stay exact.
func TestRealClusterDurable(t *testing.T) {
	ctx := t.Context()
	rc := shared.Cluster(t)
	cc := rc.Client(t)
	h := &waitHook{}
	cc.OnNewNode(func(n *redis.Client) { n.AddHook(h) })
	master := masterOf(t, cc)
	d := Durability{Replicas: 1, Timeout: 5 * time.Second}
	c := newCounterOn(t, cc, &Options{Now: fixedClock(day), DailyExpected: 5000, Durable: d})
	bm, err := NewBitmap(cc, &BitmapOptions{Now: fixedClock(day), Durable: d})
	if err != nil {
		t.Fatal(err)
	}
	sids, distinct := visits(300)
	h.take()
	res, err := c.CountVisits(ctx, sids)
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, r := range res {
		if r.Visit.New {
			written[master(r.Visit.Set)] = true
		}
	}
	// A slow replica may take more WAIT rounds after the first: never fewer.
	if waits, notLast, _ := h.take(); waits < len(written)+1 || notLast != 0 {
		t.Errorf("CountVisits: %d WAITs (%d not last); want one ending each of the %d masters' pipelines and the INCRBY's", waits, notLast, len(written))
	}
	if v, err := c.CountVisit(ctx, "ffffffff-ffff-4fff-8fff-ffffffffffff"); err != nil || !v.New || v.Count != int64(distinct)+1 {
		t.Errorf("CountVisit = %+v, %v; want new, count %d, confirmed", v, err, distinct+1)
	}
	if changed, err := c.CountVisitHLL(ctx, sids[0]); err != nil || !changed {
		t.Errorf("CountVisitHLL = %v, %v; want changed, confirmed", changed, err)
	}
	if v, err := bm.CountVisit(ctx, 42); err != nil || !v.New {
		t.Errorf("Bitmap.CountVisit = %+v, %v; want new, confirmed", v, err)
	}
	if waits, _, writes := h.take(); waits < 3 || writes != 4 {
		t.Errorf("CountVisit, CountVisitHLL, Bitmap.CountVisit: %d WAITs, %d writes; want at least 3 and 4", waits, writes)
	}

	// Pause the replica of a master that holds sets but not the count.
	countMaster := master(countKey(Day(day)))
	paused := ""
	for addr := range written {
		if addr != countMaster {
			paused = addr
		}
	}
	if paused == "" {
		t.Fatalf("the sets were written only on the count's master %s", countMaster)
	}
	replica, err := rc.ReplicaOf(ctx, serverAt(t, rc, paused))
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		replica.Resume()
		rc.WaitHealthy(context.Background())
	})
	d.Timeout = 200 * time.Millisecond
	c2 := newCounterOn(t, cc, &Options{Now: fixedClock(day), DailyExpected: 5000, Durable: d})
	r := rand.New(rand.NewPCG(3, 3))
	more := make([]string, 100)
	for i := range more {
		more[i] = randomSID(r)
	}
	res, err = c2.CountVisits(ctx, more)
	if !errors.Is(err, ErrNotDurable) {
		t.Errorf("CountVisits with %s's replica paused: %v; want ErrNotDurable", paused, err)
	}
	on := map[bool]int{}
	for i, r := range res {
		if !r.Visit.New {
			t.Fatalf("visit %d not new: %+v, %v", i, r.Visit, r.Err)
		}
		if master(r.Visit.Set) == paused {
			notConfirmed(t, fmt.Sprintf("visit %d, its set on the paused replica's master", i), r.Err)
		} else if r.Err != nil {
			t.Errorf("visit %d, its set on %s: %v; want confirmed", i, master(r.Visit.Set), r.Err)
		}
		on[master(r.Visit.Set) == paused]++
	}
	if on[true] == 0 || on[false] == 0 {
		t.Fatalf("visits on the paused replica's master or not: %v; want some of each", on)
	}
	for i := 0; ; i++ {
		sid := randomSID(r)
		v, err := c2.CountVisit(ctx, sid)
		if master(v.Set) != paused {
			if err != nil {
				t.Fatalf("CountVisit, its set on %s: %v; want confirmed", master(v.Set), err)
			}
			continue
		}
		notConfirmed(t, "CountVisit, its set on the paused replica's master", err)
		if !v.New || v.Count != int64(distinct+1+len(more)+i+1) {
			t.Errorf("CountVisit = %+v; want new, count %d", v, distinct+1+len(more)+i+1)
		}
		break
	}
}
