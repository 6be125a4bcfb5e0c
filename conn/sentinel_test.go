package conn_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// A component whose config names a Sentinel-managed master follows the master through a failover
// without a config change.
func TestSentinelComponentFollowsFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := redistest.RunReplicatedT(t, nil)
	s := redistest.RunSentinelT(t, r.Master, nil)
	reg, err := conn.New(redistest.RunT(t, nil).Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.SetConfig(ctx, "app", fmt.Sprintf(`{"sentinel": {"master": "mymaster", "addrs": [%q]}, "socket_timeout": 2}`, s.Addr())); err != nil {
		t.Fatal(err)
	}
	c, err := reg.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Master.Kill(); err != nil {
		t.Fatal(err)
	}
	// Writes fail while the master is down, then land on the promoted replica.
	var last error
	for {
		call, cancelCall := context.WithTimeout(ctx, time.Second)
		last = c.Set(call, "k", "after", 0).Err()
		cancelCall()
		if last == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no write succeeded after the failover: %v", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if same, _ := reg.Client(ctx, "app"); same != c {
		t.Fatal("the failover changed the registry's client; the sentinel client should follow it")
	}
	got, err := r.Replica.Client(t).Get(ctx, "k").Result()
	if err != nil || got != "after" {
		t.Fatalf("promoted replica: k = %q, %v; want after", got, err)
	}
	if role, _ := r.Replica.Client(t).Do(ctx, "ROLE").Slice(); len(role) == 0 || role[0] != "master" {
		t.Fatalf("the replica was not promoted: ROLE = %v", role)
	}
}
