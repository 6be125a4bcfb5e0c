package chapters

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/market"
)

func init() {
	Register(Chapter{Name: "ch04", Order: 4, Title: "4.4 Transactions: the marketplace (WATCH/MULTI/EXEC, and one Lua script)", Run: marketRun})
}

// marketRun tells the book's marketplace story through the registry: Frank lists, Bill buys, every
// refusal, and buyers racing for the same items with each implementation.
func marketRun(ctx context.Context, env *Env) error {
	reg := env.Registry
	cfg, err := env.Server(ctx)
	if err != nil {
		return err
	}
	if err := reg.SetConfig(ctx, "market", cfg); err != nil {
		return err
	}
	// The domain functions, each bound to the "market" component (the book's @redis_connection).
	list := conn.Wrap3(reg, "market", market.ListItem)
	purchase := conn.Wrap4(reg, "market", market.PurchaseItem)
	// Held for the whole story (Acquire, not Client): a config change meanwhile cannot close it.
	c, release, err := reg.Acquire(ctx, "market")
	if err != nil {
		return err
	}
	defer release()

	env.Section("4.4.1 users (HASH users:<id>) and their inventories (SET inventory:<id>)")
	if err := marketUser(ctx, c, "17", "Frank", 43, "ItemL", "ItemM", "ItemN"); err != nil {
		return err
	}
	if err := marketUser(ctx, c, "27", "Bill", 125, "ItemO", "ItemP", "ItemQ"); err != nil {
		return err
	}
	marketShow(ctx, env, c, "17", "27")

	env.Section("4.4.2 list_item: Frank (17) lists ItemM for 97")
	l, err := list(ctx, "ItemM", "17", 97)
	if err != nil {
		return err
	}
	env.Printf("listed %s at %d after %d retries\n", l.Member, l.Price, l.Retries)
	marketShow(ctx, env, c, "17")

	env.Section("4.4.3 purchase_item: Bill (27) buys ItemM from Frank for 97")
	p, err := purchase(ctx, "27", "ItemM", "17", 97)
	if err != nil {
		return err
	}
	env.Printf("bought %s after %d retries\n", p.Item, p.Retries)
	marketShow(ctx, env, c, "17", "27")

	env.Section("every refusal is a typed error, and writes nothing")
	if _, err := list(ctx, "ItemN", "17", 50); err != nil {
		return err
	}
	if err := c.HSet(ctx, "users:99", "name", "Mallory", "funds", "12.5").Err(); err != nil {
		return err
	}
	before, err := marketDump(ctx, c)
	if err != nil {
		return err
	}
	refusals := []struct {
		what string
		want error
		err  func() error
	}{
		{"Frank lists ItemX he does not own", market.ErrNotInInventory, func() error { _, err := list(ctx, "ItemX", "17", 10); return err }},
		{"Bill buys ItemM again", market.ErrNotListed, func() error { _, err := purchase(ctx, "27", "ItemM", "17", 97); return err }},
		{"Bill offers 45 for ItemN listed at 50", market.ErrPriceChanged, func() error { _, err := purchase(ctx, "27", "ItemN", "17", 45); return err }},
		{"Bill (28 left) buys ItemN at 50", market.ErrInsufficientFunds, func() error { _, err := purchase(ctx, "27", "ItemN", "17", 50); return err }},
		{"Mallory's funds are \"12.5\"", market.ErrBadFunds, func() error { _, err := purchase(ctx, "99", "ItemN", "17", 50); return err }},
		{"Frank lists ItemL for 0", market.ErrInvalidPrice, func() error { _, err := list(ctx, "ItemL", "17", 0); return err }},
		{"an item id with a dot", market.ErrInvalidID, func() error { _, err := list(ctx, "Item.L", "17", 5); return err }},
	}
	for _, r := range refusals {
		err := r.err()
		if !errors.Is(err, r.want) {
			return fmt.Errorf("%s: got %v, want %v", r.what, err, r.want)
		}
		env.Printf("%-40s -> %v\n", r.what, err)
	}
	after, err := marketDump(ctx, c)
	if err != nil {
		return err
	}
	env.Printf("data unchanged by the refusals: %v\n", after == before)

	env.Section(fmt.Sprintf("contention: %d buyers race for the same %d listings", marketBuyers, marketItems))
	env.Printf("WATCH loses the lock whenever market: changes under it and starts over; the script cannot lose.\n")
	for _, v := range []struct {
		name string
		m    market.Market
	}{{"WATCH/MULTI/EXEC", market.NewWatch(nil)}, {"Lua script", market.Script{}}} {
		if err := marketRace(ctx, env, reg, v.name, v.m); err != nil {
			return err
		}
	}
	if !env.Real() {
		env.Printf("(on embedded miniredis the times are not network figures; go run ./benchmarks measures real ones)\n")
	}
	return nil
}

// The race: one seller lists marketItems items priced marketFirstPrice, marketFirstPrice+1, ...; each
// of marketBuyers buyers has the funds to buy them all, so no purchase can fail for want of money.
const (
	marketBuyers     = 8
	marketItems      = 40
	marketFirstPrice = 10
	marketFunds      = marketItems * (2*marketFirstPrice + marketItems - 1) / 2 // every price, summed
)

// marketRace lists the items, then each buyer buys the cheapest listing until none is left, and
// checks that money and items are conserved.
func marketRace(ctx context.Context, env *Env, reg *conn.Registry, name string, m market.Market) error {
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
	for i := range marketItems {
		all = append(all, fmt.Sprintf("Sword%02d", i))
	}
	if err := marketUser(ctx, c, "smith", "Smith", 0, all...); err != nil {
		return err
	}
	for i, it := range all {
		if _, err := list(ctx, it, "smith", int64(marketFirstPrice+i)); err != nil {
			return err
		}
	}
	for b := range marketBuyers {
		if err := marketUser(ctx, c, fmt.Sprint("b", b), fmt.Sprint("buyer", b), marketFunds); err != nil {
			return err
		}
	}

	var mu sync.Mutex
	var bought, retries, sold, gaveUp int
	var errs error
	var wg sync.WaitGroup
	start := time.Now()
	for b := range marketBuyers {
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
	for b := range marketBuyers {
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
	if total != marketBuyers*marketFunds || owned != marketItems || bought != marketItems || takings != marketFunds {
		return fmt.Errorf("%s: funds %d (want %d), seller's takings %d (want %d), items owned %d, bought %d (want %d)",
			name, total, marketBuyers*marketFunds, takings, marketFunds, owned, bought, marketItems)
	}
	env.Printf("%-17s %d bought in %v: %d retries (%.1f per purchase), %d found the item sold, %d gave up under contention\n",
		name+":", bought, elapsed.Round(time.Millisecond), retries, float64(retries)/float64(bought), sold, gaveUp)
	env.Printf("%-17s funds conserved (%d), seller took %d, %d items owned\n", "", total, takings, owned)
	return nil
}

// marketUser writes users:<id> and inventory:<id>.
func marketUser(ctx context.Context, c redis.Cmdable, id, name string, funds int64, items ...string) error {
	if err := c.HSet(ctx, "users:"+id, "name", name, "funds", funds).Err(); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	return c.SAdd(ctx, "inventory:"+id, items).Err()
}

// marketShow prints users, inventories and the market.
func marketShow(ctx context.Context, env *Env, c redis.Cmdable, ids ...string) {
	for _, id := range ids {
		u := c.HGetAll(ctx, "users:"+id).Val()
		env.Printf("users:%s %-6s funds %-4s inventory:%s %v\n", id, u["name"], u["funds"], id, c.SMembers(ctx, "inventory:"+id).Val())
	}
	env.Printf("market: %v\n", c.ZRangeWithScores(ctx, "market:", 0, -1).Val())
}

// marketDump is the market's data in a comparable form.
func marketDump(ctx context.Context, c redis.Cmdable) (string, error) {
	var b strings.Builder
	for _, id := range []string{"17", "27", "99"} {
		fmt.Fprint(&b, c.HGetAll(ctx, "users:"+id).Val(), c.SMembers(ctx, "inventory:"+id).Val())
	}
	zs, err := c.ZRangeWithScores(ctx, "market:", 0, -1).Result()
	fmt.Fprint(&b, zs)
	return b.String(), err
}
