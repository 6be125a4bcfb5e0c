package tokens_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/tokens"
)

// shared is the test binary's one Redis Cluster: 3 masters with a replica each.
var shared redistest.SharedCluster

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// waitCounts is what a waitHook saw.
type waitCounts struct {
	single     int // WAITs sent alone
	piped      int // WAITs in pipelines
	notLast    int // pipelines where a command followed the WAIT
	writes     int // commands other than WAIT and connection setup
	lastSingle string
}

// waitHook counts the WAITs a client sends, alone or in a pipeline, and whether each pipeline that
// held one ended with it.
type waitHook struct {
	mu sync.Mutex
	n  waitCounts
}

func (h *waitHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *waitHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		switch cmd.Name() {
		case "wait":
			h.n.single++
		case "hello", "client", "ping":
		default:
			h.n.writes++
		}
		h.n.lastSingle = cmd.Name()
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (h *waitHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		for i, c := range cmds {
			switch c.Name() {
			case "wait":
				h.n.piped++
				if i != len(cmds)-1 {
					h.n.notLast++
				}
			case "hello", "client", "auth", "select", "ping":
			default:
				h.n.writes++
			}
		}
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the counts and starts again from zero.
func (h *waitHook) take() waitCounts {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.n
	h.n = waitCounts{}
	return n
}

// durableErrors lists the *DurableErrors in err's tree (one per server not confirmed).
func durableErrors(err error) []*tokens.DurableError {
	var out []*tokens.DurableError
	var walk func(error)
	walk = func(err error) {
		if de, ok := err.(*tokens.DurableError); ok {
			out = append(out, de)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// TestRealDurable: on a master with one replica, a durable update is confirmed by a WAIT on the
// writes' connection (the last command of the pipeline, or one round trip after UpdateToken's
// commands), and the replica then holds the view; with the replica paused it is applied on the
// master and returned with ErrNotDurable, naming 0 of 1 replicas; the default mode sends no WAIT.
func TestRealDurable(t *testing.T) {
	ctx := t.Context()
	r := redistest.RunReplicatedT(t, nil)
	must(t, redistest.WaitLinkUp(ctx, r.Replica))
	h := &waitHook{}
	c := r.Master.Client(t)
	c.AddHook(h)
	replica := r.Replica.Client(t)

	for _, v := range variants(newUpdater(&tokens.Options{Now: clock(100)})) {
		if _, err := v.f(ctx, c, "tok", "u", "item"); err != nil {
			t.Fatal(err)
		}
		if got := h.take(); got.single+got.piped != 0 || got.writes == 0 {
			t.Errorf("default %s: %d WAITs alone, %d in pipelines (%d writes); want none", v.name, got.single, got.piped, got.writes)
		}
	}
	for _, f := range []func(context.Context, redis.Cmdable, string, string, string) (tokens.Update, error){tokens.UpdateToken, tokens.UpdateTokenPipeline} {
		if _, err := f(ctx, c, "tok", "u", "item"); err != nil {
			t.Fatal(err)
		}
		if got := h.take(); got.single+got.piped != 0 {
			t.Errorf("package function: %d WAITs; want none (the default options are not durable)", got.single+got.piped)
		}
	}

	u := newUpdater(&tokens.Options{Now: clock(200), Durable: tokens.Durability{Replicas: 1, Timeout: 5 * time.Second}})
	for i, v := range variants(u) {
		item := []string{"a", "b"}[i]
		up, err := v.f(ctx, c, "tok", "u", item)
		if err != nil {
			t.Fatalf("durable %s: %v", v.name, err)
		}
		// A slow replica may take more WAIT rounds, on the same connection, after the first.
		got := h.take()
		if v.name == "pipeline" && (got.piped != 1 || got.notLast != 0 || got.writes != up.Commands) {
			t.Errorf("durable pipeline: %+v; want %d writes and a WAIT, the pipeline's last command", got, up.Commands)
		}
		if v.name == "plain" && (got.single < 1 || got.piped != 0 || got.lastSingle != "wait" || got.writes != up.Commands) {
			t.Errorf("durable plain: %+v; want %d writes then a WAIT", got, up.Commands)
		}
		if v.name == "plain" && up.RoundTrips != up.Commands+1 {
			t.Errorf("durable plain: %d round trips; want %d (the commands and a WAIT)", up.RoundTrips, up.Commands+1)
		}
		// Confirmed: the replica has the view now, without waiting for it.
		if s, err := replica.ZScore(ctx, "viewed:tok", item).Result(); err != nil || s != up.Timestamp {
			t.Errorf("durable %s: the replica has viewed:tok %s = %v, %v; want %v", v.name, item, s, err, up.Timestamp)
		}
	}

	must(t, r.Replica.Pause())
	t.Cleanup(func() { r.Replica.Resume() })
	u = newUpdater(&tokens.Options{Now: clock(300), Durable: tokens.Durability{Replicas: 1, Timeout: 100 * time.Millisecond}})
	for i, v := range variants(u) {
		item := []string{"c", "d"}[i]
		up, err := v.f(ctx, c, "tok", "u", item)
		des := durableErrors(err)
		if !errors.Is(err, tokens.ErrNotDurable) || errors.Is(err, tokens.ErrUnknownOutcome) || len(des) != 1 ||
			des[0].Replicas != 0 || des[0].Wanted != 1 {
			t.Fatalf("paused replica, %s: %v (%v); want one ErrNotDurable, 0 of 1 replicas", v.name, err, des)
		}
		if up.Commands != 5 || up.Timestamp == 0 || up.Item != item {
			t.Errorf("paused replica, %s: Update %+v; want it filled in as on success", v.name, up)
		}
		if s, err := c.ZScore(ctx, "viewed:tok", item).Result(); err != nil || s != up.Timestamp {
			t.Errorf("paused replica, %s: the master has %v, %v; want the view applied", v.name, s, err)
		}
	}

	// Timeout -1 waits until ctx ends: the error says so too.
	u = newUpdater(&tokens.Options{Now: clock(400), Durable: tokens.Durability{Replicas: 1, Timeout: -1}})
	for _, v := range variants(u) {
		cctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
		_, err := v.f(cctx, c, "tok", "u", "e")
		cancel()
		if !errors.Is(err, tokens.ErrNotDurable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Timeout -1, %s: %v; want ErrNotDurable and context.DeadlineExceeded", v.name, err)
		}
	}
}

// TestDurableNeedsNode: a durable update on a client that cannot carry a write and its WAIT together
// (a pipeline, a Ring) is ErrNoNode, and sends nothing.
func TestDurableNeedsNode(t *testing.T) {
	ctx := t.Context()
	_, c := newMini(t)
	h := &waitHook{}
	c.AddHook(h)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": c.Options().Addr}})
	t.Cleanup(func() { ring.Close() })
	ring.AddHook(h)
	u := newUpdater(&tokens.Options{Durable: tokens.Durability{Replicas: 1}})
	for _, v := range variants(u) {
		for name, client := range map[string]redis.Cmdable{"pipeline": c.Pipeline(), "ring": ring} {
			up, err := v.f(ctx, client, "tok", "u", "item")
			if !errors.Is(err, tokens.ErrNoNode) || up.Commands != 0 {
				t.Errorf("%s on a %s: %+v, %v; want ErrNoNode, nothing sent", v.name, name, up, err)
			}
		}
	}
	if got := h.take(); got.writes+got.single+got.piped != 0 {
		t.Errorf("sent %+v; want nothing", got)
	}
}

// The option rule for Durable: -1 (off) and 0 are valid, other negatives name the field.
func TestDurableOptionRule(t *testing.T) {
	for _, tc := range []struct {
		d     tokens.Durability
		field string
	}{
		{tokens.Durability{Replicas: -2}, "Durable.Replicas"},
		{tokens.Durability{Replicas: 1, Timeout: -2}, "Durable.Timeout"},
		{tokens.Durability{Replicas: -1, Timeout: -1}, ""},
		{tokens.Durability{}, ""},
	} {
		u, err := tokens.New(&tokens.Options{Durable: tc.d})
		var oe *tokens.OptionError
		if tc.field == "" {
			if err != nil || u == nil {
				t.Errorf("%+v: %v; want valid", tc.d, err)
			}
			continue
		}
		if u != nil || !errors.As(err, &oe) || oe.Type != "tokens.Options" || oe.Field != tc.field || !errors.Is(err, tokens.ErrBadOption) {
			t.Errorf("%+v: %v, %v; want an *OptionError naming %s", tc.d, u, err, tc.field)
		}
	}
}

// TestRealClusterNotDurable: on a Redis Cluster whose viewed: master has its replica paused, a
// durable update is applied and returned with ErrNotDurable for that master's writes only: one
// *DurableError per key it holds for the pipeline (a pipeline per key), one for UpdateToken (a
// connection per node); the other masters confirmed.
func TestRealClusterNotDurable(t *testing.T) {
	ctx := t.Context()
	rc := shared.Cluster(t)
	cc := rc.Client(t)
	master, err := rc.NodeForKey(ctx, "viewed:")
	must(t, err)
	onMaster := 0
	for _, k := range []string{"login:", "recent:", "viewed:tok", "viewed:"} {
		n, err := rc.NodeForKey(ctx, k)
		must(t, err)
		if n == master {
			onMaster++
		}
	}
	// The client loads the slots and the command table first: from a paused node it would wait.
	must(t, cc.Exists(ctx, "viewed:").Err())
	replica, err := rc.ReplicaOf(ctx, master)
	must(t, err)
	must(t, replica.Pause())
	t.Cleanup(func() {
		replica.Resume()
		rc.WaitHealthy(context.Background())
	})
	u := newUpdater(&tokens.Options{Now: clock(100), Durable: tokens.Durability{Replicas: 1, Timeout: 200 * time.Millisecond}})
	for _, v := range variants(u) {
		up, err := v.f(ctx, cc, "tok", "u", "item-"+v.name)
		des := durableErrors(err)
		want := map[string]int{"plain": 1, "pipeline": onMaster}[v.name]
		if !errors.Is(err, tokens.ErrNotDurable) || errors.Is(err, tokens.ErrUnknownOutcome) || len(des) != want {
			t.Fatalf("%s: %v; want ErrNotDurable from %d connections", v.name, err, want)
		}
		for _, de := range des {
			if de.Replicas != 0 || de.Wanted != 1 || de.Node != master.Addr() {
				t.Errorf("%s: %v; want 0 of 1 replicas on %s", v.name, de, master.Addr())
			}
		}
		if s, err := cc.ZScore(ctx, "viewed:", "item-"+v.name).Result(); err != nil || s != -1 || up.Commands != 5 {
			t.Errorf("%s: viewed: = %v, %v, Update %+v; want the view applied, the Update filled in", v.name, s, err, up)
		}
	}
}
