package durable

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Routable returns c as a client that Node can route, or ErrNoNode: check it before any write, so a
// client that cannot carry a write and its WAIT together (a pipeline, a *redis.Ring) sends nothing.
func Routable(c redis.Cmdable) (redis.UniversalClient, error) {
	switch c := c.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c, nil
	}
	return nil, fmt.Errorf("%w, not %T", ErrNoNode, c)
}

// Conns are the connections one call wrote on, one per node, so that each node's writes are
// confirmed by a WAIT on their own connection. The zero value is ready. Not safe for concurrent
// use; Close returns the connections to their pools.
type Conns struct {
	byNode map[*redis.Client]*redis.Conn
	used   []nodeConn // in order of first use, so errors come in the order of the writes
}

type nodeConn struct {
	node *redis.Client
	conn *redis.Conn
}

// OnNode runs fn on the connection to key's node of c (Node), taken from the node's pool on its first
// use and kept for Confirm. fn sends one command, and must write nothing when it is refused with
// MOVED or ASK. Like the package's OnNode it follows a moved slot; an ASK (the key has moved, its
// slot is still migrating) it follows at once: ASKING, then fn again, on a connection to the
// importing master, whose WAIT then confirms the write.
func (cs *Conns) OnNode(ctx context.Context, c redis.UniversalClient, key string, fn func(conn *redis.Conn) error) error {
	var ask error
	err := OnNode(ctx, c, key, func(node *redis.Client) error {
		ask = nil
		err := fn(cs.conn(ctx, node))
		if _, ok := redis.IsAskError(err); ok && noretry.IsRedirect(err) {
			ask = err
			return nil // followed below, not waited out
		}
		return err
	})
	if err != nil || ask == nil {
		return err
	}
	node := askNode(ctx, c, ask)
	if node == nil {
		return ask
	}
	conn := cs.conn(ctx, node)
	if err := conn.Process(ctx, redis.NewStatusCmd(ctx, "asking")); err != nil {
		return ask // the write was not sent
	}
	return fn(conn)
}

func (cs *Conns) conn(ctx context.Context, node *redis.Client) *redis.Conn {
	conn, ok := cs.byNode[node]
	if !ok {
		if cs.byNode == nil {
			cs.byNode = map[*redis.Client]*redis.Conn{}
		}
		conn = Conn(ctx, node)
		cs.byNode[node] = conn
		cs.used = append(cs.used, nodeConn{node, conn})
	}
	return conn
}

// askNode is the master an ASK reply names, among c's masters; nil if c is no cluster client or
// knows no such master.
func askNode(ctx context.Context, c redis.UniversalClient, ask error) *redis.Client {
	cc, ok := c.(*redis.ClusterClient)
	addr, isAsk := redis.IsAskError(ask)
	if !ok || !isAsk {
		return nil
	}
	var mu sync.Mutex
	var found *redis.Client
	_ = cc.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
		if m.Options().Addr == addr {
			mu.Lock()
			found = m
			mu.Unlock()
		}
		return nil
	})
	return found
}

// Confirm waits for w's replicas on every connection, in parallel (the nodes' replicas are
// independent, so one slow node does not delay the others' verdicts): nil when all confirmed, else
// the errors.Join of one *Error per node not confirmed, naming the node (ConfirmOn).
func (cs *Conns) Confirm(ctx context.Context, w *Waiter) error {
	errs := make([]error, len(cs.used))
	var wg sync.WaitGroup
	for i, nc := range cs.used {
		wg.Go(func() { errs[i] = w.ConfirmOn(ctx, nc.node, nc.conn, w.Queue(ctx, nc.conn)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ConfirmOn is Confirm for a write on node (conn is one of its connections): an *Error names the
// node's address, so a caller that wrote on several nodes can tell which did not confirm.
func (w *Waiter) ConfirmOn(ctx context.Context, node *redis.Client, conn Doer, first *redis.Cmd) error {
	err := w.Confirm(ctx, conn, first)
	if e, ok := err.(*Error); ok {
		e.Node = node.Options().Addr
	}
	return err
}

// Close returns the connections to their pools.
func (cs *Conns) Close() {
	for _, nc := range cs.used {
		nc.conn.Close()
	}
	cs.byNode, cs.used = nil, nil
}
