package market_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
)

// exampleClient returns a client of a fresh miniredis holding the book's Frank (17) and Bill (27).
func exampleClient() (*redis.Client, func()) { return exampleClientKeys("") }

// exampleClientKeys is exampleClient with every key starting with prefix.
func exampleClientKeys(prefix string) (*redis.Client, func()) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		panic(err)
	}
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	ctx := context.Background()
	c.HSet(ctx, prefix+"users:17", "name", "Frank", "funds", 43)
	c.SAdd(ctx, prefix+"inventory:17", "ItemL", "ItemM", "ItemN")
	c.HSet(ctx, prefix+"users:27", "name", "Bill", "funds", 125)
	c.SAdd(ctx, prefix+"inventory:27", "ItemO", "ItemP", "ItemQ")
	return c, func() { c.Close(); m.Close() }
}

// The book's story (figures 4.4 to 4.6): Frank lists ItemM for 97, Bill buys it.
func ExamplePurchaseItem() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	l, err := market.ListItem(ctx, c, "ItemM", "17", 97)
	if err != nil {
		panic(err)
	}
	fmt.Println("listed", l.Member, "for", l.Price)

	p, err := market.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
	if err != nil {
		panic(err)
	}
	fmt.Printf("user %s bought %s from %s after %d retries\n", p.Buyer, p.Item, p.Seller, p.Retries)
	fmt.Println("Frank:", c.HGet(ctx, "users:17", "funds").Val(), "Bill:", c.HGet(ctx, "users:27", "funds").Val())
	fmt.Println("Bill owns:", c.SMembers(ctx, "inventory:27").Val())
	// Output:
	// listed ItemM.17 for 97
	// user 27 bought ItemM from 17 after 0 retries
	// Frank: 140 Bill: 28
	// Bill owns: [ItemM ItemO ItemP ItemQ]
}

// Every refusal is a sentinel error; none of them writes anything.
func ExamplePurchaseItem_outcomes() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	_, err := market.ListItem(ctx, c, "ItemX", "17", 10)
	fmt.Println(errors.Is(err, market.ErrNotInInventory), err)

	market.ListItem(ctx, c, "ItemM", "17", 97)
	_, err = market.PurchaseItem(ctx, c, "27", "ItemM", "17", 90)
	fmt.Println(errors.Is(err, market.ErrPriceChanged), err)

	market.ListItem(ctx, c, "ItemN", "17", 500)
	_, err = market.PurchaseItem(ctx, c, "27", "ItemN", "17", 500)
	fmt.Println(errors.Is(err, market.ErrInsufficientFunds), err)

	_, err = market.PurchaseItem(ctx, c, "27", "ItemM.17", "17", 97)
	fmt.Println(errors.Is(err, market.ErrInvalidID), err)
	// Output:
	// true market: item not in inventory: ItemX not in inventory:17
	// true market: price changed: ItemM.17 listed at 97, not 90
	// true market: insufficient funds: 27 has 125, price 500
	// true market: invalid id: item id "ItemM.17" contains "."
}

// The script variant has the same outcomes and never retries; both satisfy Market.
func ExampleScript() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	watch, err := market.NewWatch(&market.Options{PurchaseTimeout: time.Second})
	if err != nil {
		panic(err)
	}
	for _, m := range []market.Market{watch, market.Script{}} {
		if _, err := m.ListItem(ctx, c, "ItemM", "17", 97); err != nil {
			panic(err)
		}
		if _, err := m.PurchaseItem(ctx, c, "27", "ItemM", "17", 97); err != nil {
			panic(err)
		}
		_, err := m.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
		fmt.Printf("%T: bought once, then: %v\n", m, err)
		// Give the item back for the next round.
		c.SMove(ctx, "inventory:27", "inventory:17", "ItemM")
		c.HIncrBy(ctx, "users:27", "funds", 97)
		c.HIncrBy(ctx, "users:17", "funds", -97)
	}
	// Output:
	// *market.Watch: bought once, then: market: item not listed: ItemM.17
	// market.Script: bought once, then: market: item not listed: ItemM.17
}

// rival is a go-redis hook that, before each of the first n EXECs, changes users:17 (which every
// purchase from user 17 watches) through another client, as a concurrent buyer or seller would. After
// the last one it waits for ctx's end, when wait is set.
type rival struct {
	other *redis.Client
	n     int
	wait  bool
}

func (r *rival) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (r *rival) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (r *rival) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if r.n == 0 || cmds[len(cmds)-1].Name() != "exec" {
			return next(ctx, cmds)
		}
		r.n--
		r.other.HSet(context.Background(), "users:17", "name", "Frank") // same value, still a write
		err := next(ctx, cmds)
		if r.n == 0 && r.wait {
			<-ctx.Done()
		}
		return err
	}
}

// Under contention WATCH starts over each time EXEC reports the lock lost, and says how often in
// Retries; when the lock is lost until PurchaseTimeout, the purchase gives up with ErrContention, a
// deadline error. Nothing is written by a lost attempt.
func ExampleWatch_PurchaseItem_contention() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	other := redis.NewClient(c.Options())
	defer other.Close()
	r := &rival{other: other}
	c.AddHook(r)

	// A clock that moves one second each time the market reads it, so the deadline comes after
	// a known number of attempts.
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	w, err := market.NewWatch(&market.Options{PurchaseTimeout: 3 * time.Second, Now: clock})
	if err != nil {
		panic(err)
	}
	if _, err := w.ListItem(ctx, c, "ItemM", "17", 97); err != nil {
		panic(err)
	}

	r.n = 2 // the lock is lost twice, then the third attempt commits
	p, err := w.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
	fmt.Println("bought after", p.Retries, "retries:", err)

	w.ListItem(ctx, c, "ItemL", "17", 10)
	r.n = 100 // lost every time: the purchase gives up at PurchaseTimeout
	p, err = w.PurchaseItem(ctx, c, "27", "ItemL", "17", 10)
	fmt.Println("retries:", p.Retries)
	fmt.Println(errors.Is(err, market.ErrContention), errors.Is(err, context.DeadlineExceeded))
	fmt.Println("Bill's funds:", c.HGet(ctx, "users:27", "funds").Val())
	// Output:
	// bought after 2 retries: <nil>
	// retries: 2
	// true true
	// Bill's funds: 28
}

// Once ctx's deadline has passed, every error matches context.DeadlineExceeded as well as the
// outcome: a call made with an expired ctx sends nothing and writes nothing, and a purchase whose ctx
// ends while it keeps losing the lock is ErrContention.
func ExampleWatch_PurchaseItem_deadline() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	other := redis.NewClient(c.Options())
	defer other.Close()
	r := &rival{other: other}
	c.AddHook(r)
	w, err := market.NewWatch(&market.Options{PurchaseTimeout: -1}) // no limit of its own: ctx alone
	if err != nil {
		panic(err)
	}
	if _, err := w.ListItem(ctx, c, "ItemM", "17", 97); err != nil {
		panic(err)
	}

	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, err = w.PurchaseItem(expired, c, "27", "ItemM", "17", 97)
	fmt.Println(errors.Is(err, context.DeadlineExceeded), err)

	// The lock is lost three times, and ctx ends meanwhile (500 ms is ample for three attempts).
	r.n, r.wait = 3, true
	short, cancel2 := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel2()
	p, err := w.PurchaseItem(short, c, "27", "ItemM", "17", 97)
	fmt.Println("retries:", p.Retries)
	fmt.Println(errors.Is(err, market.ErrContention), errors.Is(err, context.DeadlineExceeded))
	fmt.Println("still listed:", c.ZScore(ctx, "market:", "ItemM.17").Val())
	// Output:
	// true market: purchase: watch: context deadline exceeded
	// retries: 2
	// true true
	// still listed: 97
}

// The layout for Redis Cluster: with a hash tag every key starts with "{market}", so all of them are
// in one slot and MULTI/EXEC and the scripts work on a *redis.ClusterClient. (miniredis stands in
// for the cluster here.) The book's layout on a cluster client is refused before any I/O.
func ExampleNewScript_hashTag() {
	c, done := exampleClientKeys("{market}")
	defer done()
	ctx := context.Background()

	opt := &market.Options{HashTag: "market"}
	s, err := market.NewScript(opt)
	if err != nil {
		panic(err)
	}
	w, err := market.NewWatch(opt)
	if err != nil {
		panic(err)
	}
	if _, err := s.ListItem(ctx, c, "ItemM", "17", 97); err != nil {
		panic(err)
	}
	if _, err := w.PurchaseItem(ctx, c, "27", "ItemM", "17", 97); err != nil {
		panic(err)
	}
	if _, err := w.ListItem(ctx, c, "ItemL", "17", 10); err != nil {
		panic(err)
	}
	cheapest, err := s.Cheapest(ctx, c, 1)
	if err != nil {
		panic(err)
	}
	bill, err := w.User(ctx, c, "27")
	if err != nil {
		panic(err)
	}
	keys := c.Keys(ctx, "*").Val()
	slices.Sort(keys)
	fmt.Println("keys:", keys)
	fmt.Println(bill.Name, "has", bill.Funds, "and owns", bill.Inventory)
	fmt.Println("cheapest:", cheapest[0].Member, "at", cheapest[0].Price)

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{c.Options().Addr}})
	defer cc.Close()
	_, err = market.PurchaseItem(ctx, cc, "27", "ItemM", "17", 97)
	fmt.Println("book layout on a cluster:", errors.Is(err, market.ErrCrossSlot))
	// Output:
	// keys: [{market}inventory:17 {market}inventory:27 {market}market: {market}users:17 {market}users:27]
	// Bill has 28 and owns [ItemM ItemO ItemP ItemQ]
	// cheapest: ItemL.17 at 10
	// book layout on a cluster: true
}
