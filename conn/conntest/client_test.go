package conntest_test

import (
	"errors"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
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

// MiniRegistry stores configs on its server, and closes the registry when the test ends.
func TestMiniRegistry(t *testing.T) {
	var reg *conn.Registry
	t.Run("registry", func(t *testing.T) {
		var cfg *miniredis.Miniredis
		reg, cfg = conntest.MiniRegistry(t)
		data := miniredis.RunT(t)
		if err := reg.SetConfig(t.Context(), "app", map[string]any{"addr": data.Addr()}); err != nil {
			t.Fatal(err)
		}
		if keys := cfg.Keys(); len(keys) != 1 || keys[0] != "config:redis:app" {
			t.Errorf("config server keys %q; want [config:redis:app]", keys)
		}
		c, err := reg.Client(t.Context(), "app")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, _ := data.Get("k"); got != "v" {
			t.Errorf("data server k = %q; want v", got)
		}
	})
	if _, err := reg.Client(t.Context(), "app"); err == nil {
		t.Error("Client on the registry after its test ended succeeded; want it closed")
	}
}
