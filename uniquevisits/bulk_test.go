package uniquevisits

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// scaleRegistry returns a registry whose configs live on a fresh miniredis.
func scaleRegistry(tb testing.TB) *conn.Registry {
	tb.Helper()
	reg, _ := conntest.MiniRegistry(tb)
	return reg
}

// scaleMinis configures "unique:0".."unique:<shards-1>" on as many miniredis servers and "unique" on
// one more, the last.
func scaleMinis(tb testing.TB, reg *conn.Registry, shards int) []*miniredis.Miniredis {
	tb.Helper()
	minis := make([]*miniredis.Miniredis, shards+1)
	for i := range minis {
		minis[i] = miniredis.RunT(tb)
		if err := reg.SetConfig(context.Background(), scaleComp(i, shards), map[string]any{"addr": minis[i].Addr()}); err != nil {
			tb.Fatal(err)
		}
	}
	return minis
}

// scaleComp is server i's component: a shard, or the unsharded "unique" for i == shards.
func scaleComp(i, shards int) string {
	if i == shards {
		return Component
	}
	return shard.ShardComponent(Component, i)
}

func newCounter(tb testing.TB, reg *conn.Registry, opt *Options) *Counter {
	tb.Helper()
	c, err := New(reg, opt)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func newCounterOn(tb testing.TB, client redis.Cmdable, opt *Options) *Counter {
	tb.Helper()
	c, err := NewOnClient(client, opt)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// randomSID is a random UUID in the canonical spelling.
func randomSID(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
}

// respell writes a canonical session id another way CanonicalSessionID accepts.
func respell(r *rand.Rand, sid string) string {
	switch r.IntN(5) {
	case 0:
		return strings.ToUpper(sid)
	case 1:
		return strings.ReplaceAll(sid, "-", "")
	case 2:
		return "{" + sid + "}"
	case 3:
		return "urn:uuid:" + sid
	}
	return sid
}

// malformed is a session id CanonicalSessionID refuses, made from a good one.
func malformed(r *rand.Rand, sid string) string {
	switch r.IntN(6) {
	case 0:
		return ""
	case 1:
		return sid[:r.IntN(len(sid))]
	case 2:
		return sid + "x"
	case 3:
		b := []byte(sid)
		b[r.IntN(8)] = 'g'
		return string(b)
	case 4:
		return strings.Replace(sid, "-", "_", 1)
	}
	return "(" + sid + ")"
}

// scaleBatch is a random batch: fresh visitors, repeats of earlier ones (this batch's or a previous
// one's, in other spellings), other UUIDs with an earlier visitor id (so the same id on another
// server, maybe), and malformed ids. pool collects the canonical ids used.
func scaleBatch(r *rand.Rand, pool *[]string, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		k := r.IntN(10)
		switch {
		case k == 0:
			out = append(out, malformed(r, randomSID(r)))
		case k <= 3 && len(*pool) > 0:
			out = append(out, respell(r, (*pool)[r.IntN(len(*pool))]))
		case k == 4 && len(*pool) > 0:
			// The first 15 hex digits (the visitor id) are sid[:17]: 8, a dash, 4, a dash, 3.
			sid := (*pool)[r.IntN(len(*pool))][:17] + randomSID(r)[17:]
			*pool = append(*pool, sid)
			out = append(out, sid)
		default:
			sid := randomSID(r)
			*pool = append(*pool, sid)
			out = append(out, sid)
		}
	}
	return out
}

// sameResult reports how a bulk result differs from CountVisit's, "" when it does not.
func sameResult(got VisitResult, want Visit, wantErr error) string {
	if got.Visit != want {
		return fmt.Sprintf("visit %+v; CountVisit gave %+v", got.Visit, want)
	}
	if (got.Err == nil) != (wantErr == nil) || (wantErr != nil && got.Err.Error() != wantErr.Error()) {
		return fmt.Sprintf("error %v; CountVisit gave %v", got.Err, wantErr)
	}
	return ""
}

// TestCountVisitsMatchesCountVisit (property): over random batches with repeats, respellings, shared
// visitor ids and malformed ids, CountVisits gives each visit what CountVisit, called once per id in
// order on a twin setup, gives it; a malformed id fails only itself; the count after equals the twin's
// and Recount. On 16 sharded servers, on one client, and with the plain function.
func TestCountVisitsMatchesCountVisit(t *testing.T) {
	ctx := t.Context()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	opt := &Options{Now: fixedClock(day), DailyExpected: 2000} // few set shards to recount

	type setup struct {
		bulk    func([]string) ([]VisitResult, error)
		single  func(string) (Visit, error)
		count   func() (int64, int64, int64) // bulk side's count and recount, the twin's count
		servers []*miniredis.Miniredis
	}
	setups := map[string]func(t *testing.T) setup{
		"16 servers": func(t *testing.T) setup {
			regA, regB := scaleRegistry(t), scaleRegistry(t)
			minis := scaleMinis(t, regA, Shards)
			scaleMinis(t, regB, Shards)
			a, b := newCounter(t, regA, opt), newCounter(t, regB, opt)
			return setup{
				bulk:   func(s []string) ([]VisitResult, error) { return a.CountVisits(ctx, s) },
				single: func(s string) (Visit, error) { return b.CountVisit(ctx, s) },
				count: func() (int64, int64, int64) {
					n, _ := a.Count(ctx, day)
					re, err := a.Recount(ctx, day)
					if err != nil {
						t.Fatal(err)
					}
					m, _ := b.Count(ctx, day)
					return n, re, m
				},
				servers: minis,
			}
		},
		"one client": func(t *testing.T) setup {
			ma, ca := mini(t)
			_, cb := mini(t)
			a, b := newCounterOn(t, ca, opt), newCounterOn(t, cb, opt)
			return setup{
				bulk:   func(s []string) ([]VisitResult, error) { return a.CountVisits(ctx, s) },
				single: func(s string) (Visit, error) { return b.CountVisit(ctx, s) },
				count: func() (int64, int64, int64) {
					n, _ := a.Count(ctx, day)
					re, err := a.Recount(ctx, day)
					if err != nil {
						t.Fatal(err)
					}
					m, _ := b.Count(ctx, day)
					return n, re, m
				},
				servers: []*miniredis.Miniredis{ma},
			}
		},
		"plain function": func(t *testing.T) setup {
			ma, ca := mini(t)
			_, cb := mini(t)
			return setup{
				bulk:   func(s []string) ([]VisitResult, error) { return CountVisits(ctx, ca, s, day) },
				single: func(s string) (Visit, error) { return CountVisit(ctx, cb, s, day) },
				count: func() (int64, int64, int64) {
					n, _ := Count(ctx, ca, day)
					re, err := newCounterOn(t, ca, nil).Recount(ctx, day)
					if err != nil {
						t.Fatal(err)
					}
					m, _ := Count(ctx, cb, day)
					return n, re, m
				},
				servers: []*miniredis.Miniredis{ma},
			}
		},
	}
	for name, mk := range setups {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			r := rand.New(rand.NewPCG(seed, uint64(len(name))))
			var pool []string
			distinctBad := 0
			for round := 0; round < 12; round++ {
				batch := scaleBatch(r, &pool, r.IntN(200))
				got, err := s.bulk(batch)
				if len(got) != len(batch) {
					t.Fatalf("round %d: %d results for %d visits", round, len(got), len(batch))
				}
				if err != nil {
					t.Fatalf("round %d: %v; want nil (only malformed ids failed)", round, err)
				}
				for i, sid := range batch {
					want, wantErr := s.single(sid)
					if diff := sameResult(got[i], want, wantErr); diff != "" {
						t.Fatalf("round %d, visit %d (%q): %s", round, i, sid, diff)
					}
					if wantErr != nil {
						distinctBad++
						var se *SessionIDError
						if !errors.Is(got[i].Err, ErrBadSessionID) || !errors.As(got[i].Err, &se) {
							t.Fatalf("visit %d: %v; want a *SessionIDError", i, got[i].Err)
						}
					}
				}
			}
			count, recount, twin := s.count()
			if count != twin || recount != count {
				t.Errorf("count %d, recount %d; one by one counted %d", count, recount, twin)
			}
			if distinctBad == 0 || count == 0 {
				t.Errorf("%d malformed ids, %d visitors: the batches tried nothing", distinctBad, count)
			}
		})
	}
}

// tripHook counts a client's round trips: single commands and pipelines, not counting the pipeline
// go-redis sends to set up each new connection (HELLO, CLIENT SETINFO, SELECT), counted in inits.
type tripHook struct {
	cmds, pipes, inits atomic.Int64
	names              sync.Map // command name -> *atomic.Int64, single commands only
}

func (h *tripHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" && cmd.Name() != "client" {
			h.cmds.Add(1)
			n, _ := h.names.LoadOrStore(cmd.Name(), new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *tripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		setup := true
		for _, c := range cmds {
			switch c.Name() {
			case "hello", "client", "auth", "select":
			default:
				setup = false
			}
		}
		if setup {
			h.inits.Add(1)
		} else {
			h.pipes.Add(1)
		}
		return next(ctx, cmds)
	}
}
func (h *tripHook) reset() { h.cmds.Store(0); h.pipes.Store(0); h.inits.Store(0); h.names.Clear() }
func (h *tripHook) named(name string) int64 {
	n, ok := h.names.Load(name)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// hookAll adds a tripHook to every component's client of reg.
func hookAll(t testing.TB, reg *conn.Registry, shards int) []*tripHook {
	t.Helper()
	hooks := make([]*tripHook, shards+1)
	for i := range hooks {
		c, err := reg.Client(context.Background(), scaleComp(i, shards))
		if err != nil {
			t.Fatal(err)
		}
		hooks[i] = &tripHook{}
		c.AddHook(hooks[i])
	}
	return hooks
}

// checkTrips: one pipeline per sharded server the batch touched and none elsewhere, no single
// command on them; on the unsharded server one INCRBY (when a visit was new) and nothing else.
func checkTrips(t *testing.T, hooks []*tripHook, touched map[int]bool, anyNew bool) {
	t.Helper()
	shards := len(hooks) - 1
	var pipes int64
	for i, h := range hooks[:shards] {
		want := int64(0)
		if touched[i] {
			want = 1
		}
		if h.pipes.Load() != want || h.cmds.Load() != 0 {
			t.Errorf("server %d: %d pipelines, %d single commands; want %d and 0", i, h.pipes.Load(), h.cmds.Load(), want)
		}
		pipes += h.pipes.Load()
	}
	counts := hooks[shards]
	wantIncr := int64(0)
	if anyNew {
		wantIncr = 1
	}
	if counts.pipes.Load() != 0 || counts.cmds.Load() != wantIncr || counts.named("incrby")+counts.named("incr") != wantIncr {
		t.Errorf("unsharded server: %d pipelines, %d commands (%d INCRBY); want 0, %d, %d", counts.pipes.Load(), counts.cmds.Load(), counts.named("incrby"), wantIncr, wantIncr)
	}
	if total, want := pipes+counts.cmds.Load(), int64(len(touched))+wantIncr; total != want {
		t.Errorf("%d round trips; want %d: one per server touched and one INCRBY", total, want)
	}
}

// TestCountVisitsOnePipelinePerServer counts round trips with a hook: a batch sends one pipeline to
// each sharded server it touches and one INCRBY to the unsharded server, whatever its size, and reads
// the expected size once per batch.
func TestCountVisitsOnePipelinePerServer(t *testing.T) {
	ctx := t.Context()
	reg := scaleRegistry(t)
	scaleMinis(t, reg, Shards)
	hooks := hookAll(t, reg, Shards)
	c := newCounter(t, reg, &Options{Now: fixedClock(day), CacheDays: -1}) // no cache: every batch reads it
	r := rand.New(rand.NewPCG(5, 6))
	var pool []string
	for _, n := range []int{1, 3, 40, 500} {
		for _, h := range hooks {
			h.reset()
		}
		batch := scaleBatch(r, &pool, n)
		res, err := c.CountVisits(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		touched := map[int]bool{}
		anyNew := false
		for i, v := range res {
			if v.Err != nil {
				continue
			}
			var k int
			fmt.Sscanf(v.Visit.Shard, "unique:%d", &k)
			touched[k] = true
			anyNew = anyNew || v.Visit.New
			if v.Visit.Shard != shardOfSID(t, batch[i]) {
				t.Fatalf("visit %d on %s; want %s", i, v.Visit.Shard, shardOfSID(t, batch[i]))
			}
		}
		// The expected size, read once per batch: one GET of it, or, the first time, GETs of it and of
		// yesterday's count and a SET NX.
		counts := hooks[Shards]
		if g, set := counts.named("get"), counts.named("set"); !(g == 1 && set == 0) && !(g == 2 && set == 1) {
			t.Errorf("batch of %d: %d GETs, %d SET NX of the expected size; want one read", n, g, set)
		}
		counts.cmds.Add(-counts.named("get") - counts.named("set"))
		checkTrips(t, hooks, touched, anyNew)
	}

	// A batch of repeats only: the pipelines, and no INCRBY.
	for _, h := range hooks {
		h.reset()
	}
	c = newCounter(t, reg, &Options{Now: fixedClock(day)})
	if _, err := c.Expected(ctx, day); err != nil {
		t.Fatal(err)
	}
	hooks[Shards].reset()
	res, err := c.CountVisits(ctx, pool[:50])
	if err != nil {
		t.Fatal(err)
	}
	touched := map[int]bool{}
	for _, v := range res {
		if v.Visit.New {
			t.Fatalf("a repeat counted as new: %+v", v.Visit)
		}
		var k int
		fmt.Sscanf(v.Visit.Shard, "unique:%d", &k)
		touched[k] = true
	}
	checkTrips(t, hooks, touched, false)
}

func shardOfSID(t *testing.T, sid string) string {
	t.Helper()
	canonical, err := CanonicalSessionID(sid)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := shard.Component(Component, canonical, Shards)
	if err != nil {
		t.Fatal(err)
	}
	return comp
}

// TestCountVisitsChunks: a batch larger than bulkChunk on one server goes in pipelines of bulkChunk,
// and is counted exactly.
func TestCountVisitsChunks(t *testing.T) {
	ctx := t.Context()
	_, client := mini(t)
	h := &tripHook{}
	client.AddHook(h)
	c := newCounterOn(t, client, &Options{Now: fixedClock(day), DailyExpected: 20_000})
	r := rand.New(rand.NewPCG(9, 9))
	batch := make([]string, bulkChunk+100)
	for i := range batch {
		batch[i] = randomSID(r)
	}
	if _, err := c.CountVisits(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if h.pipes.Load() != 2 {
		t.Errorf("%d pipelines for %d SADDs; want 2", h.pipes.Load(), len(batch))
	}
	n, _ := c.Count(ctx, day)
	re, err := c.Recount(ctx, day)
	if err != nil || n != int64(len(batch)) || re != n {
		t.Errorf("count %d, recount %d (%v); want %d", n, re, err, len(batch))
	}
}

// TestCountVisitsBadIDs: malformed ids fail only themselves and write nothing; a batch of them only
// makes no round trip at all.
func TestCountVisitsBadIDs(t *testing.T) {
	ctx := t.Context()
	m, client := mini(t)
	h := &tripHook{}
	client.AddHook(h)
	c := newCounterOn(t, client, &Options{Now: fixedClock(day)})
	bad := []string{"", "short", "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2x", "zzzzzzzz-0d23-4d6e-9a4c-4ab3e5c6f1d2"}
	res, err := c.CountVisits(ctx, bad)
	if err != nil || len(res) != len(bad) {
		t.Fatalf("%d results, %v; want %d, nil", len(res), err, len(bad))
	}
	for i, r := range res {
		if !errors.Is(r.Err, ErrBadSessionID) || r.Visit != (Visit{}) {
			t.Errorf("%q: %+v, %v; want ErrBadSessionID and no visit", bad[i], r.Visit, r.Err)
		}
	}
	if h.cmds.Load()+h.pipes.Load() != 0 || len(m.Keys()) != 0 {
		t.Errorf("malformed ids only: %d round trips, keys %v; want none", h.cmds.Load()+h.pipes.Load(), m.Keys())
	}
	mixed := []string{"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", "short", "00000000-0000-0000-0000-000000000001"}
	res, err = c.CountVisits(ctx, mixed)
	if err != nil || res[0].Err != nil || !res[0].Visit.New || !errors.Is(res[1].Err, ErrBadSessionID) || res[2].Err != nil || res[2].Visit.Count != 2 {
		t.Errorf("mixed batch: %+v, %v; want the two good ids counted (1, 2) and the bad one refused", res, err)
	}
	if res, err := c.CountVisits(ctx, nil); err != nil || len(res) != 0 {
		t.Errorf("empty batch: %v, %v", res, err)
	}
}

// dropReply is a dial hook whose connections lose the reply to the next write that holds command
// armed: the server runs it (the reply is read and dropped), and the client sees a broken connection.
type dropReply struct {
	mu    sync.Mutex
	armed string
}

func (d *dropReply) arm(cmd string) { d.mu.Lock(); d.armed = cmd; d.mu.Unlock() }
func (d *dropReply) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &dropConn{Conn: c, d: d}, nil
	}
}
func (d *dropReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (d *dropReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

type dropConn struct {
	net.Conn
	d       *dropReply
	pending atomic.Bool
}

func (c *dropConn) Write(b []byte) (int, error) {
	c.d.mu.Lock()
	if c.d.armed != "" && bytes.Contains(bytes.ToLower(b), []byte("\r\n"+c.d.armed+"\r\n")) {
		c.d.armed = ""
		c.pending.Store(true)
	}
	c.d.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *dropConn) Read(b []byte) (int, error) {
	if c.pending.CompareAndSwap(true, false) {
		time.Sleep(20 * time.Millisecond) // let the server run the whole write before the drop
		_, _ = c.Conn.Read(b)
		c.Conn.Close()
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset: reply lost")}
	}
	return c.Conn.Read(b)
}

// TestCountVisitsLostReplies: a lost INCRBY reply is ErrUnknownOutcome and ErrUncounted on exactly
// the new visits it covered; a lost SADD pipeline reply fails exactly that server's visits with
// ErrUnknownOutcome and leaves them out of the INCRBY; a count server that is down is ErrUncounted
// (not unknown) on the new visits. In every case nothing is resent, and Recount is exact.
func TestCountVisitsLostReplies(t *testing.T) {
	ctx := t.Context()
	r := rand.New(rand.NewPCG(11, 12))
	var pool []string
	first := scaleBatch(r, &pool, 60)

	t.Run("INCRBY reply lost", func(t *testing.T) {
		m := miniredis.RunT(t)
		drop := &dropReply{}
		client := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: 3})
		client.AddHook(drop)
		defer client.Close()
		c := newCounterOn(t, client, &Options{Now: fixedClock(day), DailyExpected: 1000})
		if _, err := c.CountVisits(ctx, first); err != nil {
			t.Fatal(err)
		}
		before, _ := c.Count(ctx, day)
		batch := append(scaleBatch(r, &pool, 80), first[:10]...)
		drop.arm("incrby")
		res, err := c.CountVisits(ctx, batch)
		var be *BatchError
		if !errors.As(err, &be) || !errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("err %v; want a *BatchError of unknown outcomes", err)
		}
		news := 0
		for i, v := range res {
			switch {
			case errors.Is(v.Err, ErrBadSessionID):
			case v.Visit.New:
				news++
				if !errors.Is(v.Err, ErrUnknownOutcome) || !errors.Is(v.Err, ErrUncounted) {
					t.Errorf("new visit %d: %v; want ErrUnknownOutcome and ErrUncounted", i, v.Err)
				}
			case v.Err != nil:
				t.Errorf("visit %d, not new: %v; want nil (the INCRBY did not cover it)", i, v.Err)
			}
		}
		if be.Failed != news {
			t.Errorf("BatchError counts %d failed; want the %d new visits", be.Failed, news)
		}
		after, _ := c.Count(ctx, day)
		re, _ := c.Recount(ctx, day)
		if after != before+int64(news) || re != after { // the INCRBY ran once, and only once
			t.Errorf("count %d -> %d, recount %d; want +%d, equal", before, after, re, news)
		}
	})

	t.Run("one server's SADD reply lost", func(t *testing.T) {
		reg := scaleRegistry(t)
		scaleMinis(t, reg, Shards)
		drop := &dropReply{}
		victim, _ := reg.Client(ctx, shard.ShardComponent(Component, 3))
		victim.AddHook(drop)
		c := newCounter(t, reg, &Options{Now: fixedClock(day), DailyExpected: 1000})
		batch := scaleBatch(r, &pool, 300)
		drop.arm("sadd")
		res, err := c.CountVisits(ctx, batch)
		if !errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("err %v; want ErrUnknownOutcome", err)
		}
		var counted int64
		seen := map[string]bool{}
		for i, v := range res {
			if errors.Is(v.Err, ErrBadSessionID) {
				continue
			}
			onVictim := shardOfSID(t, batch[i]) == "unique:3"
			if onVictim != errors.Is(v.Err, ErrUnknownOutcome) || (!onVictim && v.Err != nil) {
				t.Errorf("visit %d on %s: %v; want ErrUnknownOutcome exactly on unique:3", i, v.Visit.Shard, v.Err)
			}
			if v.Visit.New {
				counted++
			}
			seen[v.Visit.Shard] = true
		}
		if !seen["unique:3"] {
			t.Fatal("no visit went to unique:3")
		}
		if n, _ := c.Count(ctx, day); n != counted {
			t.Errorf("count %d; want the %d new visits the INCRBY covered", n, counted)
		}
		if re, _ := c.Recount(ctx, day); re < counted { // plus the lost ones that ran
			t.Errorf("recount %d < %d", re, counted)
		}
	})

	t.Run("count server down", func(t *testing.T) {
		reg := scaleRegistry(t)
		minis := scaleMinis(t, reg, Shards)
		c := newCounter(t, reg, &Options{Now: fixedClock(day), DailyExpected: 1000})
		if _, err := c.Expected(ctx, day); err != nil {
			t.Fatal(err)
		}
		minis[Shards].Close()
		batch := scaleBatch(r, &pool, 100)
		res, err := c.CountVisits(ctx, batch)
		if !errors.Is(err, ErrUncounted) || errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("err %v; want ErrUncounted, not unknown", err)
		}
		news := int64(0)
		for i, v := range res {
			if v.Visit.New {
				news++
				if !errors.Is(v.Err, ErrUncounted) || errors.Is(v.Err, ErrUnknownOutcome) {
					t.Errorf("visit %d: %v; want ErrUncounted only", i, v.Err)
				}
			}
		}
		if err := minis[Shards].Restart(); err != nil {
			t.Fatal(err)
		}
		if re, err := c.Recount(ctx, day); err != nil || re != news {
			t.Errorf("recount %d, %v; want the %d recorded visits", re, err, news)
		}
	})
}

// TestCountVisitsEndedContext: a cancelled ctx sends nothing and fails every well-formed visit with
// context.Canceled; on a server that stops answering, the deadline ends the batch with
// context.DeadlineExceeded, on the batch's error and on every visit's.
func TestCountVisitsEndedContext(t *testing.T) {
	srv := redistest.RunT(t, nil)
	client := srv.Client(t)
	m, mc := mini(t)
	sids := []string{"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", "bad", "00000000-0000-0000-0000-000000000001"}

	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	counter := newCounterOn(t, mc, &Options{Now: fixedClock(day)})
	for name, call := range map[string]func(context.Context) ([]VisitResult, error){
		"Counter": func(ctx context.Context) ([]VisitResult, error) { return counter.CountVisits(ctx, sids) },
		"plain":   func(ctx context.Context) ([]VisitResult, error) { return CountVisits(ctx, mc, sids, day) },
	} {
		res, err := call(cctx)
		if !errors.Is(err, context.Canceled) || len(res) != 3 || !errors.Is(res[0].Err, context.Canceled) ||
			!errors.Is(res[1].Err, ErrBadSessionID) || !errors.Is(res[2].Err, context.Canceled) {
			t.Errorf("%s, cancelled: %+v, %v; want context.Canceled on the batch and the good visits", name, res, err)
		}
	}
	if len(m.Keys()) != 0 {
		t.Errorf("a cancelled batch wrote %v", m.Keys())
	}

	c := newCounterOn(t, client, &Options{Now: fixedClock(day)})
	if _, err := c.Expected(t.Context(), day); err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	for rep := 0; rep < 3; rep++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		res, err := c.CountVisits(ctx, sids)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(res[0].Err, context.DeadlineExceeded) ||
			!errors.Is(res[0].Err, ErrUnknownOutcome) {
			t.Errorf("try %d: %+v, %v; want context.DeadlineExceeded and unknown outcomes", rep, res, err)
		}
	}
}

// TestRealCountVisits16Shards: on 16 real sharded servers and a 17th for the counts, CountVisits
// gives what CountVisit gives, one pipeline per server, and the count equals Recount.
func TestRealCountVisits16Shards(t *testing.T) {
	ctx := t.Context()
	g := redistest.RunShardsT(t, Shards+1, nil)
	regs := [2]*conn.Registry{scaleRegistry(t), scaleRegistry(t)}
	for k, reg := range regs { // the one-by-one twin in database 1 of the same servers
		for i := 0; i <= Shards; i++ {
			if err := reg.SetConfig(ctx, scaleComp(i, Shards), map[string]any{"addr": g[i].Addr(), "db": k}); err != nil {
				t.Fatal(err)
			}
		}
	}
	hooks := hookAll(t, regs[0], Shards)
	opt := &Options{Now: fixedClock(day), DailyExpected: 5000}
	bulk, single := newCounter(t, regs[0], opt), newCounter(t, regs[1], opt)
	if _, err := bulk.Expected(ctx, day); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(13, 14))
	var pool []string
	for round := 0; round < 4; round++ {
		for _, h := range hooks {
			h.reset()
		}
		batch := scaleBatch(r, &pool, 400)
		res, err := bulk.CountVisits(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		touched := map[int]bool{}
		anyNew := false
		for i, sid := range batch {
			want, wantErr := single.CountVisit(ctx, sid)
			if diff := sameResult(res[i], want, wantErr); diff != "" {
				t.Fatalf("round %d, visit %d: %s", round, i, diff)
			}
			if res[i].Err == nil {
				var k int
				fmt.Sscanf(res[i].Visit.Shard, "unique:%d", &k)
				touched[k] = true
				anyNew = anyNew || res[i].Visit.New
			}
		}
		checkTrips(t, hooks, touched, anyNew)
	}
	n, _ := bulk.Count(ctx, day)
	re, err := bulk.Recount(ctx, day)
	twin, _ := single.Count(ctx, day)
	if err != nil || n != re || n != twin || n == 0 {
		t.Errorf("count %d, recount %d (%v), one by one %d; want equal", n, re, err, twin)
	}
}

// BenchmarkCountVisits counts 10,000 visits over 16 miniredis sharded servers, in one CountVisits
// batch and one CountVisit at a time. miniredis hands each command to its dispatcher over a channel
// and flushes its reply with a write of its own, so a pipeline saves the client's waits but not the
// server's per-command cost; BenchmarkCountVisitsReal runs the same on redis-server, which answers a
// pipeline in few writes.
func BenchmarkCountVisits(b *testing.B) {
	for _, mode := range []string{"bulk", "one-by-one"} {
		b.Run(mode, func(b *testing.B) {
			reg := scaleRegistry(b)
			scaleMinis(b, reg, Shards)
			benchmarkCountVisits(b, reg, mode == "bulk")
		})
	}
}

// BenchmarkCountVisitsReal is BenchmarkCountVisits on 17 real redis-servers.
func BenchmarkCountVisitsReal(b *testing.B) {
	g := redistest.RunShardsT(b, Shards+1, nil)
	for k, mode := range []string{"bulk", "one-by-one"} {
		b.Run(mode, func(b *testing.B) {
			reg := scaleRegistry(b)
			for i := 0; i <= Shards; i++ {
				if err := reg.SetConfig(context.Background(), scaleComp(i, Shards), map[string]any{"addr": g[i].Addr(), "db": k}); err != nil {
					b.Fatal(err)
				}
			}
			benchmarkCountVisits(b, reg, mode == "bulk")
		})
	}
}

func benchmarkCountVisits(b *testing.B, reg *conn.Registry, bulk bool) {
	const visits = 10_000
	ctx := context.Background()
	c := newCounter(b, reg, &Options{Now: fixedClock(day)})
	if _, err := c.Expected(ctx, day); err != nil {
		b.Fatal(err)
	}
	for i := 0; i <= Shards; i++ { // dial every server before timing
		if _, err := reg.Client(ctx, scaleComp(i, Shards)); err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sids := make([]string, visits)
		for k := range sids {
			sids[k] = randomSID(r)
		}
		b.StartTimer()
		if bulk {
			if _, err := c.CountVisits(ctx, sids); err != nil {
				b.Fatal(err)
			}
			continue
		}
		for _, sid := range sids {
			if _, err := c.CountVisit(ctx, sid); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*visits), "ns/visit")
}

// FuzzCountVisits: any batch (lines of the input, duplicates and garbage included) gets from
// CountVisits what CountVisit gives each line in order on a twin server, and the count equals
// Recount.
func FuzzCountVisits(f *testing.F) {
	f.Add("6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2\nshort\n6A1F0A42-0D23-4D6E-9A4C-4AB3E5C6F1D2")
	f.Add("{00000000-0000-0000-0000-000000000001}\nurn:uuid:00000000-0000-0000-0000-000000000001\n\n")
	f.Add("000000000000000f0000000000000000\n00000000-0000-000f-ffff-ffffffffffff\n00000000-0000-000f-0000-000000000000")
	ma, ca := mini(f)
	mb, cb := mini(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, in string) {
		ma.FlushAll()
		mb.FlushAll()
		opt := &Options{Now: fixedClock(day), DailyExpected: 500}
		a, b := newCounterOn(t, ca, opt), newCounterOn(t, cb, opt)
		batch := strings.Split(in, "\n")
		res, err := a.CountVisits(ctx, batch)
		if err != nil || len(res) != len(batch) {
			t.Fatalf("%d results, %v", len(res), err)
		}
		for i, sid := range batch {
			want, wantErr := b.CountVisit(ctx, sid)
			if diff := sameResult(res[i], want, wantErr); diff != "" {
				t.Fatalf("visit %d (%q): %s", i, sid, diff)
			}
		}
		n, _ := a.Count(ctx, day)
		re, err := a.Recount(ctx, day)
		if err != nil || n != re {
			t.Fatalf("count %d, recount %d, %v", n, re, err)
		}
	})
}
