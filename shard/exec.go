package shard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

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
			err := &UnroutableError{Command: "multi", Reason: "a transaction needs one host; use TxPipelined on the client Cluster.ClientForKey returns"}
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

// ctxErr is noretry.CtxErr, also when go-redis's socket deadline, which it takes from ctx, fired a
// moment before ctx's own timer: once the deadline has passed ctx is about to end, so wait for it.
func ctxErr(ctx context.Context, err error) error {
	if err != nil {
		ctxEnded(ctx)
	}
	return noretry.CtxErr(ctx, err)
}

// ctxEnded reports whether ctx has ended or its deadline has passed (then it waits for ctx to end).
func ctxEnded(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		if done := ctx.Done(); done != nil {
			<-done
		}
		return true
	}
	return false
}

// ctxErrs makes every failed command's error say that ctx ended, once it has (noretry.CtxErr).
func ctxErrs(ctx context.Context, cmds []redis.Cmder) {
	if !ctxEnded(ctx) {
		return
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			cmd.SetErr(ctxErr(ctx, err))
		}
	}
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
	he := &HostError{Host: id, Addr: c.hosts[id].name, Err: ctxErr(ctx, err)}
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
			cmd.SetErr(&HostError{Host: id, Addr: h.name, Err: ctxErr(ctx, err)})
		}
	}
}

// hostFailure reports whether err is a failure to talk to a host not yet wrapped in a *HostError.
func hostFailure(err error) bool {
	var he *HostError
	return noretry.Transport(err) && !errors.As(err, &he)
}

// batchable reports whether cmd can join a batch: a plain GET key, or a plain SET key value with no
// options, made by go-redis's Get and Set (whose result types are known).
func batchable(cmd redis.Cmder) string {
	args := cmd.Args()
	switch cmd.(type) {
	case *redis.StringCmd:
		if len(args) == 2 && strings.EqualFold(argString(args[0]), "get") {
			return "get"
		}
	case *redis.StatusCmd:
		if len(args) == 3 && strings.EqualFold(argString(args[0]), "set") {
			return "set"
		}
	}
	return ""
}

// autoBatch merges runs of consecutive GETs into one MGET and of plain SETs into one MSET, as rb's
// auto_batch_commands does. Each fixup copies a batch's result back to its commands, or, when the
// server refused the batch with a reply error, returns the commands to send again one by one (a
// transport error is the host's and goes to every command). MGET answers nil for a key that holds
// another type where GET would fail with WRONGTYPE, so such a GET gets redis.Nil.
func autoBatch(ctx context.Context, cmds []redis.Cmder) ([]redis.Cmder, []func() []redis.Cmder) {
	var plan []redis.Cmder
	var fixups []func() []redis.Cmder
	for i := 0; i < len(cmds); {
		kind := batchable(cmds[i])
		j := i + 1
		for kind != "" && j < len(cmds) && batchable(cmds[j]) == kind {
			j++
		}
		if kind == "" || j-i == 1 {
			plan = append(plan, cmds[i])
			i = j
			continue
		}
		group := cmds[i:j]
		switch kind {
		case "get":
			args := make([]any, 0, len(group)+1)
			args = append(args, "mget")
			for _, g := range group {
				args = append(args, g.Args()[1])
			}
			m := redis.NewSliceCmd(ctx, args...)
			plan = append(plan, m)
			fixups = append(fixups, func() []redis.Cmder {
				vals, err := m.Result()
				if noretry.IsErrorReply(err) {
					return group
				}
				for k, g := range group {
					sc := g.(*redis.StringCmd)
					switch {
					case err != nil:
						sc.SetErr(err)
					case k >= len(vals) || vals[k] == nil:
						sc.SetErr(redis.Nil)
					default:
						sc.SetVal(replyString(vals[k]))
					}
				}
				return nil
			})
		case "set":
			args := make([]any, 0, 2*len(group)+1)
			args = append(args, "mset")
			for _, g := range group {
				args = append(args, g.Args()[1], g.Args()[2])
			}
			m := redis.NewStatusCmd(ctx, args...)
			plan = append(plan, m)
			fixups = append(fixups, func() []redis.Cmder {
				val, err := m.Result()
				if noretry.IsErrorReply(err) {
					return group
				}
				for _, g := range group {
					sc := g.(*redis.StatusCmd)
					if err != nil {
						sc.SetErr(err)
					} else {
						sc.SetVal(val)
					}
				}
				return nil
			})
		}
		i = j
	}
	return plan, fixups
}

// replyString is an MGET reply value as GET's StringCmd holds it.
func replyString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// split breaks a multi-key MGET, MSET, DEL, UNLINK, EXISTS or TOUCH into one command per host, and
// returns the function that puts the results back into cmd once they have run.
func (c *core) split(ctx context.Context, cmd redis.Cmder) (map[int]redis.Cmder, func(), bool) {
	args := cmd.Args()
	if len(args) < 2 {
		return nil, nil, false
	}
	name := strings.ToLower(argString(args[0]))
	switch name {
	case "mget":
		sc, ok := cmd.(*redis.SliceCmd)
		if !ok || len(args) < 3 {
			return nil, nil, false
		}
		type part struct {
			cmd *redis.SliceCmd
			pos []int
		}
		parts := map[int]*part{}
		order := []int{}
		keyArgs := map[int][]any{}
		for i, k := range args[1:] {
			id, err := c.hostFor(cmd, argString(k))
			if err != nil {
				cmd.SetErr(err)
				return nil, func() {}, true // refused as a whole: no part is sent
			}
			if parts[id] == nil {
				parts[id] = &part{}
				order = append(order, id)
				keyArgs[id] = []any{"mget"}
			}
			parts[id].pos = append(parts[id].pos, i)
			keyArgs[id] = append(keyArgs[id], k)
		}
		out := map[int]redis.Cmder{}
		for _, id := range order {
			parts[id].cmd = redis.NewSliceCmd(ctx, keyArgs[id]...)
			out[id] = parts[id].cmd
		}
		return out, func() {
			vals := make([]any, len(args)-1)
			for _, id := range order {
				p := parts[id]
				v, err := p.cmd.Result()
				if err != nil {
					sc.SetErr(err)
					return
				}
				for j, pos := range p.pos {
					if j < len(v) {
						vals[pos] = v[j]
					}
				}
			}
			sc.SetVal(vals)
		}, true
	case "mset":
		sc, ok := cmd.(*redis.StatusCmd)
		if !ok || len(args) < 5 || len(args)%2 == 0 {
			return nil, nil, false
		}
		subs := map[int]*redis.StatusCmd{}
		keyArgs := map[int][]any{}
		var order []int
		for i := 1; i+1 < len(args); i += 2 {
			id, err := c.hostFor(cmd, argString(args[i]))
			if err != nil {
				cmd.SetErr(err)
				return nil, func() {}, true // refused as a whole: no part is sent
			}
			if keyArgs[id] == nil {
				keyArgs[id] = []any{"mset"}
				order = append(order, id)
			}
			keyArgs[id] = append(keyArgs[id], args[i], args[i+1])
		}
		out := map[int]redis.Cmder{}
		for _, id := range order {
			subs[id] = redis.NewStatusCmd(ctx, keyArgs[id]...)
			out[id] = subs[id]
		}
		return out, func() {
			for _, id := range order {
				if err := subs[id].Err(); err != nil {
					sc.SetErr(err)
					return
				}
			}
			sc.SetVal("OK")
		}, true
	case "del", "unlink", "exists", "touch":
		ic, ok := cmd.(*redis.IntCmd)
		if !ok || len(args) < 3 {
			return nil, nil, false
		}
		subs := map[int]*redis.IntCmd{}
		keyArgs := map[int][]any{}
		var order []int
		for _, k := range args[1:] {
			id, err := c.hostFor(cmd, argString(k))
			if err != nil {
				cmd.SetErr(err)
				return nil, func() {}, true // refused as a whole: no part is sent
			}
			if keyArgs[id] == nil {
				keyArgs[id] = []any{name}
				order = append(order, id)
			}
			keyArgs[id] = append(keyArgs[id], k)
		}
		out := map[int]redis.Cmder{}
		for _, id := range order {
			subs[id] = redis.NewIntCmd(ctx, keyArgs[id]...)
			out[id] = subs[id]
		}
		return out, func() {
			var sum int64
			for _, id := range order {
				n, err := subs[id].Result()
				if err != nil {
					ic.SetErr(err)
					return
				}
				sum += n
			}
			ic.SetVal(sum)
		}, true
	}
	return nil, nil, false
}

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
func (cl *Cluster) Map(ctx context.Context, fn func(p redis.Pipeliner) error) (err error) {
	defer func() { err = ctxErr(ctx, err) }()
	ended := ctx.Err()
	p := cl.Routing().Pipeline()
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
// cluster does not have fails with ErrNoHost, one that names a host twice with ErrBadHosts, before
// fn is called.
//
// Use it with care: commands sent to a host that the router would not pick for their keys write keys
// where the routing client will not find them.
func (cl *Cluster) Fanout(ctx context.Context, hosts []int, fn func(host int, p redis.Pipeliner) error) (err error) {
	defer func() { err = ctxErr(ctx, err) }()
	if err := cl.checkHosts(hosts); err != nil {
		return err
	}
	if cl.core.closed.Load() {
		return ErrClosed
	}
	ended := ctx.Err()
	perHost := map[int][]redis.Cmder{}
	var all []redis.Cmder
	for _, id := range hosts {
		p := cl.core.routing[0].Pipeline() // used only to queue: never executed
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
	cl.core.runHosts(ctx, perHost, cl.autoBatch)
	ctxErrs(ctx, all)
	if err := collect(all); err != nil {
		return err
	}
	return ended
}

// All is Fanout to every host.
func (cl *Cluster) All(ctx context.Context, fn func(host int, p redis.Pipeliner) error) error {
	return cl.Fanout(ctx, cl.Hosts(), fn)
}

// FanoutCmd sends one command to each host in hosts (all hosts when hosts is nil) and returns the
// commands keyed by host id, like rb's fanout promise whose value is a dictionary of host results:
//
//	sizes, err := shard.FanoutCmd(ctx, cl, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
//	for id, cmd := range sizes { fmt.Println(id, cmd.Val()) }
//
// The error is Fanout's; every host's command is in the map, failed ones holding their *HostError.
func FanoutCmd[T redis.Cmder](ctx context.Context, cl *Cluster, hosts []int, fn func(p redis.Pipeliner) T) (map[int]T, error) {
	if hosts == nil {
		hosts = cl.Hosts()
	}
	out := make(map[int]T, len(hosts))
	err := cl.Fanout(ctx, hosts, func(id int, p redis.Pipeliner) error {
		out[id] = fn(p)
		return nil
	})
	return out, err
}
