package tokens_test

import (
	"context"
	"testing"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/tokens"
)

// Both functions bind to a registry component with conn's wrappers.
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	reg, _ := conntest.MiniRegistry(t)
	data, c := newMini(t)
	must(t, reg.SetConfig(ctx, "tokens", map[string]any{"host": data.Host(), "port": data.Server().Addr().Port}))

	for _, f := range []updateFunc{tokens.UpdateToken, tokens.UpdateTokenPipeline} {
		if _, err := conn.Wrap3(reg, "tokens", f)(ctx, "tok", "u", "item"); err != nil {
			t.Fatal(err)
		}
	}
	if s := c.ZScore(ctx, "viewed:", "item").Val(); s != -2 {
		t.Errorf("viewed: item = %v; want -2", s)
	}
}
