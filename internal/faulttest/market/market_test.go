package market_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/faulttest"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/redistest/faultproxy"
)

// The workload. Every user is driven by one goroutine that both lists and buys. Every listing gets a
// price no other listing ever had, so a purchase names exactly one listing, and the ledger can follow
// each item from owner to owner.
const (
	users        = 10
	itemsPerUser = 8
	items        = users * itemsPerUser
	richFunds    = 1_000_000_000_000
	opTimeout    = 300 * time.Millisecond // each call's deadline
	readTimeout  = 200 * time.Millisecond // the workers' own reads (what to list, what to buy)
	wrongPrice   = 1 << 50                // added to a listing's price: a purchase that must be refused
	shortOps     = 20_000                 // per variant in the short form
	faultCycles  = 2                      // every fault is injected at least this many times per run
	soakOps      = 1_000_000              // per variant with RIA_SOAK=1
)

// user 0 starts with no money: its purchases are refused until it has sold something.
func startFunds(u int) int64 {
	if u == 0 {
		return 0
	}
	return richFunds
}

func userID(u int) string { return "u" + strconv.Itoa(u) }
func itemID(i int) string { return "i" + strconv.Itoa(i) }
func owner0(i int) int    { return i / itemsPerUser }

type kind uint8

const (
	list kind = iota
	buy
)

func (k kind) String() string { return [...]string{"list", "buy"}[k] }

type variant uint8

const (
	watch variant = iota
	script
)

func (v variant) String() string { return [...]string{"watch", "script"}[v] }

// class is how an operation's outcome was reported.
type class uint8

const (
	ok      class = iota // acknowledged: it happened
	refused              // a market refusal (ErrNotListed, ...): nothing written
	failed               // another error that the market reports as "nothing written" (read phase, WATCH, dial)
	unknown              // ErrUnknownOutcome: it may or may not have happened
	nClasses
)

func (c class) String() string { return [...]string{"ok", "refused", "failed", "unknown"}[c] }

// op is one market call, as its caller saw it.
type op struct {
	kind    kind
	variant variant
	class   class
	user    int16 // the lister, or the buyer
	seller  int16 // buy: the listing's seller
	item    int32
	price   int64 // list: the listing's price; buy: the price agreed to
	start   int64 // ns since the run began, before the call
	end     int64 // after it returned

	mark bool // in the ledger search's current chain
	done bool // in the ledger's solution
}

func (o *op) String() string {
	s := fmt.Sprintf("%s %s %s by %s of %s at %d [%.3fs..%.3fs]", o.variant, o.kind, o.class, userID(int(o.user)),
		itemID(int(o.item)), o.price, float64(o.start)/1e9, float64(o.end)/1e9)
	if o.kind == buy {
		s += " from " + userID(int(o.seller))
	}
	return s
}

var refusals = []error{market.ErrNotInInventory, market.ErrAlreadyListed, market.ErrNotListed,
	market.ErrPriceChanged, market.ErrInsufficientFunds, market.ErrAlreadyOwned, market.ErrContention}

// classify returns the class of a call's error, or an error when the market returned something it
// never should here (bad input, bad funds, or a contradiction such as a refusal that is also unknown).
func classify(err error) (class, error) {
	if err == nil {
		return ok, nil
	}
	for _, bad := range []error{market.ErrInvalidID, market.ErrInvalidPrice, market.ErrCrossSlot, market.ErrBadFunds} {
		if errors.Is(err, bad) {
			return 0, fmt.Errorf("unexpected outcome: %w", err)
		}
	}
	isRefusal := false
	for _, r := range refusals {
		if errors.Is(err, r) {
			isRefusal = true
		}
	}
	switch unk := errors.Is(err, market.ErrUnknownOutcome); {
	case unk && isRefusal:
		return 0, fmt.Errorf("reported both unknown and refused: %w", err)
	case unk:
		return unknown, nil
	case isRefusal:
		return refused, nil
	}
	return failed, nil
}

// mode says which implementation each call uses.
type mode int

const (
	watchOnly mode = iota
	scriptOnly
	mixed
)

// world is one run: a real server behind a fault proxy, reached through a conn registry whose
// market component names the proxy.
type world struct {
	srv   *redistest.Server
	proxy *faultproxy.Proxy
	reg   *conn.Registry
	audit *redis.Client // straight to the server, one connection: setup and the final audit
	t0    time.Time

	listW, listS func(context.Context, string, string, int64) (market.Listing, error)
	buyW, buyS   func(context.Context, string, string, string, int64) (market.Purchase, error)

	prices   atomic.Int64 // the last listing price handed out
	ops      atomic.Int64 // market calls made
	badCalls atomic.Int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := redistest.RunT(t, nil)
	p := faultproxy.StartT(t, srv.Addr())
	cfgServer := miniredis.RunT(t) // configs live apart, so pausing the server does not touch them
	cfg := redis.NewClient(&redis.Options{Addr: cfgServer.Addr()})
	t.Cleanup(func() { cfg.Close() })
	reg, err := conn.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	if err := reg.SetConfig(ctx, "market", map[string]any{
		"addr": p.Addr(), "pool_size": 4 * users, "dial_timeout": "500ms", "read_timeout": "2s"}); err != nil {
		t.Fatal(err)
	}
	ao := srv.Options()
	ao.PoolSize = 1
	audit := redis.NewClient(ao)
	t.Cleanup(func() { audit.Close() })
	w := &world{srv: srv, proxy: p, reg: reg, audit: audit,
		listW: conn.Wrap3(reg, "market", market.ListItem),
		listS: conn.Wrap3(reg, "market", market.ListItemScript),
		buyW:  conn.Wrap4(reg, "market", market.PurchaseItem),
		buyS:  conn.Wrap4(reg, "market", market.PurchaseItemScript),
	}
	for u := range users {
		var inv []any
		for i := u * itemsPerUser; i < (u+1)*itemsPerUser; i++ {
			inv = append(inv, itemID(i))
		}
		if err := audit.HSet(ctx, "users:"+userID(u), "name", "user "+strconv.Itoa(u), "funds", startFunds(u)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := audit.SAdd(ctx, "inventory:"+userID(u), inv...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) now() int64 { return int64(time.Since(w.t0)) }

// worker drives one user.
type worker struct {
	w      *world
	t      *testing.T
	u      int
	mode   mode
	rng    *rand.Rand
	mine   []int     // items it believes it owns
	cands  []redis.Z // listings it may buy
	ops    []*op
	stale  int            // calls since mine was last read
	causes map[string]int // failed and unknown outcomes by cause
}

var digits = regexp.MustCompile(`[0-9]+`)

// cause is an error's innermost message with numbers (ports, ids) blanked, to count errors by kind.
func cause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	return digits.ReplaceAllString(err.Error(), "N")
}

func (k *worker) client(ctx context.Context) (redis.UniversalClient, bool) {
	c, err := k.w.reg.Client(ctx, "market")
	return c, err == nil
}

// refreshMine reads the user's inventory (a read: it may fail under faults, and then the belief stays).
func (k *worker) refreshMine() {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	c, ok := k.client(ctx)
	if !ok {
		return
	}
	ids, err := c.SMembers(ctx, "inventory:"+userID(k.u)).Result()
	if err != nil {
		return
	}
	k.mine = k.mine[:0]
	for _, id := range ids {
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "i"))
		k.mine = append(k.mine, n)
	}
	k.stale = 0
}

// refreshCands samples the market for listings by others. A listing may be tried again after a
// refusal: one that every buyer had given up on would stay listed for ever.
func (k *worker) refreshCands() {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	c, ok := k.client(ctx)
	if !ok {
		return
	}
	zs, err := c.ZRandMemberWithScores(ctx, "market:", 16).Result()
	if err != nil {
		return
	}
	k.cands = k.cands[:0]
	for _, z := range zs {
		_, seller, _ := strings.Cut(z.Member.(string), ".")
		if seller != userID(k.u) {
			k.cands = append(k.cands, z)
		}
	}
}

func (k *worker) variant() variant {
	switch k.mode {
	case watchOnly:
		return watch
	case scriptOnly:
		return script
	}
	return variant(k.rng.IntN(2))
}

func (k *worker) record(o *op, err error) {
	o.end = k.w.now()
	c, cerr := classify(err)
	if cerr != nil {
		if k.w.badCalls.Add(1) <= 5 {
			k.t.Errorf("%s: %v", o, cerr)
		}
		c = unknown // audited as "may have happened": the ledger still has to explain it
	}
	o.class = c
	if err != nil && c != refused {
		k.causes[c.String()+": "+cause(err)]++
	}
	k.ops = append(k.ops, o)
	k.w.ops.Add(1)
}

func (k *worker) list() {
	j := k.rng.IntN(len(k.mine))
	item := k.mine[j]
	o := &op{kind: list, variant: k.variant(), user: int16(k.u), item: int32(item), price: k.w.prices.Add(1)}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	o.start = k.w.now()
	var err error
	if o.variant == watch {
		_, err = k.w.listW(ctx, itemID(item), userID(k.u), o.price)
	} else {
		_, err = k.w.listS(ctx, itemID(item), userID(k.u), o.price)
	}
	cancel()
	k.record(o, err)
	if o.class != failed { // listed, refused, or maybe listed: read the inventory again later
		k.mine[j] = k.mine[len(k.mine)-1]
		k.mine = k.mine[:len(k.mine)-1]
	}
}

func (k *worker) buy() {
	j := k.rng.IntN(len(k.cands))
	z := k.cands[j]
	k.cands[j] = k.cands[len(k.cands)-1]
	k.cands = k.cands[:len(k.cands)-1]
	item, seller, _ := strings.Cut(z.Member.(string), ".")
	in, _ := strconv.Atoi(strings.TrimPrefix(item, "i"))
	sn, _ := strconv.Atoi(strings.TrimPrefix(seller, "u"))
	price := int64(z.Score)
	if k.rng.IntN(20) == 0 {
		price += wrongPrice // a price no listing ever had: must be refused
	}
	o := &op{kind: buy, variant: k.variant(), user: int16(k.u), seller: int16(sn), item: int32(in), price: price}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	o.start = k.w.now()
	var err error
	if o.variant == watch {
		_, err = k.w.buyW(ctx, userID(k.u), item, seller, price)
	} else {
		_, err = k.w.buyS(ctx, userID(k.u), item, seller, price)
	}
	cancel()
	k.record(o, err)
}

func (k *worker) run(stop func() bool) {
	k.refreshMine()
	for !stop() {
		if k.stale >= 30 || len(k.mine) == 0 && k.rng.IntN(4) == 0 {
			k.refreshMine()
		}
		if len(k.cands) == 0 {
			k.refreshCands()
		}
		switch {
		case len(k.mine) > 0 && (len(k.cands) == 0 || k.rng.IntN(2) == 0):
			k.list()
			k.stale++
		case len(k.cands) > 0:
			k.buy()
			k.stale++
		default:
			time.Sleep(time.Millisecond) // nothing to do until the market or the inventory is read again
			k.stale++
		}
	}
}

// runMarket runs the workload under faults until target operations were made, then audits.
func runMarket(t *testing.T, m mode, target int64, maxTime time.Duration) {
	w := newWorld(t)
	w.t0 = time.Now()
	deadline := w.t0.Add(maxTime)
	fs := faults(w.srv, w.proxy, opTimeout)
	var episodes atomic.Int64
	// Run until the target is reached and every fault was injected faultCycles times, or the deadline.
	faultsDone := make(chan struct{}) // closed when the schedule ends, early if a fault could not be removed
	stop := func() bool {
		select {
		case <-faultsDone:
			return true
		default:
		}
		return w.ops.Load() >= target && episodes.Load() >= int64(faultCycles*len(fs)) || time.Now().After(deadline)
	}

	stopFaults := make(chan struct{})
	var eps []episode
	var stuck bool
	var fwg sync.WaitGroup
	fwg.Add(1)
	go func() {
		defer fwg.Done()
		defer close(faultsDone)
		maxEpisodes := int(maxTime / (100 * time.Millisecond)) // bounded however long the run
		eps, stuck = runFaults(t, fs, uint64(m)+1, 150*time.Millisecond, maxEpisodes, stopFaults, &episodes, w.now)
	}()
	workers := make([]*worker, users)
	runUntil(users, func(g int) {
		k := &worker{w: w, t: t, u: g, mode: m, rng: rand.New(rand.NewPCG(uint64(g), uint64(m))), causes: map[string]int{}}
		workers[g] = k
		k.run(stop)
	})
	elapsed := time.Since(w.t0)
	close(stopFaults)
	fwg.Wait()
	if stuck {
		t.FailNow() // quiesce would hang too
	}
	w.reg.Close() // its clients' connections close; quiesce waits for the server to see it
	quiesce(t, w.srv, w.proxy, w.audit)

	var ops []*op
	for _, k := range workers {
		ops = append(ops, k.ops...)
	}
	if int64(len(ops)) < target {
		t.Errorf("%d operations in %v; want at least %d", len(ops), elapsed.Round(time.Millisecond), target)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, good := readState(ctx, t, w.audit)
	if !good {
		t.FailNow()
	}
	rep := auditLedger(t, ops, st, eps)

	injected := map[string]int{}
	for _, e := range eps {
		injected[e.name]++
	}
	names := make([]string, 0, len(injected))
	for n := range injected {
		names = append(names, n)
	}
	sort.Strings(names)
	var kinds []string
	for _, n := range names {
		kinds = append(kinds, fmt.Sprintf("%s %d", n, injected[n]))
	}
	t.Logf("%d operations in %v (%.0f/s); faults injected: %s", len(ops), elapsed.Round(time.Millisecond),
		float64(len(ops))/elapsed.Seconds(), strings.Join(kinds, ", "))
	t.Log(rep)
	causes := map[string]int{}
	for _, k := range workers {
		for c, n := range k.causes {
			causes[c] += n
		}
	}
	var cs []string
	for c := range causes {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return causes[cs[i]] > causes[cs[j]] })
	for _, c := range cs {
		t.Logf("  %6d %s", causes[c], c)
	}

	// The run must have exercised what it claims to: faults of every kind, and every class of outcome.
	if len(injected) != len(fs) {
		t.Errorf("only %d kinds of fault were injected: %v", len(injected), injected)
	}
	want := []class{ok, refused, unknown}
	if m != scriptOnly {
		// The script variant has no read phase; a refused dial outlasts the call's deadline, which
		// leaves ctx.Err() alone, which the market cannot tell from a lost reply: unknown.
		want = append(want, failed)
	}
	for _, c := range want {
		if rep.classes[c] == 0 {
			t.Errorf("no operation ended %s: the run did not exercise the market under faults", c)
		}
	}
	if rep.unknownDone == 0 || rep.unknownNotDone == 0 {
		t.Errorf("unknown outcomes resolved %d done, %d not done: want some of each", rep.unknownDone, rep.unknownNotDone)
	}
}

// opsTarget is the number of operations per variant: shortOps, or soakOps with RIA_SOAK=1
// (RIA_SOAK_OPS=n sets it for a scaled soak); see package faulttest.
func opsTarget(t *testing.T) (int64, time.Duration) {
	if n, ok := faulttest.Ops(t); ok {
		return n, max(time.Duration(n)*2*time.Millisecond, 2*time.Minute)
	}
	if faulttest.Soak(t) {
		return soakOps, 2 * time.Hour
	}
	return shortOps, 5 * time.Minute
}

// TestMarketUnderFaults lists and buys from every user at once, through the conn registry and a fault
// proxy, while connections are reset, cut and timed out and the server is paused, on a schedule. It
// then checks the data against the ledger of what every call reported (see auditLedger). Each variant
// (watch, script, mixed) makes at least 20,000 calls and sees every fault at least twice: about 45 s
// under -race on 2 cores. The soak makes 1,000,000 calls per variant, about 15 minutes without -race
// (watch 7m50s, script 1m30s, mixed 5m20s):
//
//	RIA_SOAK=1 go test -timeout 3h -run TestMarketUnderFaults -v ./internal/faulttest/market/
func TestMarketUnderFaults(t *testing.T) {
	target, maxTime := opsTarget(t)
	for _, tc := range []struct {
		name string
		mode mode
	}{{"watch", watchOnly}, {"script", scriptOnly}, {"mixed", mixed}} {
		t.Run(tc.name, func(t *testing.T) { runMarket(t, tc.mode, target, maxTime) })
	}
}
