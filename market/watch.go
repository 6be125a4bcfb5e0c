package market

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
)

// Watch is the book's market: optimistic locking with WATCH/MULTI/EXEC. Each attempt reads through
// the watched connection, decides, and commits in MULTI/EXEC; an attempt that loses the lock (EXEC
// returns nil, redis.TxFailedErr) starts over until the option's deadline, then ErrContention.
// Safe for concurrent use.
type Watch struct {
	opt  Options
	keys keys
}

// NewWatch returns a WATCH market; opt may be nil for the defaults. An option the rule refuses is an
// *OptionError (see ErrBadOption), a bad HashTag a *HashTagError.
func NewWatch(opt *Options) (*Watch, error) {
	o, k, err := newOptions(opt)
	if err != nil {
		return nil, err
	}
	return &Watch{opt: o, keys: k}, nil
}

// ListItem moves item from inventory:<seller> to market: as "<item>.<seller>" scored price,
// watching inventory:<seller>. Outcomes: ErrInvalidID, ErrInvalidPrice, ErrCrossSlot, ErrNoNode (before
// any I/O), ErrNotInInventory, ErrAlreadyListed, ErrContention, ErrUnknownOutcome, ErrNotDurable (written,
// not confirmed), or the client's error.
func (w *Watch) ListItem(ctx context.Context, c redis.UniversalClient, item, seller string, price int64) (Listing, error) {
	l, err := w.listItem(ctx, c, item, seller, price)
	return l, noretry.CtxErr(ctx, err)
}

func (w *Watch) listItem(ctx context.Context, c redis.UniversalClient, item, seller string, price int64) (Listing, error) {
	l := Listing{Item: item, Seller: seller, Price: price, Member: member(item, seller)}
	if err := checkList(c, w.keys, item, seller, price); err != nil {
		return l, err
	}
	inv, mkt := w.keys.inventory(seller), w.keys.market()
	err := w.retry(ctx, "list", w.opt.ListTimeout, &l.Retries, func() error {
		return w.watch(ctx, c, "list", func(tx *redis.Tx) error {
			var has *redis.BoolCmd
			var listed *redis.FloatCmd
			if _, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
				has = p.SIsMember(ctx, inv, item)
				listed = p.ZScore(ctx, mkt, l.Member)
				return nil
			}); err != nil && !errors.Is(err, redis.Nil) {
				return readError("list", err)
			}
			if err := readError("list", has.Err(), listed.Err()); err != nil {
				return err
			}
			if !has.Val() {
				return fmt.Errorf("%w: %s not in %s", ErrNotInInventory, item, inv)
			}
			// Only ListItem adds "<item>.<seller>", and it changes inventory:<seller>, which is
			// watched: so market: itself need not be.
			if listed.Err() == nil {
				return fmt.Errorf("%w: %s at %v", ErrAlreadyListed, l.Member, listed.Val())
			}
			if err := ctx.Err(); err != nil { // nothing sent yet: a known outcome
				return fmt.Errorf("market: list: %w", err)
			}
			wt := begin(w.opt.Durable)
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.ZAdd(ctx, mkt, redis.Z{Score: float64(price), Member: l.Member})
				p.SRem(ctx, inv, item)
				return nil
			})
			return committed(ctx, tx, "list", wt, err)
		}, inv)
	})
	return l, err
}

// PurchaseItem moves "<item>.<seller>" from market: to inventory:<buyer> and price from
// users:<buyer> to users:<seller>, watching market:, users:<buyer> and users:<seller> (the book
// watches the first two; the seller's funds are read to check they can take the money, so they
// are watched too). Outcomes: ErrInvalidID, ErrInvalidPrice, ErrCrossSlot, ErrNoNode (before any I/O),
// ErrNotListed, ErrPriceChanged, ErrBadFunds, ErrInsufficientFunds, ErrAlreadyOwned, ErrContention,
// ErrUnknownOutcome, ErrNotDurable (written, not confirmed), or the client's error.
func (w *Watch) PurchaseItem(ctx context.Context, c redis.UniversalClient, buyer, item, seller string, price int64) (Purchase, error) {
	pu, err := w.purchaseItem(ctx, c, buyer, item, seller, price)
	return pu, noretry.CtxErr(ctx, err)
}

func (w *Watch) purchaseItem(ctx context.Context, c redis.UniversalClient, buyer, item, seller string, price int64) (Purchase, error) {
	pu := Purchase{Buyer: buyer, Item: item, Seller: seller, Price: price}
	if err := checkPurchase(c, w.keys, buyer, item, seller, price); err != nil {
		return pu, err
	}
	mem := member(item, seller)
	mkt, kb, ks, inv := w.keys.market(), w.keys.user(buyer), w.keys.user(seller), w.keys.inventory(buyer)
	err := w.retry(ctx, "purchase", w.opt.PurchaseTimeout, &pu.Retries, func() error {
		return w.watch(ctx, c, "purchase", func(tx *redis.Tx) error {
			var listed *redis.FloatCmd
			var bf, sf *redis.StringCmd
			var owned *redis.BoolCmd
			if _, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
				listed = p.ZScore(ctx, mkt, mem)
				bf = p.HGet(ctx, kb, fieldFunds)
				sf = p.HGet(ctx, ks, fieldFunds)
				owned = p.SIsMember(ctx, inv, item)
				return nil
			}); err != nil && !errors.Is(err, redis.Nil) {
				return readError("purchase", err)
			}
			if err := readError("purchase", listed.Err(), bf.Err(), sf.Err(), owned.Err()); err != nil {
				return err
			}
			// The checks, in the order the script makes them.
			if listed.Err() != nil {
				return fmt.Errorf("%w: %s", ErrNotListed, mem)
			}
			if listed.Val() != float64(price) {
				return fmt.Errorf("%w: %s listed at %v, not %d", ErrPriceChanged, mem, listed.Val(), price)
			}
			funds, ok := fundsOf(bf)
			if !ok {
				return fmt.Errorf("%w: %s funds %q", ErrBadFunds, kb, bf.Val())
			}
			if funds < price {
				return fmt.Errorf("%w: %s has %d, price %d", ErrInsufficientFunds, buyer, funds, price)
			}
			sfunds, ok := fundsOf(sf)
			if !ok {
				return fmt.Errorf("%w: %s funds %q", ErrBadFunds, ks, sf.Val())
			}
			if owned.Val() {
				return fmt.Errorf("%w: %s already in %s", ErrAlreadyOwned, item, inv)
			}
			if sfunds > math.MaxInt64-price {
				return fmt.Errorf("%w: %s funds %d + %d would overflow", ErrBadFunds, ks, sfunds, price)
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("market: purchase: %w", err)
			}
			wt := begin(w.opt.Durable)
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HIncrBy(ctx, ks, fieldFunds, price)
				p.HIncrBy(ctx, kb, fieldFunds, -price)
				p.SAdd(ctx, inv, item)
				p.ZRem(ctx, mkt, mem)
				return nil
			})
			return committed(ctx, tx, "purchase", wt, err)
		}, mkt, kb, ks)
	})
	return pu, err
}

// watch runs fn under WATCH keys. In the durable mode it runs on the master of the keys' slot
// (Node), whose Tx is one connection for EXEC and its WAIT; otherwise on c, whose Watch routes by
// the first key on a cluster or ring.
func (w *Watch) watch(ctx context.Context, c redis.UniversalClient, op string, fn func(*redis.Tx) error, keys ...string) error {
	if !w.opt.Durable.On() {
		return watch(ctx, c, op, fn, keys...)
	}
	return onNode(ctx, c, op, keys[0], func(n *redis.Client) error {
		return watch(ctx, n, op, fn, keys...)
	})
}

// watch is c.Watch with the errors of WATCH itself (nothing written) wrapped like the others.
func watch(ctx context.Context, c redis.UniversalClient, op string, fn func(*redis.Tx) error, keys ...string) error {
	ran := false
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		ran = true
		return fn(tx)
	}, keys...)
	if err != nil && !ran {
		return fmt.Errorf("market: %s: watch: %w", op, err)
	}
	return err
}

// fundsOf reads a funds field; a missing one is 0.
func fundsOf(cmd *redis.StringCmd) (int64, bool) {
	if errors.Is(cmd.Err(), redis.Nil) {
		return 0, true
	}
	return parseFunds(cmd.Val())
}

// readError returns the first error that is not redis.Nil, wrapped: nothing was written.
func readError(op string, errs ...error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("market: %s: reading: %w", op, err)
		}
	}
	return nil
}

// committed classifies EXEC's result and, in the durable mode (wt not nil), waits for replicas on
// the Tx's connection, after EXEC.
func committed(ctx context.Context, tx *redis.Tx, op string, wt *durable.Waiter, err error) error {
	if err := commitResult(op, err); err != nil || wt == nil {
		return err
	}
	return confirm(ctx, op, wt, tx, wt.Queue(ctx, tx))
}

// commitResult passes success and a lost lock through and classifies everything else.
func commitResult(op string, err error) error {
	if err == nil || errors.Is(err, redis.TxFailedErr) {
		return err
	}
	return commitError(op, err)
}

// retry runs attempt again while it loses the optimistic lock, until timeout (unless it is off) or
// ctx ends. It always makes one attempt, even past the deadline (the book would give up before
// trying).
func (w *Watch) retry(ctx context.Context, op string, timeout time.Duration, retries *int, attempt func() error) error {
	deadline := w.opt.Now().Add(timeout)
	for {
		err := attempt()
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: %s: lost the lock %d times: %w", ErrContention, op, *retries+1, cerr)
		}
		// The option's deadline: a deadline error, like ctx's.
		if timeout != option.Off && !w.opt.Now().Before(deadline) {
			return fmt.Errorf("%w: %s: lost the lock %d times in %v: %w",
				ErrContention, op, *retries+1, timeout, context.DeadlineExceeded)
		}
		*retries++
	}
}
