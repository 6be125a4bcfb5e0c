package conntest

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

// MiniClient starts a miniredis server and returns it with a client on it; both are closed when the
// test ends. The client has the settings of clients made by conn: ContextTimeoutEnabled, so ctx
// bounds every call, and no retries, so a command is never applied twice behind the test's back.
func MiniClient(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return m, c
}

// MiniRegistry returns a conn.Registry whose configs are stored on a fresh miniredis server, and that
// server; both are closed when the test ends.
func MiniRegistry(t testing.TB) (*conn.Registry, *miniredis.Miniredis) {
	t.Helper()
	m, c := MiniClient(t)
	reg, err := conn.New(c, nil)
	if err != nil {
		t.Fatalf("conntest: registry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg, m
}
