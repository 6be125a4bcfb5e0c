package market_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
)

// realClient is a client of srv with pool connections; like every redistest client it never
// retries: a retried EVALSHA would run a purchase twice.
func realClient(t testing.TB, srv *redistest.Server, pool int) *redis.Client {
	return srv.ClientWith(t, func(o *redis.Options) { o.PoolSize = pool })
}

// ledger is what the goroutines saw succeed; with no faults every outcome is known, so the final data
// must match it exactly, whatever order the server applied the operations in.
type ledger struct {
	mu      sync.Mutex
	funds   map[string]int64 // per user: +sales -purchases
	items   map[string]int   // per user: +purchases -listings
	listed  int
	bought  int
	retries int
	failed  map[string]int // expected refusals, by error
}

func (l *ledger) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed[strings.SplitN(err.Error(), ":", 3)[1]]++
}

// TestConcurrentMarket runs ≥ 20 goroutines listing and buying at once on a real server and checks that
// money and items are conserved exactly, for each variant and for both at once on the same data.
func TestConcurrentMarket(t *testing.T) {
	srv := redistest.RunT(t, nil)
	cases := []struct {
		name  string
		impls []market.Market
	}{
		{"watch", []market.Market{newWatch(nil)}},
		{"script", []market.Market{market.Script{}}},
		{"mixed", []market.Market{newWatch(nil), market.Script{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runConcurrentMarket(t, srv, tc.impls)
		})
	}
}

func runConcurrentMarket(t *testing.T, srv *redistest.Server, impls []market.Market) {
	const (
		users     = 8
		perUser   = 6
		funds     = 1000
		listers   = 12
		buyers    = 12
		opsEach   = 150
		timeLimit = 8 * time.Second
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := realClient(t, srv, listers+buyers+4)
	must(t, c.FlushDB(ctx).Err())
	var allItems []string
	for u := range users {
		id := strconv.Itoa(u)
		var items []string
		for i := range perUser {
			items = append(items, fmt.Sprintf("I%d-%d", u, i))
		}
		allItems = append(allItems, items...)
		setUser(t, c, id, "user"+id, strconv.Itoa(funds), items...)
	}

	led := &ledger{funds: map[string]int64{}, items: map[string]int{}, failed: map[string]int{}}
	stop := time.Now().Add(timeLimit)
	var wg sync.WaitGroup
	var unexpected atomic.Int64
	report := func(err error) {
		if unexpected.Add(1) <= 5 {
			t.Errorf("unexpected error: %v", err)
		}
	}
	for g := range listers + buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			m := impls[g%len(impls)]
			for range opsEach {
				if time.Now().After(stop) || ctx.Err() != nil {
					return
				}
				if g < listers {
					seller := strconv.Itoa(rng.IntN(users))
					item, err := c.SRandMember(ctx, "inventory:"+seller).Result()
					if errors.Is(err, redis.Nil) {
						continue
					} else if err != nil {
						report(err)
						return
					}
					price := int64(1 + rng.IntN(60))
					l, err := m.ListItem(ctx, c, item, seller, price)
					led.mu.Lock()
					led.retries += l.Retries
					if err == nil {
						led.listed++
						led.items[seller]--
					}
					led.mu.Unlock()
					switch {
					case err == nil:
					case errors.Is(err, market.ErrNotInInventory): // another lister took it first
						led.fail(err)
					default:
						report(err)
					}
					continue
				}
				zs, err := c.ZRandMemberWithScores(ctx, "market:", 1).Result()
				if err != nil {
					report(err)
					return
				}
				if len(zs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				item, seller, _ := strings.Cut(zs[0].Member.(string), ".")
				buyer := strconv.Itoa(rng.IntN(users))
				price := int64(zs[0].Score)
				p, err := m.PurchaseItem(ctx, c, buyer, item, seller, price)
				led.mu.Lock()
				led.retries += p.Retries
				if err == nil {
					led.bought++
					led.funds[seller] += price
					led.funds[buyer] -= price
					led.items[buyer]++
				}
				led.mu.Unlock()
				switch {
				case err == nil:
				case errors.Is(err, market.ErrNotListed), // sold meanwhile
					errors.Is(err, market.ErrPriceChanged),      // sold back and relisted
					errors.Is(err, market.ErrInsufficientFunds): // poor
					led.fail(err)
				default:
					report(err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("listed %d, bought %d, retries %d, refusals %v", led.listed, led.bought, led.retries, led.failed)
	if led.listed == 0 || led.bought == 0 {
		t.Fatalf("listed %d, bought %d: the test did not exercise the market", led.listed, led.bought)
	}

	// Money: each user's funds are the start plus what the ledger says, and the total is conserved.
	var total int64
	for u := range users {
		id := strconv.Itoa(u)
		f, err := c.HGet(ctx, "users:"+id, "funds").Int64()
		must(t, err)
		total += f
		if want := funds + led.funds[id]; f != want {
			t.Errorf("users:%s funds = %d; want %d", id, f, want)
		}
		n, err := c.SCard(ctx, "inventory:"+id).Result()
		must(t, err)
		if want := int64(perUser + led.items[id]); n != want {
			t.Errorf("inventory:%s holds %d items; want %d", id, n, want)
		}
	}
	if total != users*funds {
		t.Errorf("total funds = %d; want %d", total, users*funds)
	}
	// Items: every one in exactly one place.
	where := map[string][]string{}
	for u := range users {
		id := strconv.Itoa(u)
		items, err := c.SMembers(ctx, "inventory:"+id).Result()
		must(t, err)
		for _, it := range items {
			where[it] = append(where[it], "inventory:"+id)
		}
	}
	listing, err := c.ZRange(ctx, "market:", 0, -1).Result()
	must(t, err)
	if want := led.listed - led.bought; len(listing) != want {
		t.Errorf("market: holds %d listings; want %d", len(listing), want)
	}
	for _, mem := range listing {
		item, _, _ := strings.Cut(mem, ".")
		where[item] = append(where[item], "market:"+mem)
	}
	for _, it := range allItems {
		if len(where[it]) != 1 {
			t.Errorf("item %s is in %v; want exactly one place", it, where[it])
		}
		delete(where, it)
	}
	if len(where) > 0 {
		t.Errorf("unknown items appeared: %v", where)
	}
	wantKeys := int64(users) // users:<id>, and the inventories not emptied
	for u := range users {
		if c.Exists(ctx, "inventory:"+strconv.Itoa(u)).Val() == 1 {
			wantKeys++
		}
	}
	if len(listing) > 0 {
		wantKeys++ // market:
	}
	if n := c.DBSize(ctx).Val(); n != wantKeys {
		t.Errorf("%d keys; want %d", n, wantKeys)
	}
}

// TestUnknownOutcomeRealServer pauses the server right after the commit request is handed to the
// client, with a short deadline: the reply never comes. Whether the operation ran is learned only
// afterwards, and the data is consistent either way.
func TestUnknownOutcomeRealServer(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			srv := redistest.RunT(t, nil)
			ctx := context.Background()
			c := realClient(t, srv, 4)
			setupStory(t, c)
			_, err := v.m.ListItem(ctx, c, "ItemM", "17", 97)
			must(t, err)
			// Load the purchase script, so the paused request is the one that buys.
			_, err = v.m.PurchaseItem(ctx, c, "27", "Nothing", "17", 1)
			wantErr(t, err, market.ErrNotListed)

			var armed atomic.Bool
			pause := func() {
				if armed.CompareAndSwap(true, false) {
					must(t, srv.Pause())
				}
			}
			c.AddHook(hook{
				pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
					return func(ctx context.Context, cmds []redis.Cmder) error {
						if isExec(cmds) {
							pause()
						}
						return next(ctx, cmds)
					}
				},
				process: func(next redis.ProcessHook) redis.ProcessHook {
					return func(ctx context.Context, cmd redis.Cmder) error {
						if isScript(cmd) {
							pause()
						}
						return next(ctx, cmd)
					}
				},
			})
			armed.Store(true)
			short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err = v.m.PurchaseItem(short, c, "27", "ItemM", "17", 97)
			cancel()
			must(t, srv.Resume())
			wantErr(t, err, market.ErrUnknownOutcome) // the cause is the deadline, seen as an i/o timeout

			// Either the purchase happened or it did not; never half.
			deadline := time.Now().Add(time.Second)
			check := realClient(t, srv, 1)
			var got string
			for {
				got = dump(t, check)
				bought := "inventory:17 set:ItemL,ItemN\ninventory:27 set:ItemM,ItemO,ItemP,ItemQ\n" +
					"users:17 hash:funds=140,name=Frank\nusers:27 hash:funds=28,name=Bill\n"
				notBought := "inventory:17 set:ItemL,ItemN\ninventory:27 set:ItemO,ItemP,ItemQ\n" +
					"market: zset:ItemM.17=97,\nusers:17 hash:funds=43,name=Frank\nusers:27 hash:funds=125,name=Bill\n"
				if got == bought {
					t.Log("the purchase happened")
					break
				}
				if got == notBought && time.Now().After(deadline) {
					t.Log("the purchase did not happen")
					break
				}
				if got != notBought {
					t.Fatalf("inconsistent data:\n%s", got)
				}
				time.Sleep(50 * time.Millisecond) // the server may still be reading the request
			}
			// The outcome known, the market works on.
			_, err = v.m.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
			if err != nil && !errors.Is(err, market.ErrNotListed) {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

// Overflowing the seller's funds would fail HINCRBY inside EXEC (or the script) after other writes.
// miniredis does not check the overflow, so this runs on a real server.
func TestSellerOverflow(t *testing.T) {
	srv := redistest.RunT(t, nil)
	ctx := context.Background()
	c := realClient(t, srv, 2)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			must(t, c.FlushDB(ctx).Err())
			setUser(t, c, "1", "rich", "9223372036854775800", "ItemM")
			setUser(t, c, "2", "b", "100")
			_, err := v.m.ListItem(ctx, c, "ItemM", "1", 8)
			must(t, err)
			before := dump(t, c)
			_, err = v.m.PurchaseItem(ctx, c, "2", "ItemM", "1", 8)
			wantErr(t, err, market.ErrBadFunds)
			if after := dump(t, c); after != before {
				t.Errorf("data changed:\n%s\nwant:\n%s", after, before)
			}
			_, err = v.m.PurchaseItem(ctx, c, "2", "ItemM", "1", 7)
			wantErr(t, err, market.ErrPriceChanged)
			must(t, c.ZAdd(ctx, "market:", redis.Z{Score: 7, Member: "ItemM.1"}).Err())
			_, err = v.m.PurchaseItem(ctx, c, "2", "ItemM", "1", 7)
			must(t, err)
			if f := c.HGet(ctx, "users:1", "funds").Val(); f != "9223372036854775807" {
				t.Errorf("seller funds = %s; want max int64", f)
			}
		})
	}
}
