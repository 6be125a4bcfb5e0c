package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
)

func init() { register(63, marketBench{}) }

// marketBench is Redis in Action's Table 6.3 in the style of the book: listers and buyers hammer the
// marketplace for a fixed time, and we count what got listed and bought, how often a purchase lost
// the optimistic lock, and how long a purchase waited. The book's WATCH marketplace (market.Watch)
// and the contention-free Lua version (market.Script) run the same load in the same run.
type marketBench struct{}

func (marketBench) Name() string { return "market" }

// marketLoad is one row: how many listing and buying goroutines (they share one client's pool).
type marketLoad struct {
	listers, buyers int
	// The book's "no lock" (WATCH) row of Table 6.3, over 60 seconds; book false when it has none.
	book                                   bool
	bookListed, bookBought, bookRetries    string
	bookWait                               string
	bookFineListed, bookFineBought, bookFW string // the same load with fine-grained locks (section 6.2.4)
}

var marketLoads = []marketLoad{
	{1, 1, true, "145,000", "27,000", "80,000", "14 ms", "113,000", "110,000", "<1 ms"},
	{5, 1, true, "331,000", "<200", "50,000", "150 ms", "192,000", "36,000", "<2 ms"},
	{5, 5, true, "206,000", "<600", "161,000", "498 ms", "116,000", "111,000", "<3 ms"},
	{10, 10, false, "", "", "", "", "", "", ""},
}

// marketVariant is one implementation under test.
type marketVariant struct {
	name string
	m    market.Market
}

// marketRun is what one variant did under one load.
type marketRun struct {
	load    marketLoad
	variant string
	took    time.Duration

	listed, bought       int64 // from the data after the run: exact
	listCalls, buyCalls  int   // successes the workers saw
	listRetries, retries int   // Listing.Retries and Purchase.Retries, summed
	lost                 int   // purchases that found the item gone (another buyer won): ErrNotListed
	gaveUp               int   // ErrContention before the run ended (the WATCH variant's timeout)
	cut                  int   // calls in flight when the time was up (their outcome is in the data)
	emptyPolls           int   // a buyer found the market empty
	waits                Latencies
}

func (b marketBench) Run(ctx context.Context, env *Env) (Section, error) {
	srv, err := env.Server(ctx, nil)
	if err != nil {
		return Section{}, err
	}
	opt := srv.Options()
	opt.PoolSize = marketPoolSize
	opt.MinIdleConns = 0
	c := redis.NewClient(opt)
	defer c.Close()

	budget := Pick(env, 15*time.Second, 2*time.Second, 300*time.Millisecond)
	// The WATCH variant keeps the book's timeouts (5 s to list, 10 s to buy): a purchase that loses the
	// lock for 10 s gives up (ErrContention, reported), one still trying when the run ends is cut off.
	watch, err := market.NewWatch(nil)
	if err != nil {
		return Section{}, err
	}
	variants := []marketVariant{{"WATCH", watch}, {"Lua script", market.Script{}}}
	var runs []marketRun
	for i, load := range marketLoads {
		order := variants
		if i%2 == 1 { // alternate who goes first, so that a drift in the machine's load falls on both
			order = []marketVariant{variants[1], variants[0]}
		}
		var pair [2]marketRun
		for _, v := range order {
			env.Progress("%d listers, %d buyers: %s for %v", load.listers, load.buyers, v.name, budget)
			r, err := b.run(ctx, env, c, load, v, budget)
			if err != nil {
				return Section{}, fmt.Errorf("%d/%d %s: %w", load.listers, load.buyers, v.name, err)
			}
			pair[pick(v.name == "WATCH", 0, 1)] = r
		}
		runs = append(runs, pair[0], pair[1])
	}
	return b.section(env, budget, runs)
}

const (
	marketPoolSize   = 32 // 10 listers + 10 buyers + the checks: nobody waits for a connection
	marketBuyerFunds = int64(1_000_000_000_000)
	marketMaxPrice   = 1000
	marketPickFrom   = 10 // a buyer buys one of the 10 cheapest listings, at random
)

// run puts one load on a fresh marketplace for budget, then counts from the data what happened.
func (marketBench) run(ctx context.Context, env *Env, c *redis.Client, load marketLoad, v marketVariant, budget time.Duration) (marketRun, error) {
	r := marketRun{load: load, variant: v.name}
	if err := c.FlushAll(ctx).Err(); err != nil {
		return r, err
	}
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range load.listers {
			p.HSet(ctx, "users:"+lister(i), "name", lister(i), "funds", 0)
		}
		for j := range load.buyers {
			p.HSet(ctx, "users:"+buyer(j), "name", buyer(j), "funds", marketBuyerFunds)
		}
		return nil
	}); err != nil {
		return r, err
	}

	deadline := time.Now().Add(budget)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var mu sync.Mutex
	var errs []error
	// over reports whether err only means that the run's time was up. The socket's deadline (the
	// context's) can fire a moment before the context reports itself done.
	over := func(err error) bool {
		return err != nil && ctx.Err() == nil && (runCtx.Err() != nil || time.Until(deadline) < 5*time.Millisecond)
	}
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range load.listers {
		wg.Go(func() {
			seller, rng := lister(i), rand.New(rand.NewPCG(uint64(i), 1))
			var calls, retries, cut int
			defer func() {
				mu.Lock()
				r.listCalls += calls
				r.listRetries += retries
				r.cut += cut
				mu.Unlock()
			}()
			for n := 0; runCtx.Err() == nil; n++ {
				item := seller + "-" + strconv.Itoa(n)
				// The lister gets a new item and lists it, as the book's simulation does.
				if err := c.SAdd(runCtx, "inventory:"+seller, item).Err(); err != nil {
					if !over(err) {
						fail(fmt.Errorf("lister %s: SADD: %w", seller, err))
					}
					return
				}
				l, err := v.m.ListItem(runCtx, c, item, seller, 1+rng.Int64N(marketMaxPrice))
				retries += l.Retries
				switch {
				case err == nil:
					calls++
					env.Tick()
				case over(err):
					cut++
					return
				default:
					fail(fmt.Errorf("lister %s: %w", seller, err))
					return
				}
			}
		})
	}
	waits := make([]Latencies, load.buyers)
	for j := range load.buyers {
		wg.Go(func() {
			me, rng := buyer(j), rand.New(rand.NewPCG(uint64(j), 2))
			var calls, retries, lost, gaveUp, cut, empty int
			defer func() {
				mu.Lock()
				r.buyCalls += calls
				r.retries += retries
				r.lost += lost
				r.gaveUp += gaveUp
				r.cut += cut
				r.emptyPolls += empty
				mu.Unlock()
			}()
			for runCtx.Err() == nil {
				cheapest, err := c.ZRangeWithScores(runCtx, "market:", 0, marketPickFrom-1).Result()
				if err != nil {
					if !over(err) {
						fail(fmt.Errorf("buyer %s: ZRANGE: %w", me, err))
					}
					return
				}
				if len(cheapest) == 0 {
					empty++
					time.Sleep(200 * time.Microsecond)
					continue
				}
				z := cheapest[rng.IntN(len(cheapest))]
				mem, _ := z.Member.(string)
				item, seller, ok := cutLast(mem, ".")
				if !ok {
					fail(fmt.Errorf("buyer %s: market member %q is not <item>.<seller>", me, mem))
					return
				}
				t0 := time.Now()
				p, err := v.m.PurchaseItem(runCtx, c, me, item, seller, int64(z.Score))
				retries += p.Retries
				switch {
				case err == nil:
					calls++
					waits[j] = append(waits[j], time.Since(t0))
					env.Tick()
				case over(err):
					cut++
					return
				case errors.Is(err, market.ErrNotListed):
					lost++ // another buyer got it first
				case errors.Is(err, market.ErrContention):
					gaveUp++
				default:
					fail(fmt.Errorf("buyer %s: %w", me, err))
					return
				}
			}
		})
	}
	wg.Wait()
	r.took = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	for _, w := range waits {
		r.waits = append(r.waits, w...)
	}
	return r, r.audit(ctx, c)
}

// audit counts listings and sales from the data, and checks them against what the workers saw and
// that no money was made or lost: the figures in the report are the data's.
func (r *marketRun) audit(ctx context.Context, c *redis.Client) error {
	load := r.load
	p := c.Pipeline()
	onMarket := p.ZCard(ctx, "market:")
	var owned []*redis.IntCmd
	var funds []*redis.StringCmd
	for j := range load.buyers {
		owned = append(owned, p.SCard(ctx, "inventory:"+buyer(j)))
		funds = append(funds, p.HGet(ctx, "users:"+buyer(j), "funds"))
	}
	for i := range load.listers {
		funds = append(funds, p.HGet(ctx, "users:"+lister(i), "funds"))
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for _, o := range owned {
		r.bought += o.Val()
	}
	r.listed = r.bought + onMarket.Val()
	var total int64
	for _, f := range funds {
		n, err := strconv.ParseInt(f.Val(), 10, 64)
		if err != nil {
			return fmt.Errorf("audit: funds %q: %w", f.Val(), err)
		}
		total += n
	}
	if want := marketBuyerFunds * int64(load.buyers); total != want {
		return fmt.Errorf("audit: funds total %d, want %d: money was made or lost", total, want)
	}
	// A call cut off by the end of the run may have committed: the data may hold up to r.cut more.
	if d := r.listed - int64(r.listCalls); d < 0 || d > int64(r.cut) {
		return fmt.Errorf("audit: %d listings in the data, %d seen by the listers (%d cut off)", r.listed, r.listCalls, r.cut)
	}
	if d := r.bought - int64(r.buyCalls); d < 0 || d > int64(r.cut) {
		return fmt.Errorf("audit: %d purchases in the data, %d seen by the buyers (%d cut off)", r.bought, r.buyCalls, r.cut)
	}
	return nil
}

func lister(i int) string { return "L" + strconv.Itoa(i) }
func buyer(j int) string  { return "B" + strconv.Itoa(j) }

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func (marketBench) section(env *Env, budget time.Duration, runs []marketRun) (Section, error) {
	s := Section{
		Title: "Table 6.3: marketplace contention, WATCH against a Lua script",
		Text: []string{
			fmt.Sprintf("The book's simulation (sections 6.2.1 and 6.2.4): listers put new items on the market "+
				"as fast as they can, buyers buy from it, for a fixed time (the book: 60 s; here %v per row and "+
				"variant, both variants in the same run, one after the other on a fresh dataset). Each lister and "+
				"buyer is a goroutine; all share one go-redis client whose pool of %d connections outnumbers "+
				"them, so none waits for a connection (a command borrows one; a WATCH transaction keeps its "+
				"own from WATCH to EXEC). A lister adds a new item to its inventory (SADD) and "+
				"lists it at a random price; a buyer reads the %d cheapest listings (ZRANGE) and buys one of them "+
				"at random. WATCH is `market.Watch`, the book's `list_item`/`purchase_item` (every purchase "+
				"watches `market:`, so any listing or sale makes it start over); Lua script is `market.Script`, one "+
				"EVALSHA per operation, which cannot lose a lock.", budget, marketPoolSize, marketPickFrom),
			"Listed and bought are counted from the data afterwards (items in the buyers' inventories, plus " +
				"those still on the market), and the run fails if money was created or lost. Retries are attempts " +
				"after the first, summed over every purchase; a lost race is a purchase that found its item " +
				"already sold to another buyer (`ErrNotListed`, with WATCH possibly after some retries). Gave up: " +
				"a WATCH purchase that kept losing the lock for its 10 s timeout (`ErrContention`, the book's False). The " +
				"wait is the time of one successful `PurchaseItem` call, retries included; calls still running when " +
				"the time was up are cut off (their outcome is in the data, their wait is not).",
		},
	}
	tab := Table{Header: []string{"listers / buyers", "variant", "listed", "bought", "listed /s", "bought /s",
		"purchase retries", "retries per purchase", "lost races", "gave up", "mean wait", "p99 wait", "cut off at the end"}}
	var groups []string
	var ss = []series{
		{Name: "listed/s, WATCH", Color: lightBlue}, {Name: "bought/s, WATCH", Color: blue},
		{Name: "listed/s, Lua", Color: lightOrng}, {Name: "bought/s, Lua", Color: orange},
	}
	var sum []string
	for k, r := range runs {
		sec := r.took.Seconds()
		perPurchase := "–"
		if r.buyCalls > 0 {
			perPurchase = num(float64(r.retries) / float64(r.buyCalls))
		}
		wait := func(d time.Duration) string {
			if len(r.waits) == 0 {
				return "–"
			}
			return ms(d)
		}
		tab.Rows = append(tab.Rows, []string{
			fmt.Sprintf("%d / %d", r.load.listers, r.load.buyers), r.variant,
			count(r.listed), count(r.bought), num(float64(r.listed) / sec), num(float64(r.bought) / sec),
			count(r.retries), perPurchase, count(r.lost), count(r.gaveUp),
			wait(r.waits.Mean()), wait(r.waits.Quantile(0.99)), count(r.cut),
		})
		i := k % 2
		ss[2*i].Values = append(ss[2*i].Values, float64(r.listed)/sec)
		ss[2*i+1].Values = append(ss[2*i+1].Values, float64(r.bought)/sec)
		if i == 0 {
			groups = append(groups, fmt.Sprintf("%d/%d", r.load.listers, r.load.buyers))
		} else {
			w := runs[k-1]
			sum = append(sum, fmt.Sprintf("%d/%d %s vs %s", r.load.listers, r.load.buyers,
				num(float64(w.bought)/w.took.Seconds()), num(float64(r.bought)/sec)))
		}
	}
	s.Summary = "purchases/s, WATCH vs Lua script: " + strings.Join(sum, ", ")
	s.Tables = append(s.Tables, tab)

	book := Table{
		Caption: "The book's Table 6.3 (Python, 60 s per row) for comparison: its \"no lock\" rows are the WATCH marketplace; the fine-grained lock (section 6.2.4) was its best before Lua.",
		Header: []string{"listers / buyers", "WATCH: listed", "bought", "purchase retries", "average wait",
			"fine-grained lock: listed", "bought", "average wait"},
	}
	for _, l := range marketLoads {
		if l.book {
			book.Rows = append(book.Rows, []string{fmt.Sprintf("%d / %d", l.listers, l.buyers), l.bookListed,
				l.bookBought, l.bookRetries, l.bookWait, l.bookFineListed, l.bookFineBought, l.bookFW})
		}
	}
	s.Tables = append(s.Tables, book)

	var polls []string
	for _, r := range runs {
		if r.emptyPolls > 0 {
			polls = append(polls, fmt.Sprintf("%d/%d %s %d", r.load.listers, r.load.buyers, r.variant, r.emptyPolls))
		}
	}
	// The reading quotes this run's figures, so that it cannot contradict them.
	perPurchase := func(r marketRun) string {
		if r.buyCalls == 0 {
			return "– (no purchase)"
		}
		return num(float64(r.retries) / float64(r.buyCalls))
	}
	rate := func(r marketRun) string { return num(float64(r.bought) / r.took.Seconds()) }
	luaRetries := 0
	for k := 1; k < len(runs); k += 2 {
		luaRetries += runs[k].retries
	}
	lo, hi := runs[0], runs[len(runs)-2] // WATCH under the lightest and the heaviest load
	note := fmt.Sprintf("Reading it: with WATCH every listing and every sale invalidates every purchase in flight, "+
		"so purchases retry: %s retries per purchase at %d/%d, %s at %d/%d, where WATCH bought %s items/s "+
		"against %s at %d/%d. The Lua script runs each operation whole inside the server, so a purchase cannot "+
		"retry (%s retries in all) and the wait is one round trip plus the server's queue. ",
		perPurchase(lo), lo.load.listers, lo.load.buyers, perPurchase(hi), hi.load.listers, hi.load.buyers,
		rate(hi), rate(lo), lo.load.listers, lo.load.buyers, count(luaRetries)) + "Listings do not contend with each other (a WATCH listing watches only its " +
		"seller's inventory), so listers keep going under both; with WATCH each listing costs more round trips. Our machine runs the server and all the goroutines on 2 cores, so absolute rates are " +
		"far below a real deployment's; the contrast between the variants is the result."
	s.Notes = append(s.Notes, note)
	if len(polls) > 0 {
		s.Notes = append(s.Notes, "A buyer that found the market empty slept 200 µs before looking again; times it "+
			"did: "+strings.Join(polls, "; ")+".")
	}

	p, err := barChart("Table 6.3: items listed and bought per second (log scale)", "items per second",
		groups, ss, true, nil)
	if err != nil {
		return s, err
	}
	path, err := env.SaveChart("table6.3", p, chartW, chartH)
	if err != nil {
		return s, err
	}
	s.Charts = append(s.Charts, Chart{Title: "Table 6.3 chart", Path: path})
	return s, nil
}
