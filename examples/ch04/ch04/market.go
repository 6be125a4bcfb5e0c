package ch04

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/shard"
)

// Market tells the book's marketplace story through the registry: Frank lists, Bill buys, every
// refusal, and buyers racing for the same items with each implementation.
func Market(ctx context.Context, env *tour.Env) error {
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
	if err := addUser(ctx, c, "17", "Frank", 43, "ItemL", "ItemM", "ItemN"); err != nil {
		return err
	}
	if err := addUser(ctx, c, "27", "Bill", 125, "ItemO", "ItemP", "ItemQ"); err != nil {
		return err
	}
	showMarket(ctx, env, c, "17", "27")

	env.Section("4.4.2 list_item: Frank (17) lists ItemM for 97")
	l, err := list(ctx, "ItemM", "17", 97)
	if err != nil {
		return err
	}
	env.Printf("listed %s at %d after %d retries\n", l.Member, l.Price, l.Retries)
	showMarket(ctx, env, c, "17")

	env.Section("4.4.3 purchase_item: Bill (27) buys ItemM from Frank for 97")
	p, err := purchase(ctx, "27", "ItemM", "17", 97)
	if err != nil {
		return err
	}
	env.Printf("bought %s after %d retries\n", p.Item, p.Retries)
	showMarket(ctx, env, c, "17", "27")

	env.Section("every refusal is a typed error, and writes nothing")
	if _, err := list(ctx, "ItemN", "17", 50); err != nil {
		return err
	}
	if err := c.HSet(ctx, "users:99", "name", "Mallory", "funds", "12.5").Err(); err != nil {
		return err
	}
	before, err := dumpMarket(ctx, c)
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
	after, err := dumpMarket(ctx, c)
	if err != nil {
		return err
	}
	env.Printf("data unchanged by the refusals: %v\n", after == before)

	if err := layout(ctx, env, reg, c); err != nil {
		return err
	}

	env.Section(fmt.Sprintf("contention: %d buyers race for the same %d listings", raceBuyers, raceItems))
	env.Printf("WATCH loses the lock whenever market: changes under it and starts over; the script cannot lose.\n")
	watch, err := market.NewWatch(nil)
	if err != nil {
		return err
	}
	for _, v := range []struct {
		name string
		m    market.Market
	}{{"WATCH/MULTI/EXEC", watch}, {"Lua script", market.Script{}}} {
		if err := race(ctx, env, reg, v.name, v.m); err != nil {
			return err
		}
	}
	if !env.Real() {
		env.Printf("(on embedded miniredis the times are not network figures; make bench measures real ones)\n")
	}
	return nil
}

// layout shows the opt-in cluster layout: with a hash tag every key of the market is in one slot,
// so the same code runs on a ClusterClient.
func layout(ctx context.Context, env *tour.Env, reg *conn.Registry, c redis.UniversalClient) error {
	const tag = "market"
	env.Section(`the cluster layout (opt-in): market.NewScript(&market.Options{HashTag: "market"})`)
	env.Printf("the default is the book's layout, shared with its Python code: users:17, inventory:17 and market:\n")
	env.Printf("  are in slots %d, %d and %d, so on a ClusterClient every write is ErrCrossSlot\n",
		shard.Slot("users:17"), shard.Slot("inventory:17"), shard.Slot("market:"))
	tagged, err := market.NewScript(&market.Options{HashTag: tag})
	if err != nil {
		return err
	}
	prefix := "{" + tag + "}"
	if err := addUserAt(ctx, c, prefix, "17", "Frank", 43, "ItemL", "ItemM", "ItemN"); err != nil {
		return err
	}
	if err := addUserAt(ctx, c, prefix, "27", "Bill", 125); err != nil {
		return err
	}
	list := conn.Wrap3(reg, "market", tagged.ListItem)
	purchase := conn.Wrap4(reg, "market", tagged.PurchaseItem)
	for _, l := range []struct {
		item  string
		price int64
	}{{"ItemL", 30}, {"ItemM", 40}} {
		if _, err := list(ctx, l.item, "17", l.price); err != nil {
			return err
		}
	}
	if _, err := purchase(ctx, "27", "ItemL", "17", 30); err != nil {
		return err
	}
	env.Printf("Frank (17) lists ItemL for 30 and ItemM for 40, Bill (27) buys ItemL; the keys, with shard.Slot:\n")
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		return err
	}
	slices.Sort(keys)
	var slots []int
	for _, k := range keys {
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			return err
		}
		if !slices.Contains(slots, shard.Slot(k)) {
			slots = append(slots, shard.Slot(k))
		}
		env.Printf("  %-20s %-4s slot %d\n", k, strings.ToUpper(typ), shard.Slot(k))
	}
	bill, err := tagged.User(ctx, c, "27")
	if err != nil {
		return err
	}
	env.Printf("%d keys, every one starting with %q, in slots %v; Bill: funds %d, inventory %v\n", len(keys), prefix, slots, bill.Funds, bill.Inventory)
	return nil
}

// addUser writes users:<id> and inventory:<id>.
func addUser(ctx context.Context, c redis.Cmdable, id, name string, funds int64, items ...string) error {
	return addUserAt(ctx, c, "", id, name, funds, items...)
}

// addUserAt is addUser with every key starting with prefix (a hash tag's "{t}").
func addUserAt(ctx context.Context, c redis.Cmdable, prefix, id, name string, funds int64, items ...string) error {
	if err := c.HSet(ctx, prefix+"users:"+id, "name", name, "funds", funds).Err(); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	return c.SAdd(ctx, prefix+"inventory:"+id, items).Err()
}

// showMarket prints users, inventories and the market.
func showMarket(ctx context.Context, env *tour.Env, c redis.Cmdable, ids ...string) {
	for _, id := range ids {
		u := c.HGetAll(ctx, "users:"+id).Val()
		env.Printf("users:%s %-6s funds %-4s inventory:%s %v\n", id, u["name"], u["funds"], id, members(ctx, c, "inventory:"+id))
	}
	env.Printf("market: %v\n", c.ZRangeWithScores(ctx, "market:", 0, -1).Val())
}

// members is SMEMBERS sorted: Redis 7.0 keeps a small SET of strings in a hash table, in no order.
func members(ctx context.Context, c redis.Cmdable, key string) []string {
	m := c.SMembers(ctx, key).Val()
	slices.Sort(m)
	return m
}

// dumpMarket is the market's data in a comparable form.
func dumpMarket(ctx context.Context, c redis.Cmdable) (string, error) {
	var b strings.Builder
	for _, id := range []string{"17", "27", "99"} {
		fmt.Fprint(&b, c.HGetAll(ctx, "users:"+id).Val(), members(ctx, c, "inventory:"+id))
	}
	zs, err := c.ZRangeWithScores(ctx, "market:", 0, -1).Result()
	fmt.Fprint(&b, zs)
	return b.String(), err
}
