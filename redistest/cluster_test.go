package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

func TestCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound: the test waits for a condition
	defer cancel()
	c := redistest.RunClusterT(t, nil)
	if got, want := len(c.Nodes), 6; got != want {
		t.Fatalf("len(Nodes) = %d; want %d", got, want)
	}
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	replicas, err := c.Replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(masters) != 3 || len(replicas) != 3 {
		t.Fatalf("%d masters and %d replicas; want 3 and 3", len(masters), len(replicas))
	}

	cl := c.Client(t)
	const keys = 200 // spread over every master's slots
	for i := 0; i < keys; i++ {
		if err := cl.Set(ctx, fmt.Sprint("key:", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	victim, err := c.NodeForKey(ctx, "key:0")
	if err != nil {
		t.Fatal(err)
	}
	// Make sure the victim's replica has every write before the victim dies.
	if err := victim.Client(t).Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
		t.Fatal(err)
	}

	// Pause a replica: it answers nothing, and the cluster keeps serving.
	paused := replicas[0].Client(t)
	if err := paused.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := replicas[0].Pause(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = paused.Ping(short).Err()
	cancel()
	if !timedOut(err) {
		t.Fatalf("PING of the paused replica: %v; want a timeout", err)
	}
	if got, err := cl.Get(ctx, "key:1").Int(); err != nil || got != 1 {
		t.Fatalf("GET key:1 with a replica paused = %d, %v", got, err)
	}
	if err := replicas[0].Resume(); err != nil {
		t.Fatal(err)
	}
	if err := paused.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING of the resumed replica: %v", err)
	}

	// Kill a master: its replica takes over after the node timeout and no acknowledged key is lost.
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	promoted, err := c.NodeForKey(ctx, "key:0")
	if err != nil {
		t.Fatal(err)
	}
	if promoted == victim {
		t.Fatal("the killed master still serves key:0")
	}
	cl.ReloadState(ctx) // go-redis refreshes its slot map lazily; do it now rather than after a failed call
	for i := 0; i < keys; i++ {
		if got, err := cl.Get(ctx, fmt.Sprint("key:", i)).Int(); err != nil || got != i {
			t.Fatalf("after failover GET key:%d = %d, %v", i, got, err)
		}
	}

	// Restarted on its port and data dir, the old master rejoins (as a replica of the new one).
	if err := victim.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	replicas, err = c.Replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rejoined := false
	for _, r := range replicas {
		rejoined = rejoined || r == victim
	}
	if !rejoined {
		t.Fatal("the restarted master did not rejoin as a replica")
	}

	// A context that ends is reported as such, not as a slot nobody serves.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.NodeForKey(done, "key:0"); !errors.Is(err, context.Canceled) {
		t.Fatalf("NodeForKey with a cancelled context: %v; want context.Canceled", err)
	}
}
