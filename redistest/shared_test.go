package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// acked is the offset master's ROLE has for each of its replicas, by port.
func acked(ctx context.Context, t *testing.T, master *redistest.Server) map[int]int64 {
	t.Helper()
	role, err := master.Client(t).Do(ctx, "role").Slice()
	if err != nil || len(role) < 3 || role[0] != "master" {
		t.Fatalf("ROLE of %s: %v, %v", master.Addr(), role, err)
	}
	out := map[int]int64{}
	for _, r := range role[2].([]any) {
		f := r.([]any)
		port, _ := strconv.Atoi(fmt.Sprint(f[1]))
		out[port], _ = strconv.ParseInt(fmt.Sprint(f[2]), 10, 64)
	}
	return out
}

// TestWaitLinkUpAcked: a fresh master's replica syncs at offset 0, so a master that has it at a later
// offset once RunReplicated (WaitLinkUp) returns has streamed to it and been acknowledged: a WAIT
// counts it from the first write on. A link merely up would leave it at 0 for up to a second.
func TestWaitLinkUpAcked(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound, not a measure
	defer cancel()
	r := redistest.RunReplicatedT(t, nil)
	if got := acked(ctx, t, r.Master)[r.Replica.Port()]; got <= 0 {
		t.Fatalf("the master has its replica at offset %d; want past the sync's 0", got)
	}
	if fs, err := r.Master.Client(t).FunctionList(ctx, redis.FunctionListQuery{}).Result(); err != nil || len(fs) != 0 {
		t.Fatalf("FUNCTION LIST = %v, %v; want the probe's library gone", fs, err)
	}
	// Again after the replica restarts: a resync, at the master's offset by now.
	if err := r.Replica.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	before := acked(ctx, t, r.Master)[r.Replica.Port()]
	if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
		t.Fatal(err)
	}
	if got := acked(ctx, t, r.Master)[r.Replica.Port()]; got <= before {
		t.Fatalf("after a resync the master has its replica at offset %d; want past %d", got, before)
	}
}

// TestWaitLinkUpCtx: a master that does not answer holds WaitLinkUp until ctx ends, and the error
// says so.
func TestWaitLinkUpCtx(t *testing.T) {
	r := redistest.RunReplicatedT(t, nil)
	if err := r.Master.Pause(); err != nil {
		t.Fatal(err)
	}
	defer r.Master.Resume()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := redistest.WaitLinkUp(ctx, r.Replica); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("master paused: %v; want context.DeadlineExceeded", err)
	}
}

// TestSharedCluster: one cluster for every caller, empty for each; its replicas acknowledge from the
// start; ReplicaOf finds the replica whose pause stops its master's WAITs, and only those.
func TestSharedCluster(t *testing.T) {
	var shared redistest.SharedCluster
	t.Cleanup(func() { shared.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rc := shared.Cluster(t)
	cc := rc.Client(t)
	if err := cc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if again := shared.Cluster(t); again != rc {
		t.Fatal("a second cluster was started")
	}
	if n, err := cc.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS k = %d, %v after Cluster; want 0 (flushed)", n, err)
	}

	masters, err := rc.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	replicaOf := map[*redistest.Server]*redistest.Server{}
	for _, m := range masters {
		r, err := rc.ReplicaOf(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		a := acked(ctx, t, m)
		if got, ok := a[r.Port()]; !ok || got <= 0 {
			t.Fatalf("ReplicaOf(%s) = %s; the master's ROLE has %v: want it there, past offset 0", m.Addr(), r.Addr(), a)
		}
		replicaOf[m] = r
	}
	if _, err := rc.ReplicaOf(ctx, replicaOf[masters[0]]); !errors.Is(err, redistest.ErrInvalid) {
		t.Fatalf("ReplicaOf(a replica): %v; want ErrInvalid", err)
	}
	if _, err := rc.ReplicaOf(ctx, redistest.RunT(t, nil)); !errors.Is(err, redistest.ErrInvalid) {
		t.Fatalf("ReplicaOf(another server): %v; want ErrInvalid", err)
	}

	paused := replicaOf[masters[0]]
	if err := paused.Pause(); err != nil {
		t.Fatal(err)
	}
	defer paused.Resume()
	for _, m := range masters {
		conn := m.Client(t).Conn()
		// A key of m's slots: INCR on a slot m does not serve is MOVED, and the WAIT then waits
		// for nothing.
		slots, err := conn.ClusterShards(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		key := keyOn(t, ctx, conn, m, slots)
		if err := conn.Incr(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		timeout := map[bool]int{true: 200, false: 10000}[m == masters[0]] // the healthy: a bound only
		n, err := conn.Do(ctx, "wait", 1, timeout).Int()
		conn.Close()
		want := map[bool]int{true: 0, false: 1}[m == masters[0]]
		if err != nil || n != want {
			t.Errorf("WAIT on %s with %s paused: %d, %v; want %d", m.Addr(), paused.Addr(), n, err, want)
		}
	}
}

// keyOn finds a key whose slot m serves.
func keyOn(t *testing.T, ctx context.Context, c *redis.Conn, m *redistest.Server, shards []redis.ClusterShard) string {
	t.Helper()
	for _, sh := range shards {
		for _, n := range sh.Nodes {
			if n.Port != int64(m.Port()) || n.Role != "master" {
				continue
			}
			for i := 0; i < 10000; i++ {
				key := fmt.Sprint("k", i)
				slot, err := c.ClusterKeySlot(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range sh.Slots {
					if s.Start <= slot && slot <= s.End {
						return key
					}
				}
			}
		}
	}
	t.Fatalf("no key found on %s", m.Addr())
	return ""
}
