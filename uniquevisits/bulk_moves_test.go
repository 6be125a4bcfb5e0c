package uniquevisits

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// CountVisits on a ClusterClient whose slot map is behind a move (one set shard's slot moved to
// another master after the client loaded the map), in both modes: every visit is counted, as
// CountVisit counts it, though only some of a node's SADDs are refused with MOVED.
func TestCountVisitsStaleSlotMap(t *testing.T) {
	for _, durableOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("durable=%v", durableOn), func(t *testing.T) {
			ctx := t.Context()
			rc := shared.Cluster(t)
			cc := rc.Client(t)
			d := day.AddDate(0, 0, 40)
			opt := &Options{Now: fixedClock(d), DailyExpected: 5000}
			if durableOn {
				opt.Durable = Durability{Replicas: 1, Timeout: 5 * time.Second}
			}
			c := newCounterOn(t, cc, opt)
			r := rand.New(rand.NewPCG(21, 22))
			if _, err := c.CountVisits(ctx, []string{randomSID(r), randomSID(r)}); err != nil {
				t.Fatal(err)
			}
			expected, err := c.Expected(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			var sids []string
			for i := 0; i < 300; i++ {
				sids = append(sids, randomSID(r))
			}
			key := setOf(t, sids[0], d, expected)
			_, dst, err := rc.MoveEnds(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.MoveSlot(ctx, shard.Slot(key), dst, nil); err != nil {
				t.Fatal(err)
			}
			res, err := c.CountVisits(ctx, sids)
			failed := 0
			for i, rr := range res {
				if rr.Err != nil {
					failed++
					if failed <= 3 {
						t.Logf("visit %d (%s): %v", i, rr.Visit.Set, rr.Err)
					}
				}
			}
			n, _ := c.Count(ctx, d)
			rcnt, _ := c.Recount(ctx, d)
			t.Logf("err %v; %d of %d failed; Count %d Recount %d", err, failed, len(sids), n, rcnt)
			if err != nil || n != 302 || rcnt != 302 {
				t.Errorf("stale slot map: %d visits failed (%v); Count %d, Recount %d; want 302 counted", failed, err, n, rcnt)
			}
		})
	}
}

// setOf is the set shard that CountVisit puts sid in on day d.
func setOf(t *testing.T, sid string, d time.Time, expected int64) string {
	t.Helper()
	k, err := shard.Key(setBase(Day(d)), fmt.Sprint("x", mustID(t, sid)), int(expected), ShardSize, shard.Python3)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustID(t *testing.T, sid string) int64 {
	t.Helper()
	id, err := ParseSessionID(sid)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// CountVisits, and CountVisit, while a set shard's slot is half moved (the set already on the
// target: ASK), in both modes: every visit is counted. Durable, the SADDs an ASK refused go to the
// importing master after ASKING, and its WAIT confirms them.
func TestCountVisitsHalfMovedSlot(t *testing.T) {
	for _, durableOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("durable=%v", durableOn), func(t *testing.T) {
			ctx := t.Context()
			rc := shared.Cluster(t)
			cc := rc.Client(t)
			d := day.AddDate(0, 0, 50)
			opt := &Options{Now: fixedClock(d), DailyExpected: 5000}
			if durableOn {
				opt.Durable = Durability{Replicas: 1, Timeout: 5 * time.Second}
			}
			c := newCounterOn(t, cc, opt)
			r := rand.New(rand.NewPCG(31, 32))
			first := randomSID(r)
			res, err := c.CountVisits(ctx, []string{first, randomSID(r)})
			if err != nil {
				t.Fatal(err)
			}
			key := res[0].Visit.Set
			slot := shard.Slot(key)
			for i, n := 0, 0; n < 4; i++ { // more keys in the slot, so the move has several steps
				k := fmt.Sprintf("unique:filler:%d", i)
				if shard.Slot(k) == slot {
					cc.Set(ctx, k, "x", 0)
					n++
				}
			}
			var sids []string
			for i := 0; i < 200; i++ {
				sids = append(sids, randomSID(r))
			}
			expected, err := c.Expected(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			// Two visitors whose set is the moved one: the batch's last, and the last of all, which
			// CountVisit sends alone.
			for len(sids) < 202 {
				if s := randomSID(r); setOf(t, s, d, expected) == key {
					sids = append(sids, s)
				}
			}
			_, dst, err := rc.MoveEnds(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			ran := false
			var bres []VisitResult
			var berr, oneErr error
			var one Visit
			err = rc.MoveSlot(ctx, slot, dst, &redistest.MoveOptions{Batch: 1, Batched: func(ctx context.Context, keys []string) error {
				for _, k := range keys {
					if k == key && !ran {
						ran = true
						bres, berr = c.CountVisits(ctx, sids[:len(sids)-1])
						one, oneErr = c.CountVisit(ctx, sids[len(sids)-1])
					}
				}
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			if !ran {
				t.Fatal("set never moved")
			}
			failed := 0
			for i, rr := range bres {
				if rr.Err != nil {
					failed++
					if failed <= 2 {
						t.Logf("visit %d (%s): %v", i, rr.Visit.Set, rr.Err)
					}
				}
			}
			n, _ := c.Count(ctx, d)
			t.Logf("half moved: %d of %d failed, %v; Count %d", failed, len(sids), berr, n)
			if oneErr != nil || !one.New {
				t.Errorf("CountVisit of a visitor of the moved set: %+v, %v; want a new visit", one, oneErr)
			}
			if failed > 0 || n != int64(2+len(sids)) {
				t.Errorf("half-moved slot: %d visits failed; Count %d, want %d", failed, n, 2+len(sids))
			}
		})
	}
}
