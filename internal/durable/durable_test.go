package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
	"github.com/ria-go/ria/redistest"
)

var of = option.Of{Type: "x.Options"}

// write sets key and waits for replicas on the same connection, as the packages do.
func write(ctx context.Context, t *testing.T, c *redis.Client, o durable.Options, key string) error {
	t.Helper()
	w := o.Begin()
	var first *redis.Cmd
	conn := c.Conn()
	defer conn.Close()
	if _, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, "v", 0)
		first = w.Queue(ctx, p)
		return nil
	}); err != nil && !errors.Is(err, first.Err()) {
		t.Fatalf("write: %v", err)
	}
	return w.Confirm(ctx, conn, first)
}

func TestConfirmOnReplicas(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
		t.Fatal(err)
	}
	c := r.Master.Client(t)

	if err := write(ctx, t, c, durable.Options{Replicas: 1, Timeout: 2 * time.Second}, "k1"); err != nil {
		t.Fatalf("one replica, Replicas 1: %v", err)
	}
	if got, err := r.Replica.Client(t).Get(ctx, "k1").Result(); err != nil || got != "v" {
		t.Fatalf("replica has %q, %v after a confirmed write", got, err)
	}

	// Two wanted, one there: WAIT's own timeout, then a typed outcome naming the counts.
	err := write(ctx, t, c, durable.Options{Replicas: 2, Timeout: 50 * time.Millisecond}, "k2")
	var de *durable.Error
	if !errors.As(err, &de) || !errors.Is(err, durable.ErrNotDurable) || de.Replicas != 1 || de.Wanted != 2 || de.Err != nil {
		t.Fatalf("Replicas 2 of 1: %v (%#v)", err, de)
	}
	if !strings.Contains(err.Error(), "1 of 2 replicas") {
		t.Fatalf("message %q does not give the counts", err)
	}

	// A replica that stopped applying: the write is on the master only.
	if err := r.Replica.Pause(); err != nil {
		t.Fatal(err)
	}
	err = write(ctx, t, c, durable.Options{Replicas: 1, Timeout: 100 * time.Millisecond}, "k3")
	if !errors.As(err, &de) || de.Replicas != 0 || de.Err != nil { // Timeout ended it, not a ctx
		t.Fatalf("paused replica: %v", err)
	}
	if err := r.Replica.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := write(ctx, t, c, durable.Options{Replicas: 1, Timeout: 2 * time.Second}, "k3"); err != nil {
		t.Fatalf("resumed replica: %v", err)
	}
	if err := r.Replica.Pause(); err != nil { // ctx's deadline, not WAIT's, ends the wait below
		t.Fatal(err)
	}
	defer r.Replica.Resume()

	// ctx ends first: the error says so.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = write(cctx, t, c, durable.Options{Replicas: 1, Timeout: -1}, "k4")
	if !errors.Is(err, durable.ErrNotDurable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Timeout -1, ctx deadline: %v", err)
	}
}

// TestOtherConnectionWouldLie shows why the WAIT goes on the write's connection: on a fresh
// connection WAIT confirms at once, although the paused replica lacks the write.
func TestOtherConnectionWouldLie(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
		t.Fatal(err)
	}
	c := r.Master.Client(t)
	other := r.Master.Client(t).Conn() // a connection last used before the write
	defer other.Close()
	// Its last command's offset is one the replica has acknowledged (WAIT asks the replica for it
	// if need be): a WAIT confirms it, then, without asking.
	if n, err := other.Do(ctx, "wait", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT before the write: %d, %v", n, err)
	}
	if err := r.Replica.Pause(); err != nil {
		t.Fatal(err)
	}
	defer r.Replica.Resume()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := other.Do(ctx, "wait", 1, 100).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT on a connection last used before the write: %d, %v (want 1: the hazard)", n, err)
	}
	err := write(ctx, t, c, durable.Options{Replicas: 1, Timeout: 100 * time.Millisecond}, "k")
	if !errors.Is(err, durable.ErrNotDurable) {
		t.Fatalf("same connection: %v, want ErrNotDurable", err)
	}
}

// TestConnectionLost: the master goes away during the wait; the outcome is not confirmed, and WAIT
// is not resent on a new connection (which would confirm at once).
func TestConnectionLost(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
		t.Fatal(err)
	}
	if err := r.Replica.Pause(); err != nil {
		t.Fatal(err)
	}
	defer r.Replica.Resume()
	c := r.Master.Client(t)
	time.AfterFunc(200*time.Millisecond, func() { _ = r.Master.Kill() })
	err := write(ctx, t, c, durable.Options{Replicas: 1, Timeout: 5 * time.Second}, "k")
	var de *durable.Error
	if !errors.As(err, &de) || de.Err == nil || !noretry.Transport(de.Err) {
		t.Fatalf("master killed during the wait: %v", err)
	}
}

func TestFill(t *testing.T) {
	for _, tc := range []struct {
		in      durable.Options
		want    durable.Options
		bad     string
		enabled bool
	}{
		{in: durable.Options{}, want: durable.Options{Timeout: time.Second}},
		{in: durable.Options{Replicas: -1, Timeout: -1}, want: durable.Options{Replicas: -1, Timeout: -1}},
		{in: durable.Options{Replicas: 2}, want: durable.Options{Replicas: 2, Timeout: time.Second}, enabled: true},
		{in: durable.Options{Replicas: -2}, bad: "Durable.Replicas"},
		{in: durable.Options{Replicas: 1, Timeout: -5}, bad: "Durable.Timeout"},
	} {
		o := tc.in
		err := o.Fill(of, "Durable.")
		if tc.bad != "" {
			var oe *option.Error
			if !errors.As(err, &oe) || oe.Field != tc.bad || !errors.Is(err, option.ErrBadOption) {
				t.Errorf("%+v: %v, want an *option.Error on %s", tc.in, err, tc.bad)
			}
			continue
		}
		if err != nil || o != tc.want || o.On() != tc.enabled {
			t.Errorf("%+v: %+v, %v (On %v)", tc.in, o, err, o.On())
		}
	}
}

func TestNode(t *testing.T) {
	ctx := context.Background()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	if _, err := durable.Node(ctx, ring, "k"); !errors.Is(err, durable.ErrNoNode) {
		t.Fatalf("Ring: %v", err)
	}
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer single.Close()
	if n, err := durable.Node(ctx, single, "k"); err != nil || n != single {
		t.Fatalf("Client: %v, %v", n, err)
	}

	cl := redistest.RunClusterT(t, nil)
	cc := cl.Client(t)
	for _, key := range []string{"a", "b", "{market}x", "zz"} {
		n, err := durable.Node(ctx, cc, key)
		if err != nil {
			t.Fatal(err)
		}
		owner, err := cl.NodeForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if n.Options().Addr != owner.Addr() {
			t.Fatalf("%q: node %s, slot owner %s", key, n.Options().Addr, owner.Addr())
		}
	}

	// A write sent to a node that does not own the slot is MOVED: OnNode gives up after its
	// bounded attempts and returns the reply; with the right node, it succeeds first time.
	_, wrong, err := cl.MoveEnds(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	wc := wrong.Client(t)
	calls := 0
	err = durable.OnNode(ctx, cc, "k", func(*redis.Client) error {
		calls++
		return wc.Set(ctx, "k", "v", 0).Err()
	})
	if !noretry.IsRedirect(err) || calls != 8 {
		t.Fatalf("always MOVED: %v after %d calls, want a MOVED reply after 8", err, calls)
	}
	calls = 0
	err = durable.OnNode(ctx, cc, "k", func(n *redis.Client) error {
		calls++
		if calls == 1 {
			return wc.Set(ctx, "k", "v", 0).Err()
		}
		return n.Set(ctx, "k", "v", 0).Err()
	})
	if err != nil || calls != 2 {
		t.Fatalf("MOVED once: %v after %d calls", err, calls)
	}
	if noretry.IsRedirect(errors.New("MOVED 1 x:1")) {
		t.Fatal("a non-reply error read as MOVED")
	}
}
