package durable_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/redistest"
)

// waits is how many WAITs the server ran since its stats were reset (INFO commandstats).
func waits(ctx context.Context, t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.InfoMap(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls, _, _ := strings.Cut(strings.TrimPrefix(info["Commandstats"]["cmdstat_wait"], "calls="), ",")
	n, _ := strconv.Atoi(calls)
	return n
}

// notConfirmed lists the *durable.Errors joined in err.
func notConfirmed(err error) []*durable.Error {
	if de, ok := err.(*durable.Error); ok {
		return []*durable.Error{de}
	}
	var out []*durable.Error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, notConfirmed(e)...)
		}
	}
	return out
}

// TestConns: writes on two masters, each with a replica, go on one connection per master however
// many there are; Confirm sends a WAIT on each of those connections, and with one master's replica
// paused names that master only: a WAIT on any other connection would have confirmed at once.
func TestConns(t *testing.T) {
	ctx := context.Background()
	a, b := redistest.RunReplicatedT(t, nil), redistest.RunReplicatedT(t, nil)
	ca, cb := a.Master.Client(t), b.Master.Client(t)
	for _, c := range []*redis.Client{ca, cb} {
		if err := c.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	o := durable.Options{Replicas: 1, Timeout: 5 * time.Second}

	var cs durable.Conns
	ids := map[string]map[int64]bool{}
	write := func(c *redis.Client, key string) {
		t.Helper()
		err := cs.OnNode(ctx, c, key, func(conn *redis.Conn) error {
			id, err := conn.ClientID(ctx).Result()
			if ids[c.Options().Addr] == nil {
				ids[c.Options().Addr] = map[int64]bool{}
			}
			ids[c.Options().Addr][id] = true
			if err != nil {
				return err
			}
			return conn.Set(ctx, key, "v", 0).Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	w := o.Begin()
	for _, k := range []string{"a1", "a2", "a3"} {
		write(ca, k)
	}
	write(cb, "b1")
	if err := cs.Confirm(ctx, w); err != nil {
		t.Fatalf("both replicas up: %v", err)
	}
	if len(ids[a.Master.Addr()]) != 1 || len(ids[b.Master.Addr()]) != 1 {
		t.Fatalf("connections used %v; want one per master", ids)
	}
	// One WAIT each, more only when a round fell short (the replica's timing).
	if wa, wb := waits(ctx, t, ca), waits(ctx, t, cb); wa < 1 || wb < 1 {
		t.Fatalf("WAITs: %d on a, %d on b; want at least one on each", wa, wb)
	}
	if got, err := b.Replica.Client(t).Get(ctx, "b1").Result(); err != nil || got != "v" {
		t.Fatalf("b's replica has b1 = %q, %v after Confirm; want v", got, err)
	}
	cs.Close()
	if st := ca.PoolStats(); st.IdleConns != st.TotalConns {
		t.Fatalf("a's pool after Close: %d idle of %d; want every connection back", st.IdleConns, st.TotalConns)
	}

	// b's replica paused: the write on b is not confirmed, and the error names b; a's is.
	if err := b.Replica.Pause(); err != nil {
		t.Fatal(err)
	}
	defer b.Replica.Resume()
	cs = durable.Conns{}
	defer cs.Close()
	o.Timeout = 200 * time.Millisecond
	w = o.Begin()
	write(ca, "a4")
	write(cb, "b2")
	err := cs.Confirm(ctx, w)
	des := notConfirmed(err)
	if !errors.Is(err, durable.ErrNotDurable) || len(des) != 1 || des[0].Node != b.Master.Addr() ||
		des[0].Replicas != 0 || des[0].Wanted != 1 || des[0].Err != nil {
		t.Fatalf("b's replica paused: %v (%+v); want one *Error, 0 of 1 on %s", err, des, b.Master.Addr())
	}
	if !strings.Contains(err.Error(), "0 of 1 replicas confirmed on "+b.Master.Addr()) {
		t.Fatalf("message %q does not name the node", err)
	}

	// ctx ends first: the error says so.
	cs.Close()
	cs = durable.Conns{}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	w = durable.Options{Replicas: 1, Timeout: -1}.Begin()
	write(cb, "b3")
	if err := cs.Confirm(cctx, w); !errors.Is(err, durable.ErrNotDurable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Timeout -1, ctx deadline: %v", err)
	}

	// Nothing written: nothing to confirm.
	var none durable.Conns
	if err := none.Confirm(ctx, w); err != nil {
		t.Fatalf("no connection: %v", err)
	}
}

func TestRoutable(t *testing.T) {
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer single.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	if c, err := durable.Routable(single); err != nil || c != single {
		t.Fatalf("Client: %v, %v", c, err)
	}
	for name, c := range map[string]redis.Cmdable{"ring": ring, "pipeline": single.Pipeline()} {
		if _, err := durable.Routable(c); !errors.Is(err, durable.ErrNoNode) {
			t.Errorf("%s: %v; want ErrNoNode", name, err)
		}
	}
}
