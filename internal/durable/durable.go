// Package durable acknowledges a write only once enough replicas have it: Redis's WAIT, sent on the
// write's own connection. market, logs, tokens and uniquevisits share it, so "confirmed" means the
// same thing in each.
//
// WAIT counts the replicas that have the replication offset of its own connection's last command. On
// a pooled client a WAIT on another connection (or on the new master after a failover) would count
// replicas that lack the caller's write, and say "confirmed" for a write that is lost. So the write
// and its WAIT share one connection, and when that connection breaks the outcome is "not confirmed",
// never a success. A *redis.ClusterClient would route a keyless WAIT to any master: Node picks the
// master of the write's slot instead, and OnNode follows the slot when it has moved. A call that
// writes on several nodes keeps one connection per node in Conns, and confirms them all in parallel.
//
// What WAIT does not promise: a confirmed write is in the replicas' memory, not on their disk (Redis 7.2's
// WAITAOF is not in 7.0); Sentinel or Cluster may still promote a replica that did not confirm it (with
// Replicas below the number of replicas, when the confirming ones are unreachable to Sentinel, or by a
// manual failover); a replica restarted without persistence forgets it; and other clients may read the
// write before it is confirmed, and it may then be lost. A write that is not confirmed was applied on
// the master and may survive or not: the caller cannot tell which.
package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
)

// Options say when a write counts as acknowledged.
type Options struct {
	// Replicas is how many replicas must have a write before it is acknowledged (WAIT numreplicas).
	// default 0, or -1: off, the book's behaviour (acknowledged once the master applied it)
	Replicas int

	// Timeout bounds the wait for the replicas; then the outcome is ErrNotDurable. A WAIT's own
	// timeout is whole milliseconds, and it ends 150 ms before ctx's deadline so that its reply can
	// arrive: under a millisecond, or with less than that left on ctx, no WAIT is sent and the
	// outcome is ErrNotDurable at once (wrapping context.DeadlineExceeded when ctx's deadline is
	// what left too little time), never a plain success.
	// default: 1 second; -1: until ctx ends
	Timeout time.Duration
}

// Fill checks o by the option rule and fills the defaults; errors name the field "<prefix>Replicas".
func (o *Options) Fill(of option.Of, prefix string) error {
	return option.Join(
		option.Fill(of, prefix+"Replicas", &o.Replicas, 0, true),
		option.Fill(of, prefix+"Timeout", &o.Timeout, time.Second, true),
	)
}

// On reports whether writes wait for replicas.
func (o Options) On() bool { return o.Replicas > 0 }

// ErrNotDurable: the write was applied on the master, but too few replicas confirmed it before the
// deadline (or the connection broke first). It may survive a failover or not.
var ErrNotDurable = errors.New("write not confirmed durable")

// ErrNoNode: the client gives no connection on which a write and its WAIT can go together (a
// *redis.Ring, or a wrapper that is not a *redis.Client or *redis.ClusterClient).
var ErrNoNode = errors.New("durable writes need a *redis.Client (single server, Sentinel) or *redis.ClusterClient")

// Error is a write not confirmed durable: how many replicas confirmed it, of how many wanted, on which
// node, and why the wait stopped when it was not WAIT's own timeout. It matches ErrNotDurable, and Err.
type Error struct {
	Replicas int    // replicas that confirmed the write; -1 when WAIT's reply was not read
	Wanted   int    // Options.Replicas
	Node     string // the address of the master written on (ConfirmOn, Conns); else ""
	Err      error  // the transport or ctx error that stopped the wait, or nil
}

func (e *Error) Error() string {
	got := fmt.Sprint(e.Replicas)
	if e.Replicas < 0 {
		got = "unknown"
	}
	s := fmt.Sprintf("%v: %s of %d replicas confirmed", ErrNotDurable, got, e.Wanted)
	if e.Node != "" {
		s += " on " + e.Node
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotDurable}
	}
	return []error{ErrNotDurable, e.Err}
}

const (
	maxRound    = 500 * time.Millisecond // one WAIT, well under go-redis's default 3 s ReadTimeout
	roundMargin = 150 * time.Millisecond // Redis times WAIT out from its event loop, up to 1/hz late
)

// Doer is where a WAIT goes: a pipeline, a Tx, a *redis.Conn or a *redis.Client.
type Doer = noretry.Processor

// Waiter waits for one write's replicas. Begin it before the write, so Timeout counts from there.
type Waiter struct {
	o   Options
	end time.Time // zero: until ctx ends
}

// Begin starts the wait's clock.
func (o Options) Begin() *Waiter {
	w := &Waiter{o: o}
	if o.Timeout > 0 {
		w.end = time.Now().Add(o.Timeout)
	}
	return w
}

// round is the next WAIT's timeout, 0 when no time is left; byCtx says that ctx's deadline, not
// Timeout, is what bounds it.
func (w *Waiter) round(ctx context.Context) (r time.Duration, byCtx bool) {
	r = maxRound
	if !w.end.IsZero() {
		r = min(r, time.Until(w.end))
	}
	if dl, ok := ctx.Deadline(); ok {
		if c := time.Until(dl) - roundMargin; c < r { // so WAIT's reply is read, not timed out
			r, byCtx = c, true
		}
	}
	if r < time.Millisecond { // WAIT 0 blocks forever
		return 0, byCtx
	}
	return r, byCtx
}

// Queue appends the first WAIT to p, a pipeline (or transaction's connection) that carries the write,
// after it. nil when no time is left: Confirm then reports that.
func (w *Waiter) Queue(ctx context.Context, p Doer) *redis.Cmd {
	r, _ := w.round(ctx)
	if r == 0 {
		return nil
	}
	return wait(ctx, p, w.o.Replicas, r)
}

func wait(ctx context.Context, c Doer, n int, round time.Duration) *redis.Cmd {
	// Never resent: go-redis would resend it on a new connection, whose WAIT counts replicas that
	// lack the write.
	return noretry.Do(ctx, c, "wait", n, round.Milliseconds())
}

// Confirm reads the first round (Queue's command, or nil) and waits again on conn, the write's own
// connection, until Replicas confirm, Timeout passes or ctx ends. It returns nil or an *Error. A
// WAIT on the same connection covers the write again: its offset is at least the write's.
func (w *Waiter) Confirm(ctx context.Context, conn Doer, first *redis.Cmd) error {
	got := -1
	cmd := first
	for {
		if cmd != nil {
			n, err := cmd.Int()
			if err != nil {
				return &Error{Replicas: got, Wanted: w.o.Replicas, Err: noretry.CtxErr(ctx, err)}
			}
			got = int(n)
			if got >= w.o.Replicas {
				return nil
			}
		}
		r, byCtx := w.round(ctx)
		if err := ctx.Err(); err != nil { // cancelled between rounds
			return &Error{Replicas: got, Wanted: w.o.Replicas, Err: err}
		}
		if r == 0 {
			var err error
			if byCtx { // ctx's deadline, not Timeout, stopped it (it passes within roundMargin)
				err = context.DeadlineExceeded
			}
			return &Error{Replicas: got, Wanted: w.o.Replicas, Err: err}
		}
		cmd = wait(ctx, conn, w.o.Replicas, r)
	}
}

// Node returns the client to send a durable write to key on: c itself for a single server or a
// Sentinel-managed master (both *redis.Client), the master of key's slot for a *redis.ClusterClient.
// Run the write and its WAIT on one connection of it (a pipeline, Watch's Tx, or Conn()).
func Node(ctx context.Context, c redis.UniversalClient, key string) (*redis.Client, error) {
	switch c := c.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	}
	return nil, fmt.Errorf("%w, not %T", ErrNoNode, c)
}

// maxMoves bounds how often OnNode follows a moved slot.
const maxMoves = 8

// OnNode runs fn on Node(ctx, c, key). When fn's error is a MOVED or ASK reply (the write did not run:
// the slot has moved, or is moving), it reloads the cluster's slot map and runs fn again on the slot's
// master, up to 8 times, waiting a little longer each time (0.28 s of pauses in all). A MOVED is
// followed. An ASK is waited out rather than followed: following it would need ASKING before every
// command of the write on the importing node's connection, WATCH and MULTI included; until the
// migration ends the slot's master answers ASK again, and after 8 tries the ASK reply is returned
// (nothing ran).
func OnNode(ctx context.Context, c redis.UniversalClient, key string, fn func(node *redis.Client) error) error {
	for n := 0; ; n++ {
		node, err := Node(ctx, c, key)
		if err != nil {
			return err
		}
		err = fn(node)
		cc, ok := c.(*redis.ClusterClient)
		if !ok || n == maxMoves-1 || !noretry.IsRedirect(err) {
			return err
		}
		cc.ReloadState(ctx) // in the background: the pause below gives it time
		t := time.NewTimer(time.Duration(n+1) * 10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return noretry.CtxErr(ctx, err)
		case <-t.C:
		}
	}
}
