package tokens_test

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/tokens"
)

// Both functions bind to a registry component with conn's wrappers.
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	configs := miniredis.RunT(t)
	cc := redis.NewClient(&redis.Options{Addr: configs.Addr()})
	defer cc.Close()
	reg, err := conn.New(cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
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
