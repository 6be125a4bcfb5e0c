package conntest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/uniquevisits"
)

// readme:start
func visitAndBuy(ctx context.Context, configs *redis.Client) error {
	reg, err := conn.New(configs, nil) // configs live at config:redis:<component>
	if err != nil {
		return err
	}
	defer reg.Close()

	// Chapter 10: the visit's set is on one of 16 servers (components unique:0 to unique:15).
	visits, err := uniquevisits.New(reg, nil)
	if err != nil {
		return err
	}
	if _, err := visits.CountVisit(ctx, "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2"); err != nil {
		return err
	}

	// Chapter 4: a purchase; every outcome but success is a typed error.
	shop, err := reg.Client(ctx, "market")
	if err != nil {
		return err
	}
	_, err = market.PurchaseItem(ctx, shop, "buyer1", "ItemA", "seller7", 10)
	switch {
	case errors.Is(err, market.ErrNotListed), errors.Is(err, market.ErrInsufficientFunds):
		return err // refused: nothing was written
	case errors.Is(err, market.ErrUnknownOutcome):
		return err // the reply was lost: look at the inventory before trying again
	}
	return err
}

// readme:end

// The README's snippet is this file's code, and it runs.
func TestREADMESnippet(t *testing.T) {
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	code := string(src)
	code = code[strings.Index(code, "// readme:start\n")+len("// readme:start\n") : strings.Index(code, "\n// readme:end")]
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+code+"```\n") {
		t.Fatalf("README.md does not hold the snippet as written in readme_test.go:\n%s", code)
	}

	ctx := t.Context()
	env := conntest.Start(t, nil, append(conntest.Shards("unique", 16), "unique", "market")...)
	shop := env.Client(t, "market")
	shop.HSet(ctx, "users:buyer1", "funds", 25)
	shop.SAdd(ctx, "inventory:seller7", "ItemA")
	if _, err := market.ListItem(ctx, shop, "ItemA", "seller7", 10); err != nil {
		t.Fatal(err)
	}
	if err := visitAndBuy(ctx, env.Config); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if got := shop.SIsMember(ctx, "inventory:buyer1", "ItemA").Val(); !got {
		t.Fatal("the purchase did not move the item")
	}
	if err := visitAndBuy(ctx, env.Config); !errors.Is(err, market.ErrNotListed) {
		t.Fatalf("second run: got %v; want ErrNotListed (the item is sold)", err)
	}
}
