package hostset

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// newRoutingClient returns a go-redis client that never connects anywhere: a hook takes every command
// and pipeline and sends it to the hosts. So the routing client has go-redis's whole command API.
func newRoutingClient(c *core, batch bool) *redis.Client {
	rc := redis.NewClient(&redis.Options{
		Addr:       "hostset-routing-client",
		MaxRetries: -1,
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return nil, noretry.CtxErr(ctx, &UnroutableError{Command: "connection", Reason: "the routing client has no connection of its own " +
				"(WATCH, pub/sub, Conn need one); use the client Hosts.ClientForKey returns"})
		},
		ContextTimeoutEnabled: true,
	})
	rc.AddHook(routingHook{c: c, batch: batch})
	return rc
}

// routingHook sends the routing client's commands to the hosts instead of its own (absent) connection.
type routingHook struct {
	c     *core
	batch bool
}

func (h routingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h routingHook) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.c.run(ctx, []redis.Cmder{cmd}, false)
		return cmd.Err() // go-redis stores what the hook returns as the command's error
	}
}

func (h routingHook) ProcessPipelineHook(redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && strings.EqualFold(cmds[0].Name(), "multi") {
			err := &UnroutableError{Command: "multi", Reason: "a transaction needs one host; use TxPipelined on the client Hosts.ClientForKey returns"}
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		h.c.run(ctx, cmds, h.batch)
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				return err
			}
		}
		return nil
	}
}

// run routes cmds to their hosts and runs one pipeline per host, hosts in parallel. Every command
// ends with its own result or error.
func (c *core) run(ctx context.Context, cmds []redis.Cmder, batch bool) {
	defer ctxErrs(ctx, cmds)
	if c.closed.Load() {
		for _, cmd := range cmds {
			cmd.SetErr(ErrClosed)
		}
		return
	}
	perHost := map[int][]redis.Cmder{}
	var merges []func()
	for _, cmd := range cmds {
		if err := checkArgs(cmd.Args()); err != nil {
			cmd.SetErr(&UnroutableError{Command: commandLabel(cmd.Args()), Reason: "go-redis cannot send an argument", Err: err})
			continue
		}
		if parts, merge, ok := c.split(ctx, cmd); ok {
			for id, sub := range parts {
				perHost[id] = append(perHost[id], sub)
			}
			merges = append(merges, merge)
			continue
		}
		key, err := routeKey(cmd)
		if err == nil {
			var id int
			if id, err = c.hostFor(cmd, key); err == nil {
				perHost[id] = append(perHost[id], cmd)
				continue
			}
		}
		cmd.SetErr(err)
	}
	c.runHosts(ctx, perHost, batch)
	for _, m := range merges {
		m()
	}
}

// ctxErrs makes every failed command's error say that ctx ended, once it has (noretry.CtxErr).
func ctxErrs(ctx context.Context, cmds []redis.Cmder) {
	if !noretry.Ended(ctx) {
		return
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			cmd.SetErr(noretry.CtxErr(ctx, err))
		}
	}
}

// route asks the router for key's host, through CheckedHostForKey when the router has it.
func (c *core) route(key string) (int, error) {
	if cr, ok := c.router.(CheckedRouter); ok {
		return cr.CheckedHostForKey(key)
	}
	return c.router.HostForKey(key), nil
}

// hostFor is the router's host for key, checked: a key the router refuses, or a custom Router's
// answer outside 0..n-1, fails the command instead of indexing past the hosts.
func (c *core) hostFor(cmd redis.Cmder, key string) (int, error) {
	id, err := c.checkedHost(key)
	if err != nil {
		return 0, &UnroutableError{Command: commandLabel(cmd.Args()), Reason: "the router has no host for its key", Err: err}
	}
	return id, nil
}

// checkedHost is route with the answer checked against the hosts.
func (c *core) checkedHost(key string) (int, error) {
	id, err := c.route(key)
	if err != nil {
		return 0, err
	}
	if id < 0 || id >= len(c.hosts) {
		return 0, fmt.Errorf("%w: router sent key %q to host %d (hosts are 0..%d)", ErrNoHost, key, id, len(c.hosts)-1)
	}
	return id, nil
}
