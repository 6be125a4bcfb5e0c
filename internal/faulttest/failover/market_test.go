package failover_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
)

// The market workload lists every item once and buys each at most once, so what an acknowledged
// call promises is simple to look for: an acknowledged listing, that the item is listed or in a
// buyer's inventory (bought); an acknowledged purchase, that it is in the buyer's inventory. Money
// is conserved whatever was lost: each call is one transaction, lost or kept whole.
const (
	marketSellers = 2
	marketBuyers  = 2
	marketFunds   = int64(1) << 40 // each buyer's; never runs out
)

type marketOp struct {
	item, user string // user: the seller of a listing, the buyer of a purchase
	price      int64
	buy        bool
	lost       bool
}

type marketWorkload struct {
	variant string
	mode_   mode
	c       redis.UniversalClient
	m       market.Market

	pause sync.RWMutex // held by calls (read) and by check (write), so check sees no call in flight

	mu           sync.Mutex
	acked        []*marketOp
	notConfirmed int
	unknown      int
	listed       chan marketOp // listings that ran (acknowledged or not confirmed), for the buyers
}

func newMarketWorkload(ctx context.Context, t *testing.T, c redis.UniversalClient, variant string, m mode) *marketWorkload {
	t.Helper()
	opt := &market.Options{Durable: m.durable}
	w := &marketWorkload{variant: variant, mode_: m, c: c, listed: make(chan marketOp, 1<<16)}
	var err error
	if variant == "watch" {
		w.m, err = market.NewWatch(opt)
	} else {
		w.m, err = market.NewScript(opt)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The users, confirmed by both replicas before any fault, in both modes.
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for s := range marketSellers {
			p.HSet(ctx, "users:"+seller(s), "name", seller(s), "funds", 0)
		}
		for b := range marketBuyers {
			p.HSet(ctx, "users:"+buyer(b), "name", buyer(b), "funds", marketFunds)
		}
		p.Do(ctx, "WAIT", 2, 10_000)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := cmds[len(cmds)-1].(*redis.Cmd).Int(); n != 2 {
		t.Fatalf("market setup: WAIT 2 = %d", n)
	}
	return w
}

func seller(i int) string { return "s" + strconv.Itoa(i) }
func buyer(i int) string  { return "b" + strconv.Itoa(i) }

func (w *marketWorkload) name() string { return "market " + w.variant }
func (w *marketWorkload) mode() string { return w.mode_.name }

func (w *marketWorkload) run(ctx context.Context) {
	var wg sync.WaitGroup
	for s := range marketSellers {
		wg.Go(func() { w.list(ctx, seller(s)) })
	}
	for b := range marketBuyers {
		wg.Go(func() { w.buy(ctx, buyer(b)) })
	}
	wg.Wait()
}

// record notes a call's outcome; it reports whether the call ran on a master (acknowledged or not
// confirmed).
func (w *marketWorkload) record(op *marketOp, err error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
		w.acked = append(w.acked, op)
		return true
	case notConfirmed(err):
		w.notConfirmed++
		return true
	case errors.Is(err, market.ErrUnknownOutcome):
		w.unknown++
	}
	return false
}

func (w *marketWorkload) list(ctx context.Context, me string) {
	for n := 0; ctx.Err() == nil; n++ {
		item := fmt.Sprintf("%s-%d", me, n)
		op := &marketOp{item: item, user: me, price: int64(1 + n%100)}
		w.pause.RLock()
		call, cancel := context.WithTimeout(ctx, callTimeout)
		// A new item for each listing: the SADD may be lost too, and then the listing is refused.
		err := w.c.SAdd(call, "inventory:"+me, item).Err()
		if err == nil {
			_, err = w.m.ListItem(call, w.c, item, me, op.price)
		}
		cancel()
		l := *op // check may mark op lost once it is recorded
		ran := w.record(op, err)
		w.pause.RUnlock()
		if ran {
			select {
			case w.listed <- l:
			default: // the buyers are behind: this item stays listed
			}
		}
		if err != nil {
			sleep(ctx, errPause)
		}
	}
}

func (w *marketWorkload) buy(ctx context.Context, me string) {
	for ctx.Err() == nil {
		var l marketOp
		select {
		case <-ctx.Done():
			return
		case l = <-w.listed:
		}
		op := &marketOp{item: l.item, user: me, price: l.price, buy: true}
		w.pause.RLock()
		call, cancel := context.WithTimeout(ctx, callTimeout)
		_, err := w.m.PurchaseItem(call, w.c, me, l.item, l.user, l.price)
		cancel()
		w.record(op, err)
		w.pause.RUnlock()
		if err != nil && !errors.Is(err, market.ErrNotListed) { // a listing lost in a failover
			sleep(ctx, errPause)
		}
	}
}

func (w *marketWorkload) check(ctx context.Context, c *redis.Client) (tally, error) {
	w.pause.Lock()
	defer w.pause.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	where := map[string]string{} // item -> "market:" or "inventory:<buyer>"
	var errs []error
	listings, err := c.ZRangeWithScores(ctx, "market:", 0, -1).Result()
	if err != nil {
		return tally{}, err
	}
	for _, z := range listings {
		mem := z.Member.(string)
		item, _, _ := strings.Cut(mem, ".")
		where[item] = "market:"
	}
	var funds int64
	for _, u := range append(users(seller, marketSellers), users(buyer, marketBuyers)...) {
		f, err := c.HGet(ctx, "users:"+u, "funds").Int64()
		if err != nil {
			return tally{}, fmt.Errorf("users:%s funds: %w", u, err)
		}
		funds += f
	}
	if want := marketFunds * marketBuyers; funds != want {
		errs = append(errs, fmt.Errorf("funds sum to %d; want %d (money created or destroyed)", funds, want))
	}
	for _, b := range users(buyer, marketBuyers) {
		inv, err := c.SMembers(ctx, "inventory:"+b).Result()
		if err != nil {
			return tally{}, err
		}
		for _, item := range inv {
			if p, ok := where[item]; ok {
				errs = append(errs, fmt.Errorf("item %s is in %s and inventory:%s", item, p, b))
			}
			where[item] = "inventory:" + b
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	t := tally{acked: len(w.acked), notConfirmed: w.notConfirmed}
	for _, op := range w.acked {
		if !op.lost {
			p := where[op.item]
			op.lost = op.buy && p != "inventory:"+op.user || !op.buy && p == ""
		}
		if op.lost {
			t.lost++
		}
	}
	return t, errors.Join(errs...)
}

func users(id func(int) string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = id(i)
	}
	return out
}
