package conn_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// The registry's clients get its PoolSize where their config sets none, the config's own otherwise;
// -1 leaves go-redis's default, and other negatives are refused.
func TestRegistryPoolSize(t *testing.T) {
	ctx := context.Background()
	srv := redistest.RunT(t, nil)
	for _, tc := range []struct {
		name         string
		opt          *conn.Options
		cfg          map[string]any
		want, stored int // the client's pool; the config's, as Config returns it
	}{
		{"default", nil, nil, max(128, 10*runtime.GOMAXPROCS(0)), 0},
		{"the config's own", nil, map[string]any{"pool_size": 7}, 7, 7},
		{"the registry's", &conn.Options{PoolSize: 33}, nil, 33, 0},
		{"the config's over the registry's", &conn.Options{PoolSize: 33}, map[string]any{"max_connections": 5}, 5, 5},
		{"go-redis's", &conn.Options{PoolSize: -1}, nil, 10 * runtime.GOMAXPROCS(0), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := conn.New(srv.Client(t), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			cfg := map[string]any{"host": "127.0.0.1", "port": srv.Port()}
			for k, v := range tc.cfg {
				cfg[k] = v
			}
			if err := reg.SetConfig(ctx, "c", cfg); err != nil {
				t.Fatal(err)
			}
			c, err := reg.Client(ctx, "c")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.(*redis.Client).Options().PoolSize; got != tc.want {
				t.Errorf("PoolSize %d; want %d", got, tc.want)
			}
			if got := reg.Config("c").PoolSize; got != tc.stored {
				t.Errorf("Config().PoolSize %d; want the stored config's %d", got, tc.stored)
			}
		})
	}
	_, err := conn.New(srv.Client(t), &conn.Options{PoolSize: -2})
	var oe *conn.OptionError
	if !errors.Is(err, conn.ErrBadOption) || !errors.As(err, &oe) || oe.Field != "PoolSize" {
		t.Fatalf("PoolSize -2: %v; want an *OptionError naming PoolSize", err)
	}
}
