package market_test

import (
	"context"
	"testing"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/market"
)

// Both implementations bind to a registry component with conn's wrappers, the book's
// @redis_connection('market').
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	reg, _ := conntest.MiniRegistry(t)
	data, c := newMini(t)
	must(t, reg.SetConfig(ctx, "market", map[string]any{"addr": data.Addr()}))
	setupStory(t, c)

	for _, m := range []market.Market{newWatch(nil), market.Script{}} {
		list := conn.Wrap3(reg, "market", m.ListItem)
		purchase := conn.Wrap4(reg, "market", m.PurchaseItem)
		_, err := list(ctx, "ItemM", "17", 5)
		must(t, err)
		_, err = purchase(ctx, "27", "ItemM", "17", 5)
		must(t, err)
		must(t, c.SMove(ctx, "inventory:27", "inventory:17", "ItemM").Err())
	}
	// The package functions bind the same way.
	_, err := conn.Wrap3(reg, "market", market.ListItemScript)(ctx, "ItemM", "17", 7)
	must(t, err)
	_, err = conn.Wrap4(reg, "market", market.PurchaseItem)(ctx, "27", "ItemM", "17", 7)
	must(t, err)
	if f := c.HGet(ctx, "users:17", "funds").Val(); f != "60" {
		t.Errorf("Frank's funds = %s; want 43+5+5+7", f)
	}
	_, err = conn.Wrap4(reg, "nomarket", market.PurchaseItem)(ctx, "27", "ItemM", "17", 7)
	wantErr(t, err, conn.ErrNoConfig)
}
