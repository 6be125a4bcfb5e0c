package durable

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/redis/go-redis/v9"
)

// Conn returns a connection of node for a write and its WAIT, after node's pool has settled
// go-redis's maintenance-notification handshake. go-redis 9.23 records a refused handshake (Redis
// before 8 refuses it) in the options a Conn shares with its client, under a lock of the Conn's own:
// Conns dialing at once on a fresh client race on it. One PING through node's pool first makes the
// client record it under its lock, before any Conn of this package dials. The PING's error is left to
// the write, which meets the same server.
func Conn(ctx context.Context, node *redis.Client) *redis.Conn {
	settle(ctx, node)
	return node.Conn()
}

type settled struct {
	done atomic.Bool
	mu   sync.Mutex
}

// clients holds one entry per live client, dropped when the client is collected.
var clients sync.Map // weak.Pointer[redis.Client] → *settled

func settle(ctx context.Context, node *redis.Client) {
	key := weak.Make(node)
	v, loaded := clients.LoadOrStore(key, new(settled))
	if !loaded {
		runtime.AddCleanup(node, func(k weak.Pointer[redis.Client]) { clients.Delete(k) }, key)
	}
	s := v.(*settled)
	if s.done.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done.Load() && node.Ping(ctx).Err() == nil {
		s.done.Store(true)
	}
}
