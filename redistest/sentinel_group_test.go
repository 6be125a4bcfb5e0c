package redistest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

// Two failovers, one by each fault: each time the Sentinel promotes a replica, the old master comes
// back as its replica, and a write both replicas confirmed before the fault is on the new master.
func TestSentinelGroupFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a bound: the test waits for conditions
	defer cancel()
	g := redistest.RunSentinelGroupT(t, nil)
	if len(g.Servers) != 3 {
		t.Fatalf("%d servers; want a master and 2 replicas", len(g.Servers))
	}
	var epoch int64
	for i, fault := range []redistest.Fault{redistest.FaultKill, redistest.FaultPause} {
		m, err := g.Master(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := m.Client(t)
		key := "k" + fault.String()
		if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Do(ctx, "WAIT", 2, 5000).Int(); err != nil || n != 2 {
			t.Fatalf("WAIT 2 = %d, %v; want 2", n, err)
		}
		f, err := g.Failover(ctx, fault)
		if err != nil {
			t.Fatalf("%v: %v\n%s", fault, err, g.Sentinel.Log())
		}
		t.Logf("%+v", f)
		if f.Old != m.Addr() || f.New == f.Old || f.Fault != fault {
			t.Fatalf("failover %+v; want from %s to another server by %v\n%s", f, m.Addr(), fault, g.Sentinel.Log())
		}
		nm, err := g.Master(ctx)
		if err != nil || nm.Addr() != f.New {
			t.Fatalf("master after the failover = %v, %v; want %s", nm, err, f.New)
		}
		if got, err := nm.Client(t).Get(ctx, key).Result(); err != nil || got != "v" {
			t.Fatalf("new master: %s = %q, %v; want v", key, got, err)
		}
		role, err := m.Client(t).Do(ctx, "ROLE").Slice()
		if err != nil || len(role) < 3 || role[0] != "slave" || role[2] != int64(nm.Port()) {
			t.Fatalf("old master's ROLE = %v, %v; want a replica of port %d", role, err, nm.Port())
		}
		if f.Epoch != epoch+1+int64(f.Extra) {
			t.Fatalf("config epoch %d after the failover (%d extra); want %d", f.Epoch, f.Extra, epoch+1+int64(f.Extra))
		}
		epoch = f.Epoch
		if got := g.Failovers(); got != i+1 {
			t.Fatalf("Failovers() = %d; want %d", got, i+1)
		}
	}
}

func TestSentinelGroupFailoverErrors(t *testing.T) {
	g := redistest.RunSentinelGroupT(t, &redistest.SentinelGroupOptions{Replicas: 1})
	_, err := g.Failover(t.Context(), redistest.Fault(0))
	if !errors.Is(err, redistest.ErrInvalid) || !errors.Is(err, redistest.ErrFailover) {
		t.Fatalf("Failover(Fault(0)) = %v; want ErrInvalid and ErrFailover", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = g.Failover(ctx, redistest.FaultKill)
	var fe *redistest.FailoverError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &fe) {
		t.Fatalf("Failover(cancelled ctx) = %v; want a *FailoverError matching context.Canceled", err)
	}
	if g.Failovers() != 0 {
		t.Fatalf("Failovers() = %d after failed calls; want 0", g.Failovers())
	}
	for _, s := range g.Servers {
		if !s.Running() {
			t.Fatalf("%s is down after a failover that did not start", s.Addr())
		}
	}
	if _, err := redistest.RunSentinelGroup(t.Context(), &redistest.SentinelGroupOptions{Replicas: -1}); !errors.Is(err, redistest.ErrInvalid) {
		t.Fatalf("Replicas -1: %v; want ErrInvalid", err)
	}
}
