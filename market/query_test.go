package market_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/ria-go/ria/market"
)

// The book's story (4.4): Frank (17) lists ItemM at 97; Bill (27) looks, then buys it.
func TestQueryBookStory(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	c.HSet(ctx, "users:17", "name", "Frank", "funds", 43)
	c.SAdd(ctx, "inventory:17", "ItemL", "ItemM", "ItemN")
	c.HSet(ctx, "users:27", "name", "Bill", "funds", 125)
	c.SAdd(ctx, "inventory:27", "ItemO", "ItemP", "ItemQ")
	if _, err := market.ListItemScript(ctx, c, "ItemM", "17", 97); err != nil {
		t.Fatal(err)
	}
	ls, err := market.Cheapest(ctx, c, 10)
	want := []market.Listing{{Item: "ItemM", Seller: "17", Price: 97, Member: "ItemM.17"}}
	if err != nil || !slices.Equal(ls, want) {
		t.Fatalf("Cheapest = %+v, %v; want %+v", ls, err, want)
	}
	if _, err := market.PurchaseItemScript(ctx, c, "27", "ItemM", "17", 97); err != nil {
		t.Fatal(err)
	}
	u, err := market.User(ctx, c, "27")
	if err != nil || u.Name != "Bill" || u.Funds != 28 || !slices.Equal(u.Inventory, []string{"ItemM", "ItemO", "ItemP", "ItemQ"}) {
		t.Fatalf("User(27) = %+v, %v; want Bill, 28, ItemM ItemO ItemP ItemQ", u, err)
	}
	u, err = market.User(ctx, c, "17")
	if err != nil || u.Funds != 140 || !slices.Equal(u.Inventory, []string{"ItemL", "ItemN"}) {
		t.Fatalf("User(17) = %+v, %v; want funds 140, ItemL ItemN", u, err)
	}
}

// Property: after random listings made by the market's own functions, Cheapest(n) is the first n
// of every listing sorted by price then member, and User reports what the writes left.
func TestQueryCheapestProperty(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	for round := 0; round < 20; round++ {
		m, c := newMini(t)
		var all []market.Listing
		inv := map[string][]string{}
		for i := 0; i < 1+rng.IntN(60); i++ {
			seller := strconv.Itoa(rng.IntN(5))
			item := fmt.Sprintf("item%d", rng.IntN(1000))
			c.SAdd(ctx, "inventory:"+seller, item)
			price := int64(1 + rng.IntN(50))
			if rng.IntN(30) == 0 {
				price = market.MaxPrice
			}
			l, err := market.ListItemScript(ctx, c, item, seller, price)
			if errors.Is(err, market.ErrAlreadyListed) {
				inv[seller] = append(inv[seller], item) // still in the inventory: a second copy
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, market.Listing{Item: item, Seller: seller, Price: price, Member: l.Member})
		}
		slices.SortFunc(all, func(a, b market.Listing) int {
			if a.Price != b.Price {
				return int(a.Price - b.Price)
			}
			return compareStrings(a.Member, b.Member)
		})
		for _, n := range []int{1, 3, len(all), len(all) + 5} {
			if n < 1 {
				continue
			}
			got, err := market.Cheapest(ctx, c, n)
			if err != nil {
				t.Fatal(err)
			}
			if want := all[:min(n, len(all))]; !slices.Equal(got, want) {
				t.Fatalf("round %d: Cheapest(%d) = %+v; want %+v", round, n, got, want)
			}
		}
		for seller := range 5 {
			id := strconv.Itoa(seller)
			u, err := market.User(ctx, c, id)
			members, _ := m.Members("inventory:" + id)
			if len(members) == 0 && !m.Exists("users:"+id) {
				if !errors.Is(err, market.ErrNoUser) {
					t.Fatalf("User(%s) with no keys: %v; want ErrNoUser", id, err)
				}
				continue
			}
			slices.Sort(members)
			if err != nil || !slices.Equal(u.Inventory, members) {
				t.Fatalf("User(%s) = %+v, %v; want inventory %v", id, u, err, members)
			}
		}
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestQueryBadInputAndData(t *testing.T) {
	ctx := context.Background()
	m, c := newMini(t)
	for _, n := range []int{0, -1, market.MaxCheapest + 1} {
		if _, err := market.Cheapest(ctx, c, n); !errors.Is(err, market.ErrBadLimit) {
			t.Errorf("Cheapest(%d): %v; want ErrBadLimit", n, err)
		}
	}
	for _, id := range []string{"", "a.b"} {
		if _, err := market.User(ctx, c, id); !errors.Is(err, market.ErrInvalidID) {
			t.Errorf("User(%q): %v; want ErrInvalidID", id, err)
		}
	}
	if _, err := market.User(ctx, c, "nobody"); !errors.Is(err, market.ErrNoUser) {
		t.Errorf("User(nobody): %v; want ErrNoUser", err)
	}
	m.HSet("users:9", "funds", "007")
	if u, err := market.User(ctx, c, "9"); !errors.Is(err, market.ErrBadFunds) || u.ID != "9" {
		t.Errorf("User(9) with funds 007: %+v, %v; want ErrBadFunds", u, err)
	}
	for _, tc := range []struct {
		member string
		score  float64
	}{{"nodot", 5}, {".seller", 5}, {"item.", 5}, {"a.b", 2.5}, {"a.b", 0}, {"a.b", market.MaxPrice * 2}} {
		m.FlushAll()
		m.ZAdd("market:", tc.score, tc.member)
		if _, err := market.Cheapest(ctx, c, 5); !errors.Is(err, market.ErrBadListing) {
			t.Errorf("member %q score %v: %v; want ErrBadListing", tc.member, tc.score, err)
		}
	}
	// Several dots: ids never hold one, so the seller follows the last.
	m.FlushAll()
	m.ZAdd("market:", 3, "a.b.c")
	if ls, err := market.Cheapest(ctx, c, 1); err != nil || ls[0].Item != "a.b" || ls[0].Seller != "c" {
		t.Errorf("a.b.c: %+v, %v", ls, err)
	}
	// A key of another type is the server's error, not a panic.
	m.FlushAll()
	m.Set("market:", "x")
	if _, err := market.Cheapest(ctx, c, 1); err == nil {
		t.Error("market: a STRING: no error")
	}
}

func TestQueryEndedContext(t *testing.T) {
	_, c := newMini(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := market.Cheapest(ctx, c, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Cheapest: %v; want context.Canceled", err)
	}
	if _, err := market.User(ctx, c, "1"); !errors.Is(err, context.Canceled) {
		t.Errorf("User: %v; want context.Canceled", err)
	}
}
