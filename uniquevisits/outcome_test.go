package uniquevisits

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// loseReply is a dial hook whose connections lose the reply to the next command named armed: the
// server runs it (its reply is read and dropped), and the client sees a broken connection.
type loseReply struct {
	mu    sync.Mutex
	armed string // lower case; "" for none
}

func (l *loseReply) arm(cmd string) { l.mu.Lock(); l.armed = cmd; l.mu.Unlock() }

func (l *loseReply) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &loseConn{Conn: c, l: l}, nil
	}
}
func (l *loseReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (l *loseReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

type loseConn struct {
	net.Conn
	l       *loseReply
	pending atomic.Bool
}

func (c *loseConn) Write(b []byte) (int, error) {
	c.l.mu.Lock()
	if c.l.armed != "" && bytes.Contains(bytes.ToLower(b), []byte("\r\n"+c.l.armed+"\r\n")) {
		c.l.armed = ""
		c.pending.Store(true)
	}
	c.l.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *loseConn) Read(b []byte) (int, error) {
	if c.pending.CompareAndSwap(true, false) {
		_, _ = c.Conn.Read(b) // the reply: the command ran
		c.Conn.Close()
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset: reply lost")}
	}
	return c.Conn.Read(b)
}

// TestWriteOutcomes: a lost SADD, INCR or PFADD reply is ErrUnknownOutcome; a refused one (an error
// reply) or one never sent stays a plain error, ErrUncounted for the INCR.
func TestWriteOutcomes(t *testing.T) {
	ctx := t.Context()
	srv := redistest.RunT(t, nil)
	audit := srv.Client(t)
	lose := &loseReply{}
	c := srv.Client(t)
	c.AddHook(lose)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer dead.Close()
	const id, expected = 4242, 1000
	set, _ := shard.Key(setBase(Day(day)), "x"+strconv.Itoa(id), expected, ShardSize, shard.Python3)
	count := countKey(Day(day))

	for _, tc := range []struct {
		name            string
		setup           func()
		sets, counts    redis.Cmdable
		unknown, uncntd bool
		outcome         noretry.Outcome
		inSet           bool
		counted         string
	}{
		{"SADD reply lost", func() { lose.arm("sadd") }, c, c, true, false, noretry.Unknown, true, ""},
		{"INCR reply lost", func() { lose.arm("incr") }, c, c, true, true, noretry.Unknown, true, "1"},
		{"SADD refused", func() { audit.Set(ctx, set, "not a set", 0) }, c, c, false, false, noretry.Reply, false, ""},
		{"INCR refused", func() { audit.Set(ctx, count, "not a number", 0) }, c, c, false, true, noretry.Reply, true, "not a number"},
		{"SADD not sent", func() {}, dead, c, false, false, noretry.NotSent, false, ""},
		{"INCR not sent", func() {}, c, dead, false, true, noretry.NotSent, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := audit.FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			tc.setup()
			_, err := Add(ctx, tc.sets, tc.counts, day, id, expected, ShardSize)
			if err == nil || errors.Is(err, ErrUnknownOutcome) != tc.unknown || errors.Is(err, ErrUncounted) != tc.uncntd ||
				noretry.Classify(err) != tc.outcome {
				t.Errorf("err %v (%v); want unknown %v, uncounted %v, %v", err, noretry.Classify(err), tc.unknown, tc.uncntd, tc.outcome)
			}
			if in, _ := audit.SIsMember(ctx, set, id).Result(); in != tc.inSet {
				t.Errorf("id in its set: %v; want %v", in, tc.inSet)
			}
			if got, _ := audit.Get(ctx, count).Result(); got != tc.counted {
				t.Errorf("count %q; want %q", got, tc.counted)
			}
		})
	}

	t.Run("PFADD reply lost", func(t *testing.T) {
		lose.arm("pfadd")
		_, err := CountVisitHLL(ctx, c, "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", day)
		if !errors.Is(err, ErrUnknownOutcome) {
			t.Errorf("err %v; want ErrUnknownOutcome", err)
		}
	})
	t.Run("ctx ended before the SADD", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := Add(cctx, c, c, day, id, expected, ShardSize)
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnknownOutcome) {
			t.Errorf("err %v; want context.Canceled, not ErrUnknownOutcome (nothing was sent)", err)
		}
	})

	// Random visits with random lost replies: the count is the acknowledged new visits plus the
	// INCRs whose outcome was unknown (here they all ran), and an acknowledged visit is in its set.
	if err := audit.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 8))
	acked, unknownIncr := 0, 0
	for i := 0; i < 60; i++ {
		lose.arm([]string{"", "", "sadd", "incr"}[r.IntN(4)])
		vid := int64(r.IntN(40))
		v, err := Add(ctx, c, c, day, vid, expected, ShardSize)
		switch {
		case err == nil && v.New:
			acked++
		case err == nil:
		case errors.Is(err, ErrUnknownOutcome) && errors.Is(err, ErrUncounted):
			unknownIncr++
		case errors.Is(err, ErrUnknownOutcome):
		default:
			t.Fatalf("visit %d: %v; want a lost reply to be ErrUnknownOutcome", i, err)
		}
		if in, _ := audit.SIsMember(ctx, v.Set, vid).Result(); err == nil && !in {
			t.Fatalf("visit %d acknowledged but %d is not in %s", i, vid, v.Set)
		}
	}
	lose.arm("")
	got, err := Count(ctx, audit, day)
	if err != nil || got != int64(acked+unknownIncr) {
		t.Errorf("count %d, %v; want %d acknowledged + %d unknown INCRs", got, err, acked, unknownIncr)
	}
}

// TestRecountOneServerTwoSpellings: components that reach one server as localhost:P and 127.0.0.1:P
// are one server; Recount counted its sets twice (200 for 100 visitors) when it compared configs.
func TestRecountOneServerTwoSpellings(t *testing.T) {
	ctx := t.Context()
	srv := redistest.RunT(t, nil)
	other := redistest.RunT(t, nil)
	reg := registry(t)
	for i := 0; i < Shards; i++ {
		var cfg map[string]any
		switch {
		case i < 6:
			cfg = map[string]any{"host": "localhost", "port": srv.Port()}
		case i < 12:
			cfg = map[string]any{"addr": srv.Addr()}
		case i < 14:
			cfg = map[string]any{"url": fmt.Sprintf("redis://localhost:%d/0", srv.Port())}
		default:
			cfg = map[string]any{"addr": other.Addr(), "db": i - 13} // another server, databases 1 and 2
		}
		if err := reg.SetConfig(ctx, shard.ShardComponent(Component, i), cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.SetConfig(ctx, Component, map[string]any{"addr": srv.Addr(), "db": 3}); err != nil {
		t.Fatal(err)
	}
	c := mustNew(t, reg, &Options{Now: fixedClock(day), DailyExpected: 1000})
	sids, distinct := visits(150)
	for _, sid := range sids {
		if _, err := c.CountVisit(ctx, sid); err != nil {
			t.Fatal(err)
		}
	}
	count, err := c.Count(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	recount, err := c.Recount(ctx, day)
	if err != nil || count != int64(distinct) || recount != int64(distinct) {
		t.Fatalf("count %d, recount %d, %v; want %d each", count, recount, err, distinct)
	}
}

// TestEndedContext: every public call, on a server that does not answer, returns an error that
// matches the ctx's end, each time (go-redis reports its socket's deadline as "i/o timeout", which
// used to come back bare some of the time), and with a ctx cancelled beforehand.
func TestEndedContext(t *testing.T) {
	srv := redistest.RunT(t, nil)
	c := srv.Client(t)
	reg := registry(t)
	setup := t.Context()
	for i := 0; i < 4; i++ {
		if err := reg.SetConfig(setup, shard.ShardComponent(Component, i), map[string]any{"addr": srv.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.SetConfig(setup, Component, map[string]any{"addr": srv.Addr()}); err != nil {
		t.Fatal(err)
	}
	const sid = "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2"
	one := mustOnClient(t, c, &Options{Now: fixedClock(day)})
	sharded := mustNew(t, reg, &Options{Shards: 4, Now: fixedClock(day)})
	calls := map[string]func(context.Context) error{
		"Expected":      func(ctx context.Context) error { _, err := Expected(ctx, c, day, 0); return err },
		"Add":           func(ctx context.Context) error { _, err := Add(ctx, c, c, day, 7, 1000, 512); return err },
		"CountVisit":    func(ctx context.Context) error { _, err := CountVisit(ctx, c, sid, day); return err },
		"Count":         func(ctx context.Context) error { _, err := Count(ctx, c, day); return err },
		"CountVisitHLL": func(ctx context.Context) error { _, err := CountVisitHLL(ctx, c, sid, day); return err },
		"UniqueHLL":     func(ctx context.Context) error { _, err := UniqueHLL(ctx, c, day); return err },
	}
	for name, counter := range map[string]*Counter{"one client": one, "registry": sharded} {
		calls["Counter.CountVisit ("+name+")"] = func(ctx context.Context) error { _, err := counter.CountVisit(ctx, sid); return err }
		calls["Counter.Expected ("+name+")"] = func(ctx context.Context) error { _, err := counter.Expected(ctx, day); return err }
		calls["Counter.Count ("+name+")"] = func(ctx context.Context) error { _, err := counter.Count(ctx, day); return err }
		calls["Counter.Recount ("+name+")"] = func(ctx context.Context) error { _, err := counter.Recount(ctx, day); return err }
		calls["Counter.CountVisitHLL ("+name+")"] = func(ctx context.Context) error { _, err := counter.CountVisitHLL(ctx, sid); return err }
		calls["Counter.UniqueHLL ("+name+")"] = func(ctx context.Context) error { _, err := counter.UniqueHLL(ctx, day); return err }
	}
	// The registry's clients exist before the server stops answering, as in a running service.
	for i := 0; i < 4; i++ {
		if _, err := reg.Client(setup, shard.ShardComponent(Component, i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.Client(setup, Component); err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	for name, call := range calls {
		for rep := 0; rep < 3; rep++ {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
			err := call(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s, try %d: %v; want context.DeadlineExceeded", name, rep, err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled ctx: %v; want context.Canceled", name, err)
		}
	}
}
