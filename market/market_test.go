package market_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/market"
)

// The book's story: Frank (17) sells ItemM; Bill (27) buys it.
func setupStory(t testing.TB, c redis.Cmdable) {
	setUser(t, c, "17", "Frank", "43", "ItemL", "ItemM", "ItemN")
	setUser(t, c, "27", "Bill", "125", "ItemO", "ItemP", "ItemQ")
}

func TestListItem(t *testing.T) {
	ctx := context.Background()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			_, c := newMini(t)
			setupStory(t, c)
			l, err := v.m.ListItem(ctx, c, "ItemM", "17", 97)
			must(t, err)
			if l.Member != "ItemM.17" || l.Price != 97 || l.Retries != 0 {
				t.Errorf("listing = %+v", l)
			}
			if got := c.ZScore(ctx, "market:", "ItemM.17").Val(); got != 97 {
				t.Errorf("market: ItemM.17 = %v; want 97", got)
			}
			if c.SIsMember(ctx, "inventory:17", "ItemM").Val() {
				t.Error("ItemM still in inventory:17")
			}
		})
	}
}

func TestPurchaseItem(t *testing.T) {
	ctx := context.Background()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			_, c := newMini(t)
			setupStory(t, c)
			_, err := v.m.ListItem(ctx, c, "ItemM", "17", 97)
			must(t, err)
			p, err := v.m.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
			must(t, err)
			if p != (market.Purchase{Buyer: "27", Item: "ItemM", Seller: "17", Price: 97}) {
				t.Errorf("purchase = %+v", p)
			}
			want := "inventory:17 set:ItemL,ItemN\n" +
				"inventory:27 set:ItemM,ItemO,ItemP,ItemQ\n" +
				"users:17 hash:funds=140,name=Frank\n" +
				"users:27 hash:funds=28,name=Bill\n"
			if got := dump(t, c); got != want {
				t.Errorf("data after purchase:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// Every outcome other than success leaves the data as it was.
func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	type op func(m market.Market, c redis.UniversalClient) error
	list := func(item, seller string, price int64) op {
		return func(m market.Market, c redis.UniversalClient) error {
			_, err := m.ListItem(ctx, c, item, seller, price)
			return err
		}
	}
	buy := func(buyer, item, seller string, price int64) op {
		return func(m market.Market, c redis.UniversalClient) error {
			_, err := m.PurchaseItem(ctx, c, buyer, item, seller, price)
			return err
		}
	}
	listed := func(t testing.TB, c redis.Cmdable) {
		setupStory(t, c)
		must(t, c.ZAdd(ctx, "market:", redis.Z{Score: 97, Member: "ItemM.17"}).Err())
		must(t, c.SRem(ctx, "inventory:17", "ItemM").Err())
	}
	withFunds := func(buyer, seller string) func(testing.TB, redis.Cmdable) {
		return func(t testing.TB, c redis.Cmdable) {
			listed(t, c)
			for id, f := range map[string]string{"27": buyer, "17": seller} {
				if f == "" {
					must(t, c.HDel(ctx, "users:"+id, "funds").Err())
				} else {
					must(t, c.HSet(ctx, "users:"+id, "funds", f).Err())
				}
			}
		}
	}
	cases := []struct {
		name  string
		setup func(testing.TB, redis.Cmdable)
		op    op
		want  error
	}{
		{"list not in inventory", setupStory, list("ItemX", "17", 10), market.ErrNotInInventory},
		{"list from another's inventory", setupStory, list("ItemO", "17", 10), market.ErrNotInInventory},
		{"list already listed", func(t testing.TB, c redis.Cmdable) {
			listed(t, c)
			must(t, c.SAdd(ctx, "inventory:17", "ItemM").Err())
		}, list("ItemM", "17", 50), market.ErrAlreadyListed},
		{"buy not listed", setupStory, buy("27", "ItemM", "17", 97), market.ErrNotListed},
		{"buy wrong seller", listed, buy("27", "ItemM", "18", 97), market.ErrNotListed},
		{"buy price changed", listed, buy("27", "ItemM", "17", 90), market.ErrPriceChanged},
		{"buy price raised", listed, buy("27", "ItemM", "17", 98), market.ErrPriceChanged},
		{"buy non-integer listing", func(t testing.TB, c redis.Cmdable) {
			listed(t, c)
			must(t, c.ZAdd(ctx, "market:", redis.Z{Score: 97.5, Member: "ItemM.17"}).Err())
		}, buy("27", "ItemM", "17", 97), market.ErrPriceChanged},
		{"insufficient funds", withFunds("96", "43"), buy("27", "ItemM", "17", 97), market.ErrInsufficientFunds},
		{"negative funds", withFunds("-5", "43"), buy("27", "ItemM", "17", 97), market.ErrInsufficientFunds},
		{"no funds field", withFunds("", "43"), buy("27", "ItemM", "17", 97), market.ErrInsufficientFunds},
		{"no buyer", listed, buy("99", "ItemM", "17", 97), market.ErrInsufficientFunds},
		{"buyer funds text", withFunds("lots", "43"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"buyer funds float", withFunds("125.5", "43"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"buyer funds leading zero", withFunds("0125", "43"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"buyer funds plus sign", withFunds("+125", "43"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"buyer funds minus zero", withFunds("-0", "43"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"buyer funds space", withFunds(" 125", "43"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"buyer funds beyond int64", withFunds("9223372036854775808", "43"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"seller funds text", withFunds("125", "x"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"seller funds below int64", withFunds("125", "-9223372036854775809"), buy("27", "ItemM", "17", 97), market.ErrBadFunds},
		{"already owned", func(t testing.TB, c redis.Cmdable) {
			listed(t, c)
			must(t, c.SAdd(ctx, "inventory:27", "ItemM").Err())
		}, buy("27", "ItemM", "17", 97), market.ErrAlreadyOwned},
		// Checks come in one order in both variants: price before funds, funds before ownership.
		{"price changed and poor", withFunds("1", "43"), buy("27", "ItemM", "17", 90), market.ErrPriceChanged},
		{"poor and bad seller funds", withFunds("1", "x"), buy("27", "ItemM", "17", 97), market.ErrInsufficientFunds},
	}
	for _, tc := range cases {
		for _, v := range variants {
			t.Run(tc.name+"/"+v.name, func(t *testing.T) {
				_, c := newMini(t)
				tc.setup(t, c)
				before := dump(t, c)
				err := tc.op(v.m, c)
				wantErr(t, err, tc.want)
				if errors.Is(err, market.ErrUnknownOutcome) {
					t.Errorf("err %v is also ErrUnknownOutcome", err)
				}
				if after := dump(t, c); after != before {
					t.Errorf("data changed:\n%s\nwant:\n%s", after, before)
				}
			})
		}
	}
}

// Edge cases that succeed.
func TestPurchaseEdges(t *testing.T) {
	ctx := context.Background()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Run("exact funds", func(t *testing.T) {
				_, c := newMini(t)
				setUser(t, c, "1", "a", "97", "ItemM")
				setUser(t, c, "2", "b", "97")
				_, err := v.m.ListItem(ctx, c, "ItemM", "1", 97)
				must(t, err)
				_, err = v.m.PurchaseItem(ctx, c, "2", "ItemM", "1", 97)
				must(t, err)
				if f := c.HGet(ctx, "users:2", "funds").Val(); f != "0" {
					t.Errorf("buyer funds = %s; want 0", f)
				}
			})
			t.Run("seller without funds field", func(t *testing.T) {
				_, c := newMini(t)
				setUser(t, c, "1", "a", "", "ItemM")
				setUser(t, c, "2", "b", "100")
				_, err := v.m.ListItem(ctx, c, "ItemM", "1", 40)
				must(t, err)
				_, err = v.m.PurchaseItem(ctx, c, "2", "ItemM", "1", 40)
				must(t, err)
				if f := c.HGet(ctx, "users:1", "funds").Val(); f != "40" {
					t.Errorf("seller funds = %s; want 40", f)
				}
			})
			t.Run("own listing", func(t *testing.T) {
				_, c := newMini(t)
				setUser(t, c, "1", "a", "100", "ItemM")
				_, err := v.m.ListItem(ctx, c, "ItemM", "1", 40)
				must(t, err)
				_, err = v.m.PurchaseItem(ctx, c, "1", "ItemM", "1", 40)
				must(t, err)
				if got, want := dump(t, c), "inventory:1 set:ItemM\nusers:1 hash:funds=100,name=a\n"; got != want {
					t.Errorf("data:\n%s\nwant:\n%s", got, want)
				}
			})
			t.Run("max price", func(t *testing.T) {
				_, c := newMini(t)
				setUser(t, c, "1", "a", "0", "ItemM")
				setUser(t, c, "2", "b", fmt.Sprint(int64(market.MaxPrice)))
				_, err := v.m.ListItem(ctx, c, "ItemM", "1", market.MaxPrice)
				must(t, err)
				// One below the price is refused exactly, though 2^53-1 and 2^53 are adjacent doubles.
				must(t, c.HIncrBy(ctx, "users:2", "funds", -1).Err())
				_, err = v.m.PurchaseItem(ctx, c, "2", "ItemM", "1", market.MaxPrice)
				wantErr(t, err, market.ErrInsufficientFunds)
				must(t, c.HIncrBy(ctx, "users:2", "funds", 1).Err())
				_, err = v.m.PurchaseItem(ctx, c, "2", "ItemM", "1", market.MaxPrice)
				must(t, err)
				if f := c.HGet(ctx, "users:1", "funds").Val(); f != fmt.Sprint(int64(market.MaxPrice)) {
					t.Errorf("seller funds = %s", f)
				}
			})
			t.Run("big funds", func(t *testing.T) {
				_, c := newMini(t)
				setUser(t, c, "1", "a", "-9223372036854775808", "ItemM")
				setUser(t, c, "2", "b", "9223372036854775807")
				_, err := v.m.ListItem(ctx, c, "ItemM", "1", 5)
				must(t, err)
				_, err = v.m.PurchaseItem(ctx, c, "2", "ItemM", "1", 5)
				must(t, err)
				if f := c.HGet(ctx, "users:2", "funds").Val(); f != "9223372036854775802" {
					t.Errorf("buyer funds = %s", f)
				}
			})
		})
	}
}

// Bad input is refused before any I/O: the client points at a port nobody listens on.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer dead.Close()
	cases := []struct {
		name                string
		item, seller, buyer string
		price               int64
		want                error
	}{
		{"empty item", "", "17", "27", 5, market.ErrInvalidID},
		{"empty seller", "ItemM", "", "27", 5, market.ErrInvalidID},
		{"dot in item", "Item.M", "17", "27", 5, market.ErrInvalidID},
		{"dot in seller", "ItemM", "1.7", "27", 5, market.ErrInvalidID},
		{"zero price", "ItemM", "17", "27", 0, market.ErrInvalidPrice},
		{"negative price", "ItemM", "17", "27", -3, market.ErrInvalidPrice},
		{"price beyond doubles", "ItemM", "17", "27", market.MaxPrice + 1, market.ErrInvalidPrice},
	}
	for _, v := range variants {
		for _, tc := range cases {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				l, err := v.m.ListItem(ctx, dead, tc.item, tc.seller, tc.price)
				wantErr(t, err, tc.want)
				if l.Item != tc.item || l.Seller != tc.seller || l.Price != tc.price {
					t.Errorf("listing = %+v; want the arguments", l)
				}
				_, err = v.m.PurchaseItem(ctx, dead, tc.buyer, tc.item, tc.seller, tc.price)
				wantErr(t, err, tc.want)
			})
		}
		t.Run(v.name+"/bad buyer", func(t *testing.T) {
			for _, b := range []string{"", "2.7"} {
				_, err := v.m.PurchaseItem(ctx, dead, b, "ItemM", "17", 5)
				wantErr(t, err, market.ErrInvalidID)
				if !strings.Contains(err.Error(), "buyer") {
					t.Errorf("err %q does not name the buyer", err)
				}
			}
		})
		t.Run(v.name+"/all wrong at once", func(t *testing.T) {
			_, err := v.m.PurchaseItem(ctx, dead, "", "a.b", "", 0)
			wantErr(t, err, market.ErrInvalidID)
			wantErr(t, err, market.ErrInvalidPrice)
		})
		t.Run(v.name+"/cluster client", func(t *testing.T) {
			cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
			defer cc.Close()
			_, err := v.m.PurchaseItem(ctx, cc, "27", "ItemM", "17", 5)
			wantErr(t, err, market.ErrCrossSlot)
			ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
			defer ring.Close()
			_, err = v.m.ListItem(ctx, ring, "ItemM", "17", 5)
			wantErr(t, err, market.ErrCrossSlot)
		})
	}
	// With a hash tag the keys share a slot: the cluster client is used (and is unreachable here).
	w := newWatch(&market.Options{HashTag: "market"})
	s, err := market.NewScript(&market.Options{HashTag: "market"})
	must(t, err)
	for _, m := range []market.Market{w, s} {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, MaxRetries: -1})
		_, err := m.PurchaseItem(ctx, cc, "27", "ItemM", "17", 5)
		cc.Close()
		if err == nil || errors.Is(err, market.ErrCrossSlot) || !noretry.Transport(err) {
			t.Errorf("%T with a hash tag on a cluster: %v; want the cluster's dial error", m, err)
		}
	}
}

// A key of the wrong type is an error from the server, and nothing is written.
func TestWrongType(t *testing.T) {
	ctx := context.Background()
	for _, v := range variants {
		for _, key := range []string{"market:", "users:27", "users:17", "inventory:27"} {
			t.Run(v.name+"/"+key, func(t *testing.T) {
				_, c := newMini(t)
				setupStory(t, c)
				must(t, c.ZAdd(ctx, "market:", redis.Z{Score: 97, Member: "ItemM.17"}).Err())
				must(t, c.Del(ctx, key).Err())
				must(t, c.Set(ctx, key, "oops", 0).Err())
				before := dump(t, c)
				_, err := v.m.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
				if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
					t.Fatalf("err = %v; want WRONGTYPE", err)
				}
				if errors.Is(err, market.ErrUnknownOutcome) {
					t.Errorf("err %v is ErrUnknownOutcome; nothing was written", err)
				}
				if after := dump(t, c); after != before {
					t.Errorf("data changed:\n%s\nwant:\n%s", after, before)
				}
			})
		}
	}
}

// conflict returns a hook that, before the first n transactions are sent, changes market: through
// another client, so their EXEC finds the lock lost.
func conflict(other redis.Cmdable, n int64, sent *atomic.Int64) hook {
	return hook{pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
		return func(ctx context.Context, cmds []redis.Cmder) error {
			if isExec(cmds) && sent.Add(1) <= n {
				other.ZAdd(ctx, "market:", redis.Z{Score: 1, Member: "noise"})
				other.ZRem(ctx, "market:", "noise")
			}
			return next(ctx, cmds)
		}
	}}
}

func TestWatchRetries(t *testing.T) {
	ctx := context.Background()
	m, c := newMini(t)
	setupStory(t, c)
	other := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer other.Close()
	var sent atomic.Int64
	c.AddHook(conflict(other, 3, &sent))

	l, err := market.ListItem(ctx, c, "ItemM", "17", 97)
	must(t, err)
	// ListItem watches only inventory:17, so changes to market: do not disturb it.
	if l.Retries != 0 {
		t.Errorf("list retries = %d; want 0", l.Retries)
	}
	sent.Store(0)
	p, err := market.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
	must(t, err)
	if p.Retries != 3 {
		t.Errorf("purchase retries = %d; want 3", p.Retries)
	}
	if f := c.HGet(ctx, "users:17", "funds").Val(); f != "140" {
		t.Errorf("seller funds = %s; want 140 (paid once)", f)
	}
}

func TestWatchContention(t *testing.T) {
	ctx := context.Background()
	m, c := newMini(t)
	setupStory(t, c)
	must(t, c.ZAdd(ctx, "market:", redis.Z{Score: 97, Member: "ItemM.17"}).Err())
	other := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer other.Close()
	var sent atomic.Int64
	c.AddHook(conflict(other, 1<<60, &sent))
	before := dump(t, c)

	// A clock that moves a second per reading: the 10 s deadline passes after about ten attempts.
	var tick atomic.Int64
	clock := func() time.Time { return time.Unix(tick.Add(1), 0) }
	w := newWatch(&market.Options{Now: clock})
	p, err := w.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
	wantErr(t, err, market.ErrContention)
	wantErr(t, err, context.DeadlineExceeded) // the option's deadline reads as a deadline
	if p.Retries < 5 || int64(p.Retries)+1 != sent.Load() {
		t.Errorf("retries = %d, transactions sent = %d; want about 10 and retries+1", p.Retries, sent.Load())
	}
	if after := dump(t, c); after != before {
		t.Errorf("data changed:\n%s\nwant:\n%s", after, before)
	}

	// The context ends the retries too, even with the deadline far away.
	cctx, cancel := context.WithCancel(ctx)
	sent.Store(0)
	c.AddHook(hook{pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
		return func(ctx context.Context, cmds []redis.Cmder) error {
			err := next(ctx, cmds)
			if isExec(cmds) && sent.Load() >= 3 {
				cancel()
			}
			return err
		}
	}})
	_, err = newWatch(&market.Options{PurchaseTimeout: time.Hour}).PurchaseItem(cctx, c, "27", "ItemM", "17", 97)
	wantErr(t, err, market.ErrContention)
	wantErr(t, err, context.Canceled)
}

// A deadline already past still allows one attempt (the book would not try at all).
func TestWatchOneAttempt(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	setupStory(t, c)
	frozen := time.Unix(1e9, 0)
	w := newWatch(&market.Options{ListTimeout: time.Nanosecond, Now: func() time.Time { return frozen }})
	_, err := w.ListItem(ctx, c, "ItemM", "17", 97)
	must(t, err)
}

// When the reply to the commit is lost, the outcome is unknown, whatever actually happened.
func TestUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	dropExec := hook{pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
		return func(ctx context.Context, cmds []redis.Cmder) error {
			if isExec(cmds) {
				next(ctx, cmds) // the server commits; the client never hears of it
				return lostReply
			}
			return next(ctx, cmds)
		}
	}}
	dropScript := hook{process: func(next redis.ProcessHook) redis.ProcessHook {
		return func(ctx context.Context, cmd redis.Cmder) error {
			if isScript(cmd) {
				if err := next(ctx, cmd); err != nil {
					return err // NOSCRIPT: EVAL follows
				}
				return lostReply
			}
			return next(ctx, cmd)
		}
	}}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			_, c := newMini(t)
			setupStory(t, c)
			c.AddHook(dropExec)
			c.AddHook(dropScript)
			_, err := v.m.ListItem(ctx, c, "ItemM", "17", 97)
			wantErr(t, err, market.ErrUnknownOutcome)
			wantErr(t, err, syscall.ECONNRESET)
			if c.ZScore(ctx, "market:", "ItemM.17").Val() != 97 {
				t.Fatal("the listing was not applied; the test's hook should let it through")
			}
			_, err = v.m.PurchaseItem(ctx, c, "27", "ItemM", "17", 97)
			wantErr(t, err, market.ErrUnknownOutcome)
			if f := c.HGet(ctx, "users:17", "funds").Val(); f != "140" {
				t.Errorf("seller funds = %s; want 140: applied exactly once", f)
			}
		})
	}
}

// A network error before the commit is sent is a plain error: nothing was written.
func TestErrorBeforeCommit(t *testing.T) {
	ctx := context.Background()
	failReads := hook{
		pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
			return func(ctx context.Context, cmds []redis.Cmder) error {
				if !isExec(cmds) {
					return lostReply
				}
				return next(ctx, cmds)
			}
		},
		process: func(next redis.ProcessHook) redis.ProcessHook {
			return func(ctx context.Context, cmd redis.Cmder) error {
				if cmd.Name() == "watch" {
					return lostReply
				}
				return next(ctx, cmd)
			}
		},
	}
	_, c := newMini(t)
	setupStory(t, c)
	c.AddHook(failReads)
	before := dump(t, c)
	_, err := market.ListItem(ctx, c, "ItemM", "17", 97)
	wantErr(t, err, syscall.ECONNRESET)
	if errors.Is(err, market.ErrUnknownOutcome) {
		t.Errorf("err %v is ErrUnknownOutcome; nothing was sent", err)
	}
	if after := dump(t, c); after != before {
		t.Errorf("data changed")
	}

	// A context already over: nothing is sent by either variant.
	done, cancel := context.WithCancel(ctx)
	cancel()
	for _, v := range variants {
		_, c := newMini(t)
		setupStory(t, c)
		_, err := v.m.ListItem(done, c, "ItemM", "17", 97)
		wantErr(t, err, context.Canceled)
		if errors.Is(err, market.ErrUnknownOutcome) {
			t.Errorf("%s: err %v is ErrUnknownOutcome; nothing was sent", v.name, err)
		}
	}
}
