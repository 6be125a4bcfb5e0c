package market

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
	"github.com/ria-go/ria/internal/redisint"
)

// MaxPrice is the highest price accepted: ZSET scores are doubles, exact for integers up to 2^53.
const MaxPrice = 1 << 53

// Market is what both implementations provide, so callers and benchmarks can swap them. Arguments
// follow the book's list_item(conn, itemid, sellerid, price) and
// purchase_item(conn, buyerid, itemid, sellerid, lprice).
type Market interface {
	ListItem(ctx context.Context, c redis.UniversalClient, item, seller string, price int64) (Listing, error)
	PurchaseItem(ctx context.Context, c redis.UniversalClient, buyer, item, seller string, price int64) (Purchase, error)
}

var (
	_ Market = (*Watch)(nil)
	_ Market = Script{}
	_ Market = (*Script)(nil)
)

// Listing is the result of ListItem. On error it still carries the arguments and Retries.
type Listing struct {
	Item, Seller string
	Price        int64
	Member       string // "<item>.<seller>", the member in market:
	Retries      int    // attempts after the first, each after losing the optimistic lock (0 for Script)
}

// Purchase is the result of PurchaseItem. On error it still carries the arguments and Retries.
type Purchase struct {
	Buyer, Item, Seller string
	Price               int64
	Retries             int // attempts after the first, each after losing the optimistic lock (0 for Script)
}

// Options configure both implementations (Script reads HashTag and Durable; the timeouts are
// Watch's). They follow go-redis's rule, as in every package of the module: 0 means the default, -1
// means off, and any other negative value makes NewWatch or NewScript return an *OptionError naming
// the field (see ErrBadOption).
type Options struct {
	// ListTimeout is how long ListItem keeps starting new attempts after losing the optimistic lock;
	// then it returns ErrContention, which also matches context.DeadlineExceeded. An attempt in
	// flight is bounded by ctx only.
	// default: 5 seconds (the book's); -1: no limit (new attempts until ctx ends)
	ListTimeout time.Duration

	// PurchaseTimeout is the same for PurchaseItem.
	// default: 10 seconds (the book's); -1: no limit (new attempts until ctx ends)
	PurchaseTimeout time.Duration

	// Now is the clock for those deadlines.
	// default: time.Now
	Now func() time.Time

	// HashTag, when set to t, starts every key with "{t}" ("{t}market:", "{t}users:<id>",
	// "{t}inventory:<id>"), so all of them share t's Redis Cluster slot and the market runs on a
	// *redis.ClusterClient or *redis.Ring. It must not hold "{" or "}" (a *HashTagError).
	// default: "" (the book's keys, shared with its Python code; ErrCrossSlot on a cluster)
	HashTag string

	// Durable makes each write wait, on its own connection, until Durable.Replicas replicas have
	// it (WAIT), for up to Durable.Timeout; one not confirmed returns its result and an error
	// matching ErrNotDurable.
	// default: off (Replicas 0), the book's behaviour; Timeout 1 second
	Durable Durability
}

// Durability says when a write counts as acknowledged: the toolkit's one durable mode.
type Durability = durable.Options

var optionsOf = option.Of{Type: "market.Options"}

// init checks o by the option rule and fills the defaults.
func (o *Options) init() error {
	if o.Now == nil {
		o.Now = time.Now
	}
	_, tagErr := newKeys(o.HashTag)
	return option.Join(
		option.Fill(optionsOf, "ListTimeout", &o.ListTimeout, 5*time.Second, true),
		option.Fill(optionsOf, "PurchaseTimeout", &o.PurchaseTimeout, 10*time.Second, true),
		tagErr,
		o.Durable.Fill(optionsOf, "Durable."),
	)
}

var (
	defaultWatch = &Watch{opt: defaultOptions()}
	script       = Script{}
)

func defaultOptions() Options {
	var o Options
	_ = o.init() // zero values are always valid
	return o
}

// ListItem lists item from seller's inventory at price with WATCH/MULTI/EXEC and default Options
// (the book's list_item).
func ListItem(ctx context.Context, c redis.UniversalClient, item, seller string, price int64) (Listing, error) {
	return defaultWatch.ListItem(ctx, c, item, seller, price)
}

// PurchaseItem buys "<item>.<seller>" for buyer at price with WATCH/MULTI/EXEC and default Options
// (the book's purchase_item).
func PurchaseItem(ctx context.Context, c redis.UniversalClient, buyer, item, seller string, price int64) (Purchase, error) {
	return defaultWatch.PurchaseItem(ctx, c, buyer, item, seller, price)
}

// ListItemScript is ListItem as one Lua script: same outcomes and data, never ErrContention.
func ListItemScript(ctx context.Context, c redis.UniversalClient, item, seller string, price int64) (Listing, error) {
	return script.ListItem(ctx, c, item, seller, price)
}

// PurchaseItemScript is PurchaseItem as one Lua script: same outcomes and data, never ErrContention.
func PurchaseItemScript(ctx context.Context, c redis.UniversalClient, buyer, item, seller string, price int64) (Purchase, error) {
	return script.PurchaseItem(ctx, c, buyer, item, seller, price)
}

func checkID(what, id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty %s id", ErrInvalidID, what)
	}
	if strings.Contains(id, ".") {
		return fmt.Errorf("%w: %s id %q contains \".\"", ErrInvalidID, what, id)
	}
	return nil
}

func checkPrice(price int64) error {
	if price <= 0 || price > MaxPrice {
		return fmt.Errorf("%w: %d (want 1 to %d)", ErrInvalidPrice, price, int64(MaxPrice))
	}
	return nil
}

// checkClient refuses the book's layout on a client that spreads keys over slots or shards.
func checkClient(c redis.UniversalClient, k keys) error {
	if k.tagged() {
		return nil
	}
	switch c.(type) {
	case *redis.ClusterClient, *redis.Ring:
		return fmt.Errorf("%w (%T): set Options.HashTag", ErrCrossSlot, c)
	}
	return nil
}

func checkList(c redis.UniversalClient, k keys, item, seller string, price int64) error {
	return errors.Join(checkID("item", item), checkID("seller", seller), checkPrice(price), checkClient(c, k))
}

func checkPurchase(c redis.UniversalClient, k keys, buyer, item, seller string, price int64) error {
	return errors.Join(checkID("buyer", buyer), checkID("item", item), checkID("seller", seller),
		checkPrice(price), checkClient(c, k))
}

// parseFunds reads a funds field the way HINCRBY does (Redis's string2ll): an optional "-", no "+",
// no leading zeros or spaces, within int64. Go's ParseInt alone accepts "+5" and "007", which
// HINCRBY rejects inside EXEC after the other writes have been applied.
func parseFunds(s string) (int64, bool) { return redisint.Parse(s) }

// commitError classifies an error from the request that commits (EXEC or EVALSHA): a refusal before
// anything ran is a plain error; anything that may have run is ErrUnknownOutcome. What was sent and
// what is a reply is noretry's rule, shared with every package.
func commitError(op string, err error) error {
	if redis.IsExecAbortError(err) {
		return fmt.Errorf("market: %s: the server refused the transaction, nothing written: %w", op, err)
	}
	switch noretry.Classify(err) {
	case noretry.Reply:
		return fmt.Errorf("%w: %s: the server replied with an error after committing, some writes may be applied: %w",
			ErrUnknownOutcome, op, err)
	case noretry.NotSent:
		return fmt.Errorf("market: %s: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnknownOutcome, op, err)
}

// newOptions copies opt (nil: the defaults), checks it and fills the defaults.
func newOptions(opt *Options) (Options, keys, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if err := o.init(); err != nil {
		return Options{}, keys{}, err
	}
	k, err := newKeys(o.HashTag)
	return o, k, err
}

// begin starts a durable write's wait; nil when the durable mode is off.
func begin(d Durability) *durable.Waiter {
	if !d.On() {
		return nil
	}
	return d.Begin()
}

// confirm waits until the write just sent on conn has enough replicas (first is the WAIT queued
// with it, or nil). The write ran on the master either way: not an unknown outcome.
func confirm(ctx context.Context, op string, wt *durable.Waiter, conn durable.Doer, first *redis.Cmd) error {
	if err := wt.Confirm(ctx, conn, first); err != nil {
		return fmt.Errorf("market: %s: applied on the master: %w", op, err)
	}
	return nil
}

// onNode runs attempt on the master of key's slot (c itself unless c is a *redis.ClusterClient),
// again on the new master when a command that wrote nothing got a MOVED or ASK reply (see
// durable.OnNode). attempt's own error is returned as it was.
func onNode(ctx context.Context, c redis.UniversalClient, op, key string, attempt func(*redis.Client) error) error {
	var last error
	err := durable.OnNode(ctx, c, key, func(n *redis.Client) error {
		last = attempt(n)
		var re redis.Error
		// After a commit that may have run, never again.
		if !errors.Is(last, ErrUnknownOutcome) && !errors.Is(last, ErrNotDurable) &&
			errors.As(last, &re) && noretry.IsRedirect(re) {
			return re
		}
		return last
	})
	if err == nil || (last != nil && errors.Is(last, err)) {
		return last
	}
	return fmt.Errorf("market: %s: %w", op, err) // no node, or ctx ended while the slot moved
}
