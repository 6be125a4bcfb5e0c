package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

// Two failovers, one by each fault: each time the Sentinel promotes a replica, the old master comes
// back as a replica, and a write both replicas confirmed before the fault is on the master once
// settled. The Sentinel may fail over again by itself (Failed.Extra says so): the master once settled
// may then be any server, Old included, but the group must be settled around it all the same.
func TestSentinelGroupFailover(t *testing.T) {
	// A bound: the test waits for conditions. A failover the Sentinel adds by itself makes Failover
	// last some 25 s: it demotes the master it took for down after 8 s of role:master, at an INFO.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
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
		if f.Extra > 0 {
			t.Logf("the Sentinel failed over %d more time(s) by itself:\n%s", f.Extra, g.Sentinel.Log())
		}
		if f.Fault != fault || f.Old != m.Addr() || f.Successor == "" || f.Successor == f.Old {
			t.Fatalf("failover %+v; want from %s to another server by %v\n%s", f, m.Addr(), fault, g.Sentinel.Log())
		}
		if f.Extra == 0 && f.New != f.Successor {
			t.Fatalf("failover %+v: settled on %s, not on the successor, with no extra failover\n%s", f, f.New, g.Sentinel.Log())
		}
		if f.Epoch != epoch+1+int64(f.Extra) {
			t.Fatalf("config epoch %d after the failover (%d extra); want %d", f.Epoch, f.Extra, epoch+1+int64(f.Extra))
		}
		epoch = f.Epoch
		nm, err := g.Master(ctx)
		if err != nil || nm.Addr() != f.New {
			t.Fatalf("master after the failover = %v, %v; want %s", nm, err, f.New)
		}
		checkSettled(ctx, t, g, nm)
		if got, err := nm.Client(t).Get(ctx, key).Result(); err != nil || got != "v" {
			t.Fatalf("new master: %s = %q, %v; want v", key, got, err)
		}
		if got := g.Failovers(); got != i+1 {
			t.Fatalf("Failovers() = %d; want %d", got, i+1)
		}
	}
}

// checkSettled checks by ROLE that master is a master with every other server of g as a connected
// replica, and that each of them is connected to it.
func checkSettled(ctx context.Context, t *testing.T, g *redistest.SentinelGroup, master *redistest.Server) {
	t.Helper()
	role, err := master.Client(t).Do(ctx, "ROLE").Slice()
	if err != nil || len(role) != 3 || role[0] != "master" {
		t.Fatalf("master %s: ROLE = %v, %v; want master", master.Addr(), role, err)
	}
	linked := map[string]bool{}
	replicas, _ := role[2].([]any)
	for _, r := range replicas {
		if r, ok := r.([]any); ok && len(r) == 3 {
			linked[fmt.Sprint(r[1])] = true
		}
	}
	for _, s := range g.Replicas(master) {
		if !linked[strconv.Itoa(s.Port())] {
			t.Errorf("master %s: ROLE lists replicas %v; want %s among them", master.Addr(), replicas, s.Addr())
		}
		role, err := s.Client(t).Do(ctx, "ROLE").Slice()
		if err != nil || len(role) != 5 || role[0] != "slave" || role[2] != int64(master.Port()) || role[3] != "connected" {
			t.Errorf("%s: ROLE = %v, %v; want a replica of port %d, connected", s.Addr(), role, err, master.Port())
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
