package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/option"
	"github.com/ria-go/ria/redistest"
)

// TestReshard moves a slot with keys in it while a client uses them, then kills the master that
// now serves it, on one 3+3 cluster.
func TestReshard(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound: the test waits for conditions
	defer cancel()
	c := redistest.RunClusterT(t, &redistest.ClusterOptions{NodeTimeout: time.Second})
	var r, rs redistest.Redirects
	live := c.ClientWith(t, r.Count)
	stale := c.ClientWith(t, rs.Count) // its slot map is read before the move and never refreshed by an ASK

	const n = 60
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("{a}:%d", i)
		if err := live.Set(ctx, keys[i], i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := stale.Get(ctx, keys[0]).Err(); err != nil {
		t.Fatal(err)
	}
	slot := int(live.ClusterKeySlot(ctx, keys[0]).Val())
	from, to, err := c.MoveEnds(ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	replicas, err := c.Replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			err  error
		}{
			{"slot -1", c.MoveSlot(ctx, -1, to, nil)},
			{"slot 16384", c.MoveSlot(ctx, 16384, to, nil)},
			{"to a replica", c.MoveSlot(ctx, slot, replicas[0], nil)},
			{"to nil", c.MoveSlot(ctx, slot, nil, nil)},
			{"batch -2", c.MoveSlot(ctx, slot, to, &redistest.MoveOptions{Batch: -2})},
			{"pause -1", c.MoveSlot(ctx, slot, to, &redistest.MoveOptions{Pause: -1})},
			{"kill a replica", killErr(c.KillMaster(ctx, replicas[0]))},
		} {
			if !errors.Is(tc.err, redistest.ErrInvalid) {
				t.Errorf("%s: %v; want ErrInvalid", tc.name, tc.err)
			}
		}
		var oe *option.Error
		if err := c.MoveSlot(ctx, slot, to, &redistest.MoveOptions{Timeout: -3}); !errors.As(err, &oe) || oe.Field != "Timeout" {
			t.Errorf("Timeout -3: %v; want an *option.Error naming Timeout", err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := c.MoveSlot(done, slot, to, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("MoveSlot with a cancelled context: %v; want context.Canceled", err)
		}
		if got, err := c.NodeForKey(ctx, keys[0]); err != nil || got != from {
			t.Fatalf("after refused moves the slot is served by %v (%v); want %s", got, err, from.Addr())
		}
		if err := c.MoveSlot(ctx, slot, from, nil); err != nil { // already there: nothing to do
			t.Errorf("MoveSlot to the node that serves the slot: %v", err)
		}
	})

	if !t.Run("move", func(t *testing.T) {
		var moved []string
		batches := 0
		err := c.MoveSlot(ctx, slot, to, &redistest.MoveOptions{Batch: 7,
			Batched: func(ctx context.Context, batch []string) error {
				moved = append(moved, batch...)
				batches++
				if batches > 1 {
					return nil
				}
				// Half moved: a key already on the target is found through ASK.
				asks := r.Asking()
				if got, err := live.Get(ctx, batch[0]).Result(); err != nil || got != batch[0][len("{a}:"):] {
					return fmt.Errorf("GET %s half moved = %q, %v", batch[0], got, err)
				}
				if r.Asking() != asks+1 || r.Ask() == 0 {
					return fmt.Errorf("GET of a moved key: %v; want one ASK followed", &r)
				}
				// A new key goes to the target (the source sends ASK for a key it lacks).
				if err := live.Set(ctx, "{a}:new", "new", 0).Err(); err != nil {
					return err
				}
				// A command on moved and unmoved keys together cannot run anywhere yet.
				var left string
				for _, k := range keys {
					if !slices.Contains(moved, k) {
						left = k
						break
					}
				}
				if err := live.MGet(ctx, batch[0], left).Err(); !redis.IsTryAgainError(err) {
					return fmt.Errorf("MGET of a moved and an unmoved key: %v; want TRYAGAIN", err)
				}
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := batches, (n+1+6)/7; got != want {
			t.Errorf("%d batches of 7 for %d keys; want %d", got, n+1, want)
		}
		if r.TryAgain() == 0 {
			t.Errorf("no TRYAGAIN counted: %v", &r)
		}
		// Every key is on the target and none is left on the source.
		tc, fc := to.Client(t), from.Client(t)
		if got, err := tc.ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || got != n+1 {
			t.Errorf("target holds %d keys of slot %d (%v); want %d", got, slot, err, n+1)
		}
		if got, err := fc.DBSize(ctx).Result(); err != nil || got != 0 {
			t.Errorf("source holds %d keys (%v); want 0", got, err)
		}
		for i, k := range keys {
			if got, err := tc.Get(ctx, k).Int(); err != nil || got != i {
				t.Errorf("GET %s on the target = %d, %v; want %d", k, got, err, i)
			}
		}
		if got, err := c.NodeForKey(ctx, keys[0]); err != nil || got != to {
			t.Errorf("slot %d served by %v (%v); want %s", slot, got, err, to.Addr())
		}
		// A client that still has the old map is told MOVED, and follows it.
		if got, err := stale.Get(ctx, keys[1]).Int(); err != nil || got != 1 {
			t.Errorf("GET %s through the stale client = %d, %v", keys[1], got, err)
		}
		if rs.Moved() != 1 {
			t.Errorf("stale client: %v; want one MOVED", &rs)
		}
		t.Logf("live client: %v; stale client: %v", &r, &rs)
	}) {
		return // a half-moved slot would make the kill's failure say nothing
	}

	t.Run("kill master", func(t *testing.T) {
		victim, err := c.NodeForKey(ctx, keys[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := victim.Client(t).Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
			t.Fatal(err)
		}
		before, err := c.Replicas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		promoted, err := c.KillMaster(ctx, victim)
		if err != nil {
			t.Fatal(err)
		}
		if promoted == victim || !slices.Contains(before, promoted) {
			t.Fatalf("promoted %s: want one of the replicas %v", promoted.Addr(), redistest.Group(before).Addrs())
		}
		if got, err := c.NodeForKey(ctx, keys[0]); err != nil || got != promoted {
			t.Errorf("slot %d served by %v (%v); want the promoted %s", slot, got, err, promoted.Addr())
		}
		after, err := c.Replicas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !victim.Running() || !slices.Contains(after, victim) {
			t.Errorf("the killed master did not rejoin as a replica (replicas %v)", redistest.Group(after).Addrs())
		}
		live.ReloadState(ctx)
		for i, k := range keys {
			if got, err := live.Get(ctx, k).Int(); err != nil || got != i {
				t.Errorf("after failover GET %s = %d, %v; want %d", k, got, err, i)
			}
		}
	})
}

// TestWaitIdle: WaitIdle waits while a client is connected, and returns once it has gone.
func TestWaitIdle(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := redistest.RunClusterT(t, &redistest.ClusterOptions{Masters: 1})
	cl := c.NewClient()
	if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.WaitIdle(short)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitIdle with a client connected: %v; want context.DeadlineExceeded", err)
	}
	cl.Close()
	if err := c.WaitIdle(ctx); err != nil {
		t.Errorf("WaitIdle after the client closed: %v", err)
	}
}

func killErr(_ *redistest.Server, err error) error { return err }

// TestMoveSlotPassword moves keys between the masters of a cluster with a password: MIGRATE
// carries AUTH.
func TestMoveSlotPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := redistest.RunClusterT(t, &redistest.ClusterOptions{Masters: 2, ReplicasPerMaster: -1,
		Server: redistest.Options{Password: `p "w" \x`}})
	cl := c.Client(t)
	for i := range 5 {
		if err := cl.Set(ctx, fmt.Sprint("{p}", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	from, err := c.NodeForKey(ctx, "{p}")
	if err != nil {
		t.Fatal(err)
	}
	to := c.Nodes[0]
	if to == from {
		to = c.Nodes[1]
	}
	slot := int(cl.ClusterKeySlot(ctx, "{p}").Val())
	if err := c.MoveSlot(ctx, slot, to, &redistest.MoveOptions{Batch: 2}); err != nil {
		t.Fatal(err)
	}
	if got, err := to.Client(t).ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || got != 5 {
		t.Errorf("target holds %d keys (%v); want 5", got, err)
	}
}
