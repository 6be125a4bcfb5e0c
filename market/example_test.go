package market_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
)

// exampleClient returns a client of a fresh miniredis holding the book's Frank (17) and Bill (27).
func exampleClient() (*redis.Client, func()) {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		panic(err)
	}
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	ctx := context.Background()
	c.HSet(ctx, "users:17", "name", "Frank", "funds", 43)
	c.SAdd(ctx, "inventory:17", "ItemL", "ItemM", "ItemN")
	c.HSet(ctx, "users:27", "name", "Bill", "funds", 125)
	c.SAdd(ctx, "inventory:27", "ItemO", "ItemP", "ItemQ")
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

	for _, m := range []market.Market{market.NewWatch(&market.Options{PurchaseTimeout: time.Second}), market.Script{}} {
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
