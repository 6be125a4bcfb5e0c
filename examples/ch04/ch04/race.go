package ch04

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/market"
)

// The race: one seller lists raceItems items priced raceFirstPrice, raceFirstPrice+1, ...; each
// of raceBuyers buyers has the funds to buy them all, so no purchase can fail for want of money.
const (
	raceBuyers     = 8
	raceItems      = 40
	raceFirstPrice = 10
	raceFunds      = raceItems * (2*raceFirstPrice + raceItems - 1) / 2 // every price, summed
)

// race lists the items, then each buyer buys the cheapest listing until none is left, and
// checks that money and items are conserved.
func race(ctx context.Context, env *tour.Env, reg *conn.Registry, name string, m market.Market) error {
	list := conn.Wrap3(reg, "market", m.ListItem)
	purchase := conn.Wrap4(reg, "market", m.PurchaseItem)
	c, release, err := reg.Acquire(ctx, "market")
	if err != nil {
		return err
	}
	defer release()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return err
	}
	var all []string
	for i := range raceItems {
		all = append(all, fmt.Sprintf("Sword%02d", i))
	}
	if err := addUser(ctx, c, "smith", "Smith", 0, all...); err != nil {
		return err
	}
	for i, it := range all {
		if _, err := list(ctx, it, "smith", int64(raceFirstPrice+i)); err != nil {
			return err
		}
	}
	for b := range raceBuyers {
		if err := addUser(ctx, c, fmt.Sprint("b", b), fmt.Sprint("buyer", b), raceFunds); err != nil {
			return err
		}
	}

	var mu sync.Mutex
	var bought, retries, sold, gaveUp int
	var errs error
	var wg sync.WaitGroup
	start := time.Now()
	for b := range raceBuyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buyer := fmt.Sprint("b", b)
			for {
				cheapest, err := c.ZRangeWithScores(ctx, "market:", 0, 0).Result()
				if err != nil {
					mu.Lock()
					errs = errors.Join(errs, fmt.Errorf("%s: buyer %s reading market:: %w", name, buyer, err))
					mu.Unlock()
					return
				}
				if len(cheapest) == 0 {
					return
				}
				item, seller, _ := strings.Cut(cheapest[0].Member.(string), ".")
				price := int64(cheapest[0].Score)
				p, err := purchase(ctx, buyer, item, seller, price)
				mu.Lock()
				retries += p.Retries
				switch {
				case err == nil:
					bought++
				case errors.Is(err, market.ErrNotListed): // another buyer got there first
					sold++
				case errors.Is(err, market.ErrContention): // WATCH lost every attempt until its deadline
					gaveUp++
				default:
					errs = errors.Join(errs, fmt.Errorf("%s: buyer %s buying %s from %s at %d, after %d retries: %w",
						name, buyer, item, seller, price, p.Retries, err))
				}
				mu.Unlock()
				if err != nil && !errors.Is(err, market.ErrNotListed) && !errors.Is(err, market.ErrContention) {
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if errs != nil {
		return errs
	}

	// Conservation: the seller's takings are the buyers' spending, every item is somewhere once.
	var total, owned int64
	for b := range raceBuyers {
		f, err := c.HGet(ctx, fmt.Sprint("users:b", b), "funds").Int64()
		if err != nil {
			return err
		}
		total += f
		n, err := c.SCard(ctx, fmt.Sprint("inventory:b", b)).Result()
		if err != nil {
			return err
		}
		owned += n
	}
	takings, err := c.HGet(ctx, "users:smith", "funds").Int64()
	if err != nil {
		return err
	}
	total += takings
	if total != raceBuyers*raceFunds || owned != raceItems || bought != raceItems || takings != raceFunds {
		return fmt.Errorf("%s: funds %d (want %d), seller's takings %d (want %d), items owned %d, bought %d (want %d)",
			name, total, raceBuyers*raceFunds, takings, raceFunds, owned, bought, raceItems)
	}
	env.Printf("%-17s %d bought in %v: %d retries (%.1f per purchase), %d found the item sold, %d gave up under contention\n",
		name+":", bought, elapsed.Round(time.Millisecond), retries, float64(retries)/float64(bought), sold, gaveUp)
	env.Printf("%-17s funds conserved (%d), seller took %d, %d items owned\n", "", total, takings, owned)
	return nil
}
