package hostset

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Map runs fn's commands in parallel, rb's map(): fn queues commands on p, a pipeline of the routing
// client; when fn returns, the commands are grouped by host and each host gets one pipeline (with
// auto-batching unless switched off), at most MaxConcurrency hosts at a time, all bounded by ctx. Read
// each command's result after Map returns: go-redis's Cmd values are rb's promises.
//
// Map's error reports what went wrong beyond single commands: each host that failed (a *HostError,
// once per host), and commands that could not be routed (wrapping ErrUnroutable). A command's own
// reply errors (redis.Nil for a missing key, WRONGTYPE) are only on the command. The commands of
// hosts that answered have their results whatever happened to the other hosts. Once ctx has ended,
// Map's error and every failed command's error wrap ctx.Err().
func (hs *Hosts) Map(ctx context.Context, fn func(p redis.Pipeliner) error) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	ended := ctx.Err()
	p := hs.Routing().Pipeline()
	if err := fn(p); err != nil {
		return err
	}
	cmds, _ := p.Exec(ctx)
	if err := collect(cmds); err != nil {
		return err
	}
	return ended
}

// collect returns the distinct host and routing errors among cmds.
func collect(cmds []redis.Cmder) error {
	var errs []error
	seenHost := map[int]bool{}
	for _, cmd := range cmds {
		err := cmd.Err()
		if err == nil {
			continue
		}
		var he *HostError
		var ue *UnroutableError
		switch {
		case errors.As(err, &he):
			if !seenHost[he.Host] {
				seenHost[he.Host] = true
				errs = append(errs, he)
			}
		case errors.As(err, &ue):
			errs = append(errs, err)
		case noretry.Transport(err): // e.g. an argument go-redis cannot send
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Fanout sends commands to each host in hosts (rb's fanout): fn is called once per host, in the
// order given, to queue that host's commands on p; then every host runs its pipeline, in parallel
// (auto-batching applies). fn can keep each host's Cmd values, keyed by host id. One host's failure
// does not lose the others' results: the error joins a *HostError per failed host, and an *ArgError
// per command that go-redis cannot write (that command is not sent). A host list with an id the
// set does not have fails with ErrNoHost, one that names a host twice with ErrBadHosts, before
// fn is called.
//
// Use it with care: commands sent to a host that the router would not pick for their keys write keys
// where the routing client will not find them.
func (hs *Hosts) Fanout(ctx context.Context, hosts []int, fn func(host int, p redis.Pipeliner) error) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := hs.checkHosts(hosts); err != nil {
		return err
	}
	if hs.core.closed.Load() {
		return ErrClosed
	}
	ended := ctx.Err()
	perHost := map[int][]redis.Cmder{}
	var all []redis.Cmder
	for _, id := range hosts {
		p := hs.core.routing[0].Pipeline() // used only to queue: never executed
		if err := fn(id, p); err != nil {
			return err
		}
		for _, cmd := range p.Cmds() {
			all = append(all, cmd)
			if err := checkArgs(cmd.Args()); err != nil {
				cmd.SetErr(err)
				continue
			}
			perHost[id] = append(perHost[id], cmd)
		}
	}
	hs.core.runHosts(ctx, perHost, hs.autoBatch)
	ctxErrs(ctx, all)
	if err := collect(all); err != nil {
		return err
	}
	return ended
}

// All is Fanout to every host.
func (hs *Hosts) All(ctx context.Context, fn func(host int, p redis.Pipeliner) error) error {
	return hs.Fanout(ctx, hs.IDs(), fn)
}

// FanoutCmd sends one command to each host in hosts (all hosts when hosts is nil) and returns the
// commands keyed by host id, like rb's fanout promise whose value is a dictionary of host results:
//
//	sizes, err := hostset.FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
//	for id, cmd := range sizes { fmt.Println(id, cmd.Val()) }
//
// The error is Fanout's; every host's command is in the map, failed ones holding their *HostError.
func FanoutCmd[T redis.Cmder](ctx context.Context, hs *Hosts, hosts []int, fn func(p redis.Pipeliner) T) (map[int]T, error) {
	if hosts == nil {
		hosts = hs.IDs()
	}
	out := make(map[int]T, len(hosts))
	err := hs.Fanout(ctx, hosts, func(id int, p redis.Pipeliner) error {
		out[id] = fn(p)
		return nil
	})
	return out, err
}

// runHosts runs each host's commands as one pipeline, at most MaxConcurrency hosts at a time (no
// bound when it is -1).
func (c *core) runHosts(ctx context.Context, perHost map[int][]redis.Cmder, batch bool) {
	if len(perHost) == 1 {
		for id, cmds := range perHost {
			c.runHost(ctx, id, cmds, batch)
		}
		return
	}
	var sem chan struct{}
	if c.opt.MaxConcurrency > 0 {
		sem = make(chan struct{}, c.opt.MaxConcurrency)
	}
	var wg sync.WaitGroup
	for id, cmds := range perHost {
		if sem != nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c.fail(ctx, id, cmds, ctx.Err())
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sem != nil {
				defer func() { <-sem }()
			}
			c.runHost(ctx, id, cmds, batch)
		}()
	}
	wg.Wait()
}

// fail gives every command the host's error.
func (c *core) fail(ctx context.Context, id int, cmds []redis.Cmder, err error) {
	he := &HostError{Host: id, Addr: c.hosts[id].name, Err: noretry.CtxErr(ctx, err)}
	for _, cmd := range cmds {
		cmd.SetErr(he)
	}
}

// runHost sends cmds to host id in one round trip.
func (c *core) runHost(ctx context.Context, id int, cmds []redis.Cmder, batch bool) {
	h := c.hosts[id]
	client, release := h.client, func() {}
	if c.reg != nil {
		var err error
		client, release, err = c.reg.Acquire(ctx, h.component)
		if err != nil {
			c.fail(ctx, id, cmds, err)
			return
		}
	}
	defer release()
	plan, fixups := cmds, []func() []redis.Cmder{}
	if batch {
		plan, fixups = autoBatch(ctx, cmds)
	}
	if len(plan) == 1 {
		_ = client.Process(ctx, plan[0])
	} else {
		_, _ = client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, cmd := range plan {
				_ = p.Process(ctx, cmd)
			}
			return nil
		})
	}
	// A batch the server refused as a whole (a redis.Error: ACL, OOM, ...) may concern only some
	// of its keys; its commands are sent again as written so that each gets its own answer.
	var again []redis.Cmder
	for _, f := range fixups {
		again = append(again, f()...)
	}
	if len(again) > 0 {
		for _, cmd := range again {
			cmd.SetErr(nil)
		}
		_, _ = client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, cmd := range again {
				_ = p.Process(ctx, cmd)
			}
			return nil
		})
	}
	// A failure to talk to the host is the host's; its reply (redis.Nil, WRONGTYPE) is the command's.
	for _, cmd := range cmds {
		if err := cmd.Err(); hostFailure(err) {
			cmd.SetErr(&HostError{Host: id, Addr: h.name, Err: noretry.CtxErr(ctx, err)})
		}
	}
}

// hostFailure reports whether err is a failure to talk to a host not yet wrapped in a *HostError.
func hostFailure(err error) bool {
	var he *HostError
	return noretry.Transport(err) && !errors.As(err, &he)
}
