package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// waitHook counts the WAITs and the writes a client sends, alone or pipelined, and the pipelines
// where a command followed the WAIT.
type waitHook struct {
	mu                    sync.Mutex
	waits, notLast, sends int
}

func (h *waitHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *waitHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}
func (h *waitHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.count(cmds)
		return next(ctx, cmds)
	}
}

func (h *waitHook) count(cmds []redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, c := range cmds {
		switch c.Name() {
		case "wait":
			h.waits++
			if i != len(cmds)-1 {
				h.notLast++
			}
		case "sadd", "incr", "incrby", "pfadd", "setbit":
			h.sends++
		}
	}
}

// take returns the WAITs, the WAITs a command followed, and the writes, and starts again from zero.
func (h *waitHook) take() (waits, notLast, writes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	waits, notLast, writes = h.waits, h.notLast, h.sends
	h.waits, h.notLast, h.sends = 0, 0, 0
	return
}

// notConfirmed checks that err is ErrNotDurable naming 0 of 1 replicas, and no lost reply.
func notConfirmed(t *testing.T, what string, err error) {
	t.Helper()
	var de *DurableError
	if !errors.Is(err, ErrNotDurable) || !errors.As(err, &de) || de.Replicas != 0 || de.Wanted != 1 ||
		errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrUncounted) {
		t.Errorf("%s: %v; want ErrNotDurable, 0 of 1 replicas, and nothing else", what, err)
	}
}

// TestRealDurable: on a master with one replica, every durable write (CountVisit's SADD and INCR,
// CountVisits' pipelines, CountVisitHLL's PFADD, Bitmap's SETBIT) is followed by a WAIT on its
// connection, and the replica then has it; a visit that wrote nothing waits for nothing; with the
// replica paused each write is applied and returned with ErrNotDurable, its result filled in; the
// default mode sends no WAIT.
func TestRealDurable(t *testing.T) {
	ctx := t.Context()
	r := redistest.RunReplicatedT(t, nil)
	if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
		t.Fatal(err)
	}
	c := r.Master.Client(t)
	h := &waitHook{}
	c.AddHook(h)
	replica := r.Replica.Client(t)
	rnd := rand.New(rand.NewPCG(1, 9))
	sid := func() string { return randomSID(rnd) }
	var uid int64
	next := func() int64 { uid++; return uid }

	plain := newCounterOn(t, c, &Options{Now: fixedClock(day), DailyExpected: 500})
	plainBM, err := NewBitmap(c, &BitmapOptions{Now: fixedClock(day)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.CountVisit(ctx, sid()); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.CountVisits(ctx, []string{sid(), sid()}); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.CountVisitHLL(ctx, sid()); err != nil {
		t.Fatal(err)
	}
	if _, err := plainBM.CountVisit(ctx, next()); err != nil {
		t.Fatal(err)
	}
	if waits, _, writes := h.take(); waits != 0 || writes != 7 {
		t.Errorf("default mode: %d WAITs, %d writes; want 0 and 7", waits, writes)
	}

	d := Durability{Replicas: 1, Timeout: 5 * time.Second}
	c1 := newCounterOn(t, c, &Options{Now: fixedClock(day), DailyExpected: 500, Durable: d})
	bm, err := NewBitmap(c, &BitmapOptions{Now: fixedClock(day), Durable: d})
	if err != nil {
		t.Fatal(err)
	}
	s := sid()
	v, err := c1.CountVisit(ctx, s)
	if err != nil || !v.New || v.Count != 4 {
		t.Fatalf("durable CountVisit = %+v, %v; want new, count 4", v, err)
	}
	// A slow replica may take more WAIT rounds on the same connection: at least one, never none.
	if waits, _, _ := h.take(); waits < 1 {
		t.Errorf("durable CountVisit: %d WAITs; want one (SADD and INCR share a connection)", waits)
	}
	if ok, err := replica.SIsMember(ctx, v.Set, fmt.Sprint(v.ID)).Result(); err != nil || !ok {
		t.Errorf("replica: %d in %s = %v, %v after a confirmed visit", v.ID, v.Set, ok, err)
	}
	if n, err := replica.Get(ctx, countKey(v.Day)).Int64(); err != nil || n != 4 {
		t.Errorf("replica: count %d, %v; want 4", n, err)
	}
	if v, err := c1.CountVisit(ctx, s); err != nil || v.New {
		t.Errorf("durable CountVisit again = %+v, %v; want not new", v, err)
	}
	if waits, _, _ := h.take(); waits != 0 {
		t.Errorf("a visit that wrote nothing sent %d WAITs; want none", waits)
	}
	res, err := c1.CountVisits(ctx, []string{sid(), s, sid()})
	if err != nil || !res[0].Visit.New || res[1].Visit.New || res[2].Visit.Count != 6 {
		t.Errorf("durable CountVisits = %+v, %v", res, err)
	}
	if waits, notLast, _ := h.take(); waits != 2 || notLast != 0 {
		t.Errorf("durable CountVisits: %d WAITs (%d not last); want one ending the SADDs' pipeline, one the INCRBY's", waits, notLast)
	}
	if changed, err := c1.CountVisitHLL(ctx, s); err != nil || !changed {
		t.Errorf("durable CountVisitHLL = %v, %v", changed, err)
	}
	u := next()
	if bv, err := bm.CountVisit(ctx, u); err != nil || !bv.New {
		t.Errorf("durable Bitmap.CountVisit = %+v, %v", bv, err)
	}
	if waits, _, _ := h.take(); waits < 2 {
		t.Errorf("durable PFADD and SETBIT: %d WAITs; want one each", waits)
	}
	if bit, err := replica.GetBit(ctx, bitmapKey(Day(day)), u).Result(); err != nil || bit != 1 {
		t.Errorf("replica: bit %d = %d, %v after a confirmed SETBIT", u, bit, err)
	}

	if err := r.Replica.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Replica.Resume() })
	d.Timeout = 100 * time.Millisecond
	c2 := newCounterOn(t, c, &Options{Now: fixedClock(day), DailyExpected: 500, Durable: d})
	bm2, err := NewBitmap(c, &BitmapOptions{Now: fixedClock(day), Durable: d})
	if err != nil {
		t.Fatal(err)
	}
	v, err = c2.CountVisit(ctx, sid())
	notConfirmed(t, "CountVisit, replica paused", err)
	if !v.New || v.Count != 7 || v.Set == "" {
		t.Errorf("CountVisit, replica paused: %+v; want the visit filled in, new, count 7", v)
	}
	res, err = c2.CountVisits(ctx, []string{sid(), s, sid()})
	var be *BatchError
	if !errors.As(err, &be) || be.Failed != 2 || !errors.Is(err, ErrNotDurable) {
		t.Errorf("CountVisits, replica paused: %v; want a *BatchError of the 2 new visits", err)
	}
	for i, r := range res {
		if i == 1 {
			if r.Err != nil || r.Visit.New {
				t.Errorf("CountVisits, replica paused, a known id: %+v; want not new, no error", r)
			}
			continue
		}
		notConfirmed(t, fmt.Sprintf("CountVisits[%d], replica paused", i), r.Err)
		if !r.Visit.New || r.Visit.Count != int64(8+i/2) {
			t.Errorf("CountVisits[%d], replica paused: %+v; want new, count %d", i, r.Visit, 8+i/2)
		}
	}
	changed, err := c2.CountVisitHLL(ctx, sid())
	notConfirmed(t, "CountVisitHLL, replica paused", err)
	if !changed {
		t.Errorf("CountVisitHLL, replica paused: not changed")
	}
	bv, err := bm2.CountVisit(ctx, next())
	notConfirmed(t, "Bitmap.CountVisit, replica paused", err)
	if !bv.New {
		t.Errorf("Bitmap.CountVisit, replica paused: %+v; want new", bv)
	}
	if n, err := c2.Count(ctx, day); err != nil || n != 9 {
		t.Errorf("Count = %d, %v; want 9: the unconfirmed visits were applied", n, err)
	}
}

// TestRealDurablePerServer: with the sets on two servers (each a master with a replica) and the
// counts on the second, a paused replica on the first makes only the visits whose sets live there
// ErrNotDurable; each server's writes are confirmed on its own connection.
func TestRealDurablePerServer(t *testing.T) {
	ctx := t.Context()
	a, b := redistest.RunReplicatedT(t, nil), redistest.RunReplicatedT(t, nil)
	reg := registry(t)
	for comp, addr := range map[string]string{"unique:0": a.Master.Addr(), "unique:1": b.Master.Addr(), "unique": b.Master.Addr()} {
		if err := reg.SetConfig(ctx, comp, map[string]any{"addr": addr}); err != nil {
			t.Fatal(err)
		}
	}
	c := newCounter(t, reg, &Options{Shards: 2, Now: fixedClock(day), DailyExpected: 500,
		Durable: Durability{Replicas: 1, Timeout: 100 * time.Millisecond}})
	if err := a.Replica.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Replica.Resume() })
	sids, distinct := visits(60)
	res, err := c.CountVisits(ctx, sids)
	if !errors.Is(err, ErrNotDurable) {
		t.Errorf("CountVisits: %v; want ErrNotDurable", err)
	}
	on := map[string]int{}
	for i, r := range res {
		switch {
		case !r.Visit.New:
			if r.Err != nil {
				t.Errorf("visit %d (a repeat): %v; want no error", i, r.Err)
			}
		case r.Visit.Shard == "unique:0":
			notConfirmed(t, fmt.Sprintf("visit %d on the paused replica's server", i), r.Err)
		default:
			if r.Err != nil {
				t.Errorf("visit %d on %s: %v; want confirmed", i, r.Visit.Shard, r.Err)
			}
		}
		if r.Visit.New {
			on[r.Visit.Shard]++
		}
	}
	if on["unique:0"] == 0 || on["unique:1"] == 0 {
		t.Fatalf("new visits per server %v; want some on each", on)
	}
	for _, sid := range []string{"10000000-0000-4000-8000-000000000000", "20000000-0000-4000-8000-000000000000", "30000000-0000-4000-8000-000000000000"} {
		v, err := c.CountVisit(ctx, sid)
		if v.Shard == "unique:0" {
			notConfirmed(t, "CountVisit on the paused replica's server", err)
		} else if err != nil {
			t.Errorf("CountVisit on %s: %v; want confirmed", v.Shard, err)
		}
		if !v.New {
			t.Errorf("CountVisit(%s) = %+v; want new", sid, v)
		}
	}
	if n, err := c.Count(ctx, day); err != nil || n != int64(distinct)+3 {
		t.Errorf("Count = %d, %v; want %d", n, err, distinct+3)
	}
}

// BitmapOptions.Durable follows the option rule; its errors name the field and are not ErrBadUserID.
func TestBitmapDurableOptionRule(t *testing.T) {
	_, client := mini(t)
	for _, tc := range []struct {
		d     Durability
		field string
	}{
		{Durability{Replicas: -2}, "Durable.Replicas"},
		{Durability{Replicas: 1, Timeout: -5}, "Durable.Timeout"},
		{Durability{Replicas: -1, Timeout: -1}, ""},
		{Durability{}, ""},
	} {
		b, err := NewBitmap(client, &BitmapOptions{Durable: tc.d})
		if tc.field == "" {
			if err != nil || b == nil {
				t.Errorf("%+v: %v; want valid", tc.d, err)
			} else if got := b.Options().Durable; tc.d.Timeout == 0 && got.Timeout != time.Second {
				t.Errorf("%+v: Timeout %v; want the default 1s", tc.d, got.Timeout)
			}
			continue
		}
		var oe *OptionError
		if b != nil || !errors.As(err, &oe) || oe.Type != "uniquevisits.BitmapOptions" || oe.Field != tc.field ||
			!errors.Is(err, ErrBadOption) || errors.Is(err, ErrBadUserID) {
			t.Errorf("%+v: %v, %v; want an *OptionError naming %s, not ErrBadUserID", tc.d, b, err, tc.field)
		}
	}
}

// The durable mode needs clients whose nodes it can reach: a pipeline or a Ring is ErrNoNode, from
// the constructors, before anything is sent.
func TestDurableNeedsNode(t *testing.T) {
	m, client := mini(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": m.Addr()}})
	t.Cleanup(func() { ring.Close() })
	d := Durability{Replicas: 1}
	for name, c := range map[string]redis.Cmdable{"pipeline": client.Pipeline(), "ring": ring} {
		if _, err := NewOnClient(c, &Options{Durable: d}); !errors.Is(err, ErrNoNode) {
			t.Errorf("NewOnClient(%s): %v; want ErrNoNode", name, err)
		}
		if _, err := NewBitmap(c, &BitmapOptions{Durable: d}); !errors.Is(err, ErrNoNode) {
			t.Errorf("NewBitmap(%s): %v; want ErrNoNode", name, err)
		}
		if _, err := NewOnClient(c, nil); err != nil {
			t.Errorf("NewOnClient(%s) without Durable: %v", name, err)
		}
	}

}
