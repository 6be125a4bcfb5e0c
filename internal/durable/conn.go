package durable

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Conn returns a connection of node for a write and its WAIT, after node's pool has settled
// go-redis's maintenance-notification handshake. go-redis 9.23 records a refused handshake (Redis
// before 8 refuses it) in the options a Conn shares with its client, under a lock of the Conn's own:
// Conns dialing at once on a fresh client race on it. One PING through node's pool first makes the
// client record it under its lock, before any Conn of this package dials. Any reply settles it, a
// refusal too (an ACL user without PING): the connection was dialed. The PING's other errors are
// left to the write, which meets the same server. Callers wait for one another's PING only until
// their own ctx ends.
func Conn(ctx context.Context, node *redis.Client) *redis.Conn {
	settle(ctx, node)
	return node.Conn()
}

type settled struct {
	done atomic.Bool
	turn chan struct{} // a lock whose wait ctx can end: one PING at a time
}

// clients holds one entry per live client, dropped when the client is collected.
var clients sync.Map // weak.Pointer[redis.Client] → *settled

func settle(ctx context.Context, node *redis.Client) {
	key := weak.Make(node)
	v, loaded := clients.LoadOrStore(key, &settled{turn: make(chan struct{}, 1)})
	if !loaded {
		runtime.AddCleanup(node, func(k weak.Pointer[redis.Client]) { clients.Delete(k) }, key)
	}
	s := v.(*settled)
	if s.done.Load() {
		return
	}
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return // the write meets ctx's error itself
	}
	defer func() { <-s.turn }()
	if s.done.Load() {
		return
	}
	if err := node.Ping(ctx).Err(); err == nil || noretry.IsErrorReply(err) {
		s.done.Store(true)
	}
}
