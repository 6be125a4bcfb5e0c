package conntest_test

import (
	"errors"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn/conntest"
)

// MiniClient's client reaches its server, never retries, and is closed when the test ends.
func TestMiniClient(t *testing.T) {
	var c *redis.Client
	t.Run("client", func(t *testing.T) {
		var m *miniredis.Miniredis
		m, c = conntest.MiniClient(t)
		if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := m.Get("k"); err != nil || got != "v" {
			t.Errorf("server has k = %q, %v; want v", got, err)
		}
		// go-redis stores MaxRetries -1 (no retries) as 0.
		if o := c.Options(); o.MaxRetries != 0 || !o.ContextTimeoutEnabled {
			t.Errorf("MaxRetries %d, ContextTimeoutEnabled %v; want 0 (none), true", o.MaxRetries, o.ContextTimeoutEnabled)
		}
	})
	if err := c.Ping(t.Context()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("PING after the test that made the client: %v; want redis.ErrClosed", err)
	}
}
