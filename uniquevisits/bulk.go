package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/shard"
)

// Counting in bulk: CountVisits is count_visit for a batch of session ids, in two phases. First the
// SADDs, one pipeline per sharded server (per bulkChunk commands), the servers in parallel (at most
// bulkParallel at once); then, for the n ids that SADD found new, one INCRBY n of the day's count on
// the unsharded server. Both are never resent, as in Add.
//
// One INCRBY rather than n pipelined INCRs: its reply, or its loss, speaks for exactly the n visits it
// covers, as n INCRs whose replies were lost would (they may all have run), and it is one command
// instead of n. Each new visit's Count is its place in the block INCRBY added: the first new visit of
// the batch gets count-n+1, the last the count itself, as n INCRs from one connection would give.

const (
	// bulkParallel bounds the sharded servers one CountVisits talks to at once.
	bulkParallel = 16
	// bulkChunk bounds the commands in one pipeline, so that a huge batch does not build one huge
	// request.
	bulkChunk = 8192
)

// VisitResult is one session id's outcome in CountVisits: the Visit and error CountVisit would have
// returned for it.
type VisitResult struct {
	Visit Visit
	Err   error
}

// BatchError is CountVisits' error when some visits failed for a reason other than their own
// malformed session id (a server down, a lost reply, ctx ended). Each visit's own error is on its
// VisitResult; errors.Is and errors.As see the first of them, in batch order.
type BatchError struct {
	Failed int   // visits whose error is not ErrBadSessionID
	Total  int   // visits in the batch
	Err    error // the first of them
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("uniquevisits: %d of %d visits failed, the first: %v", e.Failed, e.Total, e.Err)
}

// Unwrap gives the first failed visit's error.
func (e *BatchError) Unwrap() error { return e.Err }

// CountVisits counts a visit by the holder of each session id, today (one Now() for the whole
// batch): CountVisit for many ids at once. results[i] is sessionIDs[i]'s Visit and error, as
// CountVisit would have returned them called once per id in order:
//   - a visitor already in today's set is not counted again, and the count grows only by the new
//     members; an id repeated in the batch (in any spelling) is New at its first occurrence only;
//   - a malformed session id fails only itself, with ErrBadSessionID on its own result;
//   - a server that is down, or a lost reply, fails only the visits it carried, with Add's errors
//     (ErrUnknownOutcome, ErrUncounted); a lost INCRBY reply is ErrUnknownOutcome and ErrUncounted
//     on every new visit it covered, and on no other.
//
// The expected size is read once per batch. The SADDs go in one pipeline per sharded server, the
// servers in parallel; then one INCRBY on the unsharded server. The error is nil when every visit
// was counted or refused for its own malformed id, and otherwise a *BatchError (wrapping ctx.Err()
// once ctx has ended).
func (c *Counter) CountVisits(ctx context.Context, sessionIDs []string) (_ []VisitResult, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	b := parseBatch(sessionIDs)
	if b.valid == 0 {
		return b.results, nil
	}
	b.durable = c.opt.Durable
	counts, releaseCounts, err := c.counts(ctx)
	if err != nil {
		return b.fail(ctx, err)
	}
	defer releaseCounts()
	if err := newWriter(c.opt.Durable).routable(counts); err != nil {
		return b.fail(ctx, err)
	}
	now := c.opt.Now()
	expected, err := c.Expected(ctx, now)
	if err != nil {
		return b.fail(ctx, err)
	}
	if c.client != nil {
		b.run(ctx, now, expected, c.opt.ShardSize, nil, func(context.Context, string) (redis.Cmdable, func(), error) {
			return c.client, func() {}, nil
		}, counts)
		return b.finish(ctx)
	}
	route := func(canonical string) (string, error) {
		return shard.Component(c.opt.Component, canonical, c.opt.Shards)
	}
	b.run(ctx, now, expected, c.opt.ShardSize, route, func(ctx context.Context, comp string) (redis.Cmdable, func(), error) {
		return c.reg.Acquire(ctx, comp)
	}, counts)
	return b.finish(ctx)
}

// CountVisits is the chapter 9 CountVisits on one server: the sets and the count on c, the day from
// now, the expected size read once for the batch. Results and errors are Counter.CountVisits'.
func CountVisits(ctx context.Context, c redis.Cmdable, sessionIDs []string, now time.Time) (_ []VisitResult, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	b := parseBatch(sessionIDs)
	if b.valid == 0 {
		return b.results, nil
	}
	if c == nil {
		return b.fail(ctx, ErrNoClient)
	}
	expected, err := Expected(ctx, c, now, DailyExpected)
	if err != nil {
		return b.fail(ctx, err)
	}
	b.run(ctx, now, expected, ShardSize, nil, func(context.Context, string) (redis.Cmdable, func(), error) {
		return c, func() {}, nil
	}, c)
	return b.finish(ctx)
}

// batch is one CountVisits call's state.
type batch struct {
	results   []VisitResult
	canonical []string // "" for a malformed id
	ids       []int64
	valid     int

	durable    Durability
	notDurable []error // per visit: its servers' confirmation failed (joined to Err at the end)
}

func parseBatch(sessionIDs []string) *batch {
	b := &batch{
		results:    make([]VisitResult, len(sessionIDs)),
		canonical:  make([]string, len(sessionIDs)),
		ids:        make([]int64, len(sessionIDs)),
		notDurable: make([]error, len(sessionIDs)),
	}
	for i, sid := range sessionIDs {
		canonical, id, err := session(sid)
		if err != nil {
			b.results[i].Err = err
			continue
		}
		b.canonical[i], b.ids[i] = canonical, id
		b.valid++
	}
	return b
}

// fail gives err to every well-formed visit: nothing was sent.
func (b *batch) fail(ctx context.Context, err error) ([]VisitResult, error) {
	for i := range b.results {
		if b.canonical[i] != "" {
			b.results[i].Err = err
		}
	}
	return b.finish(ctx)
}

// finish makes every error say why ctx ended, once it has, and sums up the failures.
func (b *batch) finish(ctx context.Context) ([]VisitResult, error) {
	var be *BatchError
	for i := range b.results {
		r := &b.results[i]
		if r.Err == nil {
			continue
		}
		r.Err = noretry.CtxErr(ctx, r.Err)
		if b.canonical[i] == "" {
			continue
		}
		if be == nil {
			be = &BatchError{Total: len(b.results), Err: r.Err}
		}
		be.Failed++
	}
	if be == nil {
		return b.results, nil
	}
	return b.results, be
}

// visitor is one sharded server's copy of a visitor id: the unit SADD adds and INCRBY counts.
type visitor struct {
	comp string
	id   int64
}

// run sends the batch: route names each visit's sharded server ("" for one client), sets acquires it.
func (b *batch) run(ctx context.Context, now time.Time, expected int64, shardSize int,
	route func(canonical string) (string, error),
	sets func(ctx context.Context, comp string) (redis.Cmdable, func(), error),
	counts redis.Cmdable) {
	d := Day(now)
	if expected < 1 || expected > math.MaxInt/2 {
		b.fail(ctx, fmt.Errorf("%w: expected size %d out of range", ErrBadCount, expected))
		return
	}
	// The first occurrence of each visitor on its server is the one sent; the others follow it.
	first := map[visitor]int{}
	dup := make([]int, len(b.results)) // index of the first occurrence; -1 for a first or a bad id
	groups := map[string][]int{}       // server -> the first occurrences it takes, in batch order
	var comps []string
	for i := range b.results {
		dup[i] = -1
		if b.canonical[i] == "" {
			continue
		}
		comp := ""
		if route != nil {
			var err error
			if comp, err = route(b.canonical[i]); err != nil {
				b.results[i].Err = err
				continue
			}
		}
		member := strconv.FormatInt(b.ids[i], 10)
		set, err := shard.Key(setBase(d), "x"+member, int(expected), shardSize, shard.Python3)
		if err != nil {
			b.results[i].Err = err
			continue
		}
		b.results[i].Visit = Visit{Day: d, ID: b.ids[i], Set: set, Shard: comp}
		k := visitor{comp, b.ids[i]}
		if j, ok := first[k]; ok {
			dup[i] = j
			continue
		}
		first[k] = i
		if _, ok := groups[comp]; !ok {
			comps = append(comps, comp)
		}
		groups[comp] = append(groups[comp], i)
	}

	// Phase 1: the SADDs, one pipeline per server, the servers in parallel.
	sem := make(chan struct{}, bulkParallel)
	var wg sync.WaitGroup
	for _, comp := range comps {
		wg.Add(1)
		sem <- struct{}{}
		go func(comp string, idx []int) {
			defer func() { <-sem; wg.Done() }()
			b.sadd(ctx, comp, idx, sets) // each goroutine writes only its own visits' results
		}(comp, groups[comp])
	}
	wg.Wait()

	// Phase 2: one INCRBY for the new visits, in batch order.
	var news []int
	for i := range b.results {
		if dup[i] < 0 && b.results[i].Err == nil && b.results[i].Visit.New {
			news = append(news, i)
		}
	}
	if len(news) > 0 {
		b.incr(ctx, counts, countKey(d), news)
	}

	// A repeat within the batch is what CountVisit would say the second time: not new, or, when the
	// first SADD's outcome is not known, the same error.
	for i, j := range dup {
		if j < 0 {
			continue
		}
		b.results[i].Visit.New, b.results[i].Visit.Count = false, 0
		if err := b.results[j].Err; err != nil && !errors.Is(err, ErrUncounted) {
			b.results[i].Visit = b.results[j].Visit
			b.results[i].Err = err
		}
	}
	for i, err := range b.notDurable {
		if err != nil {
			b.results[i].Err = errors.Join(b.results[i].Err, err)
		}
	}
}

// sadd sends the SADDs of the visits idx to server comp, in pipelines of at most bulkChunk. Durable,
// it sends them per node of the server, each node's on one connection whose last pipeline ends with
// a WAIT.
func (b *batch) sadd(ctx context.Context, comp string, idx []int, sets func(ctx context.Context, comp string) (redis.Cmdable, func(), error)) {
	failAll := func(err error) {
		for _, i := range idx {
			b.results[i].Err = err
		}
	}
	client, release, err := sets(ctx, comp)
	if err == nil {
		defer release()
		err = newWriter(b.durable).routable(client)
	}
	if err != nil {
		for _, i := range idx {
			b.results[i].Visit = Visit{} // as CountVisit: nothing known about a visit never routed
		}
		failAll(err)
		return
	}
	if !b.durable.On() {
		b.saddChunks(ctx, client, idx, nil)
		return
	}
	uc := client.(redis.UniversalClient)
	// Visits whose SADD was refused with MOVED or ASK (the client's slot map was behind a move, for
	// some of a node's sets) ran nothing: they go again, grouped by their slots' masters now.
	for round, pending := 0, idx; len(pending) > 0; round++ {
		if round > 0 {
			if cc, ok := uc.(*redis.ClusterClient); !ok || round == durableRounds || pause(ctx, cc, round) != nil {
				return // the visits keep the redirect, or ctx's error, as their outcome
			}
		}
		groups := map[*redis.Client][]int{}
		var nodes []*redis.Client
		for _, i := range pending {
			node, err := durable.Node(ctx, uc, b.results[i].Visit.Set)
			if err != nil {
				b.results[i].Err = fmt.Errorf("uniquevisits: SADD %s: not sent: %w", b.results[i].Visit.Set, err)
				continue
			}
			if _, ok := groups[node]; !ok {
				nodes = append(nodes, node)
			}
			groups[node] = append(groups[node], i)
		}
		var mu sync.Mutex
		var moved []int
		var wg sync.WaitGroup
		for _, node := range nodes {
			wg.Go(func() {
				m := b.saddDurable(ctx, uc, groups[node])
				mu.Lock()
				moved = append(moved, m...)
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(moved) // batch order, as the first round
		pending = pending[:0:0]
		var asked []int
		for _, i := range moved {
			if _, ok := redis.IsAskError(b.results[i].Err); ok {
				asked = append(asked, i)
			} else {
				pending = append(pending, i)
			}
		}
		b.saddAsked(ctx, uc, asked)
	}
}

// saddAsked sends the SADDs an ASK refused (their keys moved, the slot still migrating) one by
// one, each to the importing master after ASKING (durable.Conns.OnNode), and confirms them with one
// WAIT per connection, as CountVisit does.
func (b *batch) saddAsked(ctx context.Context, c redis.UniversalClient, idx []int) {
	if len(idx) == 0 {
		return
	}
	w := b.durable.Begin()
	var conns durable.Conns
	defer conns.Close()
	var news []int
	for _, i := range idx {
		v := b.results[i].Visit
		var added int64
		err := conns.OnNode(ctx, c, v.Set, func(conn *redis.Conn) (err error) {
			added, err = noretry.SAdd(ctx, conn, v.Set, strconv.FormatInt(v.ID, 10)).Result()
			return err
		})
		if err != nil {
			b.results[i].Err = writeError("SADD "+v.Set, err)
			continue
		}
		b.results[i].Err = nil
		if b.results[i].Visit.New = added == 1; added == 1 {
			news = append(news, i)
		}
	}
	if len(news) == 0 {
		return
	}
	if err := conns.Confirm(ctx, w); err != nil {
		for _, i := range news {
			b.notDurable[i] = notDurable("SADD "+b.results[i].Visit.Set, err)
		}
	}
}

// durableRounds bounds the rounds of durable SADDs that follow refusals for moved slots.
const durableRounds = 4

// pause reloads cc's slot map and waits a little longer each round, until ctx ends.
func pause(ctx context.Context, cc *redis.ClusterClient, round int) error {
	cc.ReloadState(ctx)
	t := time.NewTimer(time.Duration(round) * 20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// saddDurable sends the SADDs of idx, whose sets one node holds, on one connection to it, a WAIT
// ending the last pipeline, and gives every new visit the outcome of the wait. When every SADD was
// refused with MOVED or ASK (none ran), they go again to the slot's new master (durable.OnNode). It
// returns the visits whose SADD alone was refused so: they ran nothing, and go again elsewhere.
func (b *batch) saddDurable(ctx context.Context, c redis.UniversalClient, idx []int) (moved []int) {
	w := b.durable.Begin()
	_ = durable.OnNode(ctx, c, b.results[idx[0]].Visit.Set, func(node *redis.Client) error {
		moved = moved[:0]
		conn := durable.Conn(ctx, node)
		defer conn.Close()
		var first *redis.Cmd
		cmds := b.saddChunks(ctx, conn, idx, func(p redis.Pipeliner) { first = w.Queue(ctx, p) })
		for k, cmd := range cmds {
			if cmd != nil && noretry.IsRedirect(cmd.Err()) {
				moved = append(moved, idx[k])
			}
		}
		if len(moved) == len(idx) {
			return cmds[0].Err() // none ran: OnNode follows it
		}
		wrote := false
		for _, i := range idx {
			wrote = wrote || (b.results[i].Err == nil && b.results[i].Visit.New)
		}
		if !wrote { // every id was there already: nothing to wait for
			return nil
		}
		if err := w.ConfirmOn(ctx, node, conn, first); err != nil {
			for _, i := range idx {
				if b.results[i].Err == nil && b.results[i].Visit.New {
					b.notDurable[i] = notDurable("SADD "+b.results[i].Visit.Set, err)
				}
			}
		}
		return nil
	})
	return moved
}

// saddChunks sends the SADDs of the visits idx on c, in pipelines of at most bulkChunk, last (when
// not nil) queued at the end of the final one, and sets each visit's New or error. It returns each
// visit's command, nil for one not sent.
func (b *batch) saddChunks(ctx context.Context, c redis.Cmdable, idx []int, last func(redis.Pipeliner)) []*redis.IntCmd {
	var sent []*redis.IntCmd
	for len(idx) > 0 {
		part := idx[:min(bulkChunk, len(idx))]
		idx = idx[len(part):]
		if err := ctx.Err(); err != nil { // not sent: nothing is unknown yet
			for _, i := range part {
				b.results[i].Err = fmt.Errorf("uniquevisits: SADD %s: not sent: %w", b.results[i].Visit.Set, err)
			}
			sent = append(sent, make([]*redis.IntCmd, len(part))...)
			continue
		}
		cmds := make([]*redis.IntCmd, len(part))
		// Each command carries its own error; Pipelined's is the first of them.
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for k, i := range part {
				v := b.results[i].Visit
				cmds[k] = noretry.SAdd(ctx, p, v.Set, strconv.FormatInt(v.ID, 10))
			}
			if last != nil && len(idx) == 0 {
				last(p)
			}
			return nil
		})
		for k, i := range part {
			added, err := cmds[k].Result()
			if err != nil {
				b.results[i].Err = writeError("SADD "+b.results[i].Visit.Set, err)
				continue
			}
			b.results[i].Err = nil
			b.results[i].Visit.New = added == 1
		}
		sent = append(sent, cmds...)
	}
	return sent
}

// incr adds len(news) to the day's count, never resent, and gives each new visit its count or the
// INCRBY's error.
func (b *batch) incr(ctx context.Context, counts redis.Cmdable, key string, news []int) {
	n := int64(len(news))
	name := "INCRBY " + key
	var total int64
	err := ctx.Err()
	if err != nil {
		err = fmt.Errorf("%w: %s: not sent: %w", ErrUncounted, name, err)
	} else if total, err = b.incrBy(ctx, counts, key, news); err != nil {
		if noretry.Classify(err) == noretry.Unknown {
			err = fmt.Errorf("%w: %w: %s: %w", ErrUnknownOutcome, ErrUncounted, name, err)
		} else {
			err = fmt.Errorf("%w: %s: %w", ErrUncounted, name, err)
		}
	}
	for k, i := range news {
		if err != nil {
			b.results[i].Err = err
			continue
		}
		b.results[i].Visit.Count = total - n + 1 + int64(k)
	}
}

// incrBy adds len(news) to key on counts. Durable, the INCRBY and a WAIT go in one pipeline on one
// connection to key's node, and every new visit gets the outcome of the wait.
func (b *batch) incrBy(ctx context.Context, counts redis.Cmdable, key string, news []int) (int64, error) {
	n := int64(len(news))
	if !b.durable.On() {
		return incrBy(ctx, counts, key, n)()
	}
	var total int64
	w := b.durable.Begin()
	err := durable.OnNode(ctx, counts.(redis.UniversalClient), key, func(node *redis.Client) error {
		conn := durable.Conn(ctx, node)
		defer conn.Close()
		var result func() (int64, error)
		var first *redis.Cmd
		_, _ = conn.Pipelined(ctx, func(p redis.Pipeliner) error {
			result = incrBy(ctx, p, key, n)
			first = w.Queue(ctx, p)
			return nil
		})
		var err error
		if total, err = result(); err != nil {
			return err // a MOVED or ASK ran nothing: OnNode sends it again
		}
		if err := w.ConfirmOn(ctx, node, conn, first); err != nil {
			for _, i := range news {
				b.notDurable[i] = errors.Join(b.notDurable[i], notDurable("INCRBY "+key, err))
			}
		}
		return nil
	})
	return total, err
}

// incrBy sends or queues INCRBY key n, never resent (noretry.Incr for one); its result is read by
// the function returned.
func incrBy(ctx context.Context, c redis.Cmdable, key string, n int64) func() (int64, error) {
	if n == 1 {
		return noretry.Incr(ctx, c, key).Result
	}
	p, ok := c.(noretry.Processor)
	if !ok {
		return c.IncrBy(ctx, key, n).Result
	}
	return noretry.Do(ctx, p, "incrby", key, n).Int64
}
