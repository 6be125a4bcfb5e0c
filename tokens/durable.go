package tokens

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
)

// The durable mode (Options.Durable). A write and the WAIT that confirms it share one connection to
// the node holding the write's key: a WAIT on any other connection counts replicas that may lack the
// write (see internal/durable).

// nodeClient is c as a client that gives a connection per node, or ErrNoNode.
func nodeClient(c redis.Cmdable) (redis.UniversalClient, error) {
	uc, err := durable.Routable(c)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return uc, nil
}

// updateTokenDurable is UpdateToken on one connection per node, then a WAIT on each, in parallel. A
// command refused with MOVED or ASK did not run: it goes again to its slot's master.
func (u *Updater) updateTokenDurable(ctx context.Context, c redis.Cmdable, up Update) (Update, error) {
	uc, err := nodeClient(c)
	if err != nil {
		return up, err
	}
	w := u.opt.Durable.Begin()
	var conns durable.Conns
	defer conns.Close()
	for _, f := range u.commands(up.Token, up.User, up.Item, up.Timestamp) {
		up.Commands++
		up.RoundTrips++
		name := "the node of " + f.key
		err := conns.OnNode(ctx, uc, f.key, func(conn *redis.Conn) error {
			cmd := f.send(ctx, conn)
			name = cmd.Name()
			return cmd.Err()
		})
		if err != nil {
			return up, commandError(name, up.Commands-1, err)
		}
	}
	up.RoundTrips++ // the WAITs
	return up, notDurable(conns.Confirm(ctx, w))
}

func notDurable(err error) error {
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	return nil
}

// updateTokenPipelineDurable is UpdateTokenPipeline with a WAIT as the last command of each pipeline.
// On a single server that is one pipeline on one connection. On a Redis Cluster it is one pipeline
// per key (a ZADD and its ZREMRANGEBYRANK together), in parallel, each on a connection to its slot's
// master; a pipeline refused whole with MOVED ran nothing, and goes again to the new master, and one
// refused whole with ASK (the slot migrating) goes command by command to the importing master.
func (u *Updater) updateTokenPipelineDurable(ctx context.Context, c redis.Cmdable, up Update) (Update, error) {
	uc, err := nodeClient(c)
	if err != nil {
		return up, err
	}
	cmds := u.commands(up.Token, up.User, up.Item, up.Timestamp)
	up.Commands, up.RoundTrips = len(cmds), 1
	groups := [][]command{cmds}
	if _, ok := uc.(*redis.ClusterClient); ok {
		groups = groups[:0]
		for _, f := range cmds { // a key's commands are adjacent
			if n := len(groups); n > 0 && groups[n-1][0].key == f.key {
				groups[n-1] = append(groups[n-1], f)
			} else {
				groups = append(groups, []command{f})
			}
		}
	}
	type result struct {
		cmds       []redis.Cmder
		err        error // the node's, or the redirect that was not followed
		notDurable error
	}
	w := u.opt.Durable.Begin()
	res := make([]result, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() {
			r := &res[i]
			r.err = durable.OnNode(ctx, uc, g[0].key, func(node *redis.Client) error {
				conn := durable.Conn(ctx, node)
				defer conn.Close()
				var first *redis.Cmd
				r.cmds = make([]redis.Cmder, len(g))
				_, _ = conn.Pipelined(ctx, func(p redis.Pipeliner) error {
					for k, f := range g {
						r.cmds[k] = f.send(ctx, p)
					}
					first = w.Queue(ctx, p)
					return nil
				})
				for _, cmd := range r.cmds {
					if err := cmd.Err(); err != nil {
						if allRedirected(r.cmds) {
							return err
						}
						return nil // pipelineError says which
					}
				}
				r.notDurable = w.ConfirmOn(ctx, node, conn, first)
				return nil
			})
		})
	}
	wg.Wait()
	// A group an ASK refused whole (its key moved, its slot still migrating) ran nothing: its
	// commands go one by one to the importing master after ASKING, as UpdateToken's do.
	for i, g := range groups {
		if r := &res[i]; r.cmds != nil && allRedirected(r.cmds) && isAsk(r.err) {
			r.cmds, r.err, r.notDurable = sendAsked(ctx, uc, g, w)
		}
	}
	var sent []redis.Cmder
	var first error
	errs := make([]error, len(res))
	for i, r := range res {
		sent = append(sent, r.cmds...)
		for _, cmd := range r.cmds {
			if first == nil {
				first = cmd.Err()
			}
		}
		if first == nil {
			first = r.err
		}
		errs[i] = r.notDurable
	}
	if first != nil {
		return up, pipelineError(sent, len(cmds), first)
	}
	return up, notDurable(errors.Join(errs...))
}

func isAsk(err error) bool {
	_, ok := redis.IsAskError(err)
	return ok
}

// sendAsked sends g's commands one by one, each on a connection to its key's node, following an ASK
// (durable.Conns.OnNode), and confirms them with one WAIT per connection. It returns the commands
// sent, the error that stopped them, and the confirmation's.
func sendAsked(ctx context.Context, uc redis.UniversalClient, g []command, w *durable.Waiter) (cmds []redis.Cmder, err, notDurable error) {
	var conns durable.Conns
	defer conns.Close()
	for _, f := range g {
		var cmd redis.Cmder
		err := conns.OnNode(ctx, uc, f.key, func(conn *redis.Conn) error {
			cmd = f.send(ctx, conn)
			return cmd.Err()
		})
		if cmd != nil {
			cmds = append(cmds, cmd)
		}
		if err != nil {
			return cmds, err, nil
		}
	}
	return cmds, nil, conns.Confirm(ctx, w)
}

// allRedirected reports whether every command was refused with MOVED or ASK: none of them ran.
func allRedirected(cmds []redis.Cmder) bool {
	for _, cmd := range cmds {
		if !noretry.IsRedirect(cmd.Err()) {
			return false
		}
	}
	return true
}
