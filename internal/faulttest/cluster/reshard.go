package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// Plan is a schedule of faults for a Redis Cluster: Moves rounds, each moving every one of Slots to
// another master (the next one, in the order of the cluster's nodes, after the one that serves
// it), and after each of the first Kills rounds a kill of the master that now serves Slots[0] (its
// replica takes over, and it rejoins as a replica).
type Plan struct {
	Slots []int
	Moves int
	Kills int
	Gap   time.Duration // quiet time before each move and each kill, while the workload runs
	Move  redistest.MoveOptions

	// Clients have their slot maps reloaded after each kill: go-redis refreshes a map lazily, and
	// until then sends the dead master's slots to it.
	Clients []*redis.ClusterClient
}

// Episode is one fault, in the clock of the run.
type Episode struct {
	Name     string // "move slot 123 to 127.0.0.1:21000", "kill master 127.0.0.1:21001"
	Kill     bool
	From, To time.Duration
}

// Report is what a schedule did.
type Report struct {
	Moves, Kills int // slots moved (one per slot and move), masters killed
	Episodes     []Episode
}

func (r Report) String() string {
	return fmt.Sprintf("%d slot moves, %d master kills", r.Moves, r.Kills)
}

// Reshard runs p on c, now giving the run's clock. It returns at the first error, with what it did.
func Reshard(ctx context.Context, c *redistest.Cluster, p Plan, now func() time.Duration) (Report, error) {
	var rep Report
	pause := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.Gap):
			return nil
		}
	}
	for i := 0; i < p.Moves; i++ {
		for _, slot := range p.Slots {
			if err := pause(); err != nil {
				return rep, err
			}
			to, err := next(ctx, c, slot)
			if err != nil {
				return rep, err
			}
			e := Episode{Name: fmt.Sprintf("move slot %d to %s", slot, to.Addr()), From: now()}
			err = c.MoveSlot(ctx, slot, to, &p.Move)
			e.To = now()
			rep.Episodes = append(rep.Episodes, e)
			if err != nil {
				return rep, err
			}
			rep.Moves++
		}
		if i >= p.Kills {
			continue
		}
		if err := pause(); err != nil {
			return rep, err
		}
		m, err := owner(ctx, c, p.Slots[0])
		if err != nil {
			return rep, err
		}
		e := Episode{Name: "kill master " + m.Addr(), Kill: true, From: now()}
		_, err = c.KillMaster(ctx, m)
		for _, cl := range p.Clients {
			cl.ReloadState(ctx)
		}
		e.To = now()
		rep.Episodes = append(rep.Episodes, e)
		if err != nil {
			return rep, err
		}
		rep.Kills++
	}
	return rep, nil
}

// Schedule is a Plan running in the background (Start), in the clock of the run.
type Schedule struct {
	p    Plan
	t0   time.Time
	done chan struct{}
	rep  Report
	err  error
}

// Start runs p on c in a goroutine; the run's clock starts now.
func Start(ctx context.Context, c *redistest.Cluster, p Plan) *Schedule {
	s := &Schedule{p: p, t0: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.rep, s.err = Reshard(ctx, c, p, s.Since)
	}()
	return s
}

// Since is the time since the run began.
func (s *Schedule) Since() time.Duration { return time.Since(s.t0) }

// Done is closed when the schedule is over.
func (s *Schedule) Done() <-chan struct{} { return s.done }

// End waits for the schedule, closes the workload's clients and waits until the cluster has run or
// dropped every command they sent (redistest.Cluster.WaitIdle), so the data no longer changes. It
// fails t if the schedule failed or did less than planned, or if red saw no MOVED or ASK: the moves
// did not meet the workload.
func (s *Schedule) End(ctx context.Context, t testing.TB, c *redistest.Cluster, red *redistest.Redirects, clients ...*redis.ClusterClient) Report {
	t.Helper()
	<-s.done
	if s.err != nil {
		t.Fatalf("after %v: %v", s.rep, s.err)
	}
	for _, cl := range clients {
		cl.Close()
	}
	idle, cancel := context.WithTimeout(ctx, time.Minute) // a client left open would hold it for ever
	defer cancel()
	if err := c.WaitIdle(idle); err != nil {
		t.Fatal(err)
	}
	if want := s.p.Moves * len(s.p.Slots); s.rep.Moves != want || s.rep.Kills != s.p.Kills {
		t.Errorf("%v; want %d moves and %d kills", s.rep, want, s.p.Kills)
	}
	if red.Total() == 0 {
		t.Errorf("no MOVED or ASK seen (%v): the slot moves did not meet the workload", red)
	}
	return s.rep
}

// owner is the master that serves slot.
func owner(ctx context.Context, c *redistest.Cluster, slot int) (*redistest.Server, error) {
	return c.NodeForKey(ctx, KeyInSlot(slot))
}

// next is the master after slot's owner, in the order of c.Nodes.
func next(ctx context.Context, c *redistest.Cluster, slot int) (*redistest.Server, error) {
	from, err := owner(ctx, c, slot)
	if err != nil {
		return nil, err
	}
	masters, err := c.Masters(ctx)
	if err != nil {
		return nil, err
	}
	if len(masters) < 2 {
		return nil, fmt.Errorf("%d masters: nowhere to move slot %d", len(masters), slot)
	}
	i := slices.Index(masters, from)
	return masters[(i+1)%len(masters)], nil
}

// KeyInSlot returns a key that hashes to slot: "{n}" for the smallest n that does.
func KeyInSlot(slot int) string {
	for n := 0; ; n++ {
		k := fmt.Sprintf("{%d}", n)
		if shard.Slot(k) == slot {
			return k
		}
	}
}

// Kind names the kind of error a call met while slots moved and masters died, for the tests' logs.
func Kind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, durable.ErrNotDurable):
		return "not durable"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case redis.IsTryAgainError(err):
		return "TRYAGAIN"
	case noretry.IsRedirect(err):
		return "redirect"
	case redis.IsClusterDownError(err):
		return "CLUSTERDOWN"
	case noretry.Transport(err):
		return "transport"
	case noretry.IsErrorReply(err):
		return "error reply"
	}
	return "other"
}

// Kinds counts errors by Kind; safe for concurrent use.
type Kinds struct {
	mu sync.Mutex
	n  map[string]int
}

// Add counts err (nil too, as "ok").
func (k *Kinds) Add(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n == nil {
		k.n = map[string]int{}
	}
	k.n[Kind(err)]++
}

func (k *Kinds) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	names := make([]string, 0, len(k.n))
	for n := range k.n {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, k.n[n])
	}
	return strings.Join(parts, ", ")
}
