package uniquevisits

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
)

// The durable mode (Options.Durable, BitmapOptions.Durable). Each write goes on a connection to the
// node that holds its key, and the WAIT that confirms it on that same connection: a WAIT on another
// connection counts replicas that may lack the write (see internal/durable). A server is confirmed
// only when it was written: a SADD that found its id, a PFADD or SETBIT that changed nothing, wrote
// nothing to wait for.

// routable checks, before any I/O, that the durable mode can reach every client's nodes: each must
// be a *redis.Client or a *redis.ClusterClient (what durable.Node routes), or it is ErrNoNode.
func (wr *writer) routable(cs ...redis.Cmdable) error {
	if wr.w == nil {
		return nil
	}
	for _, c := range cs {
		if _, err := durable.Routable(c); err != nil {
			return fmt.Errorf("uniquevisits: %w", err)
		}
	}
	return nil
}

// writer sends one call's writes. Not durable (w nil), on the given client; durable, on one
// connection per node, each confirmed by confirm. Not safe for concurrent use.
type writer struct {
	w     *durable.Waiter
	conns durable.Conns
}

// writer begins the durable clock when d is on.
func newWriter(d Durability) *writer {
	if !d.On() {
		return &writer{}
	}
	return &writer{w: d.Begin()}
}

// do runs send with c, or, durable, with a connection to key's node, following a moved slot (send
// must write nothing when its command is refused with MOVED or ASK).
func (wr *writer) do(ctx context.Context, c redis.Cmdable, key string, send func(redis.Cmdable) error) error {
	if wr.w == nil {
		return send(c)
	}
	if err := wr.routable(c); err != nil {
		return err
	}
	return wr.conns.OnNode(ctx, c.(redis.UniversalClient), key, func(conn *redis.Conn) error { return send(conn) })
}

// confirm waits for the replicas of every connection written, in parallel: nil, or the joined
// *DurableErrors of those that were not confirmed. It is nil when not durable.
func (wr *writer) confirm(ctx context.Context) error {
	if wr.w == nil {
		return nil
	}
	return wr.conns.Confirm(ctx, wr.w)
}

// close returns the connections to their pools.
func (wr *writer) close() { wr.conns.Close() }

// notDurable is the error of a write that was applied, and err of its confirmation (nil: confirmed).
func notDurable(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("uniquevisits: %s: %w", what, err)
}
