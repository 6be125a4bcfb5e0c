package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/shard"
)

// ShardCount is one sharded server's part of a recount, reported as each is done.
type ShardCount struct {
	Component string // "<Component>:<n>"; "" for a counter on one client
	Count     int64  // ids in the day's sets there (0 when Shared)
	Shared    string // the component already counted whose server and database this one shares
	Done      int    // sharded servers handled so far, this one included
	Total     int    // sharded servers in all
}

// RecountEach is Recount that calls fn (when not nil) after each sharded server, from the calling
// goroutine, so a tool can show progress and each server's share. It returns what Recount returns.
func (c *Counter) RecountEach(ctx context.Context, day time.Time, fn func(ShardCount)) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if fn == nil {
		fn = func(ShardCount) {}
	}
	d := Day(day)
	counts, release, err := c.counts(ctx)
	if err != nil {
		return 0, err
	}
	s, err := counts.Get(ctx, expectedKey(d)).Result()
	release()
	if errors.Is(err, redis.Nil) {
		total := c.opt.Shards
		if c.client != nil {
			total = 1
		}
		for i := range total {
			sc := ShardCount{Done: i + 1, Total: total}
			if c.client == nil {
				sc.Component = shard.ShardComponent(c.opt.Component, i)
			}
			fn(sc)
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	expected, err := parsePositive(expectedKey(d), s)
	if err != nil {
		return 0, err
	}
	if expected > maxRecount*int64(c.opt.ShardSize)/2 {
		return 0, fmt.Errorf("%w: %s is %d: too many set shards to recount", ErrBadCount, expectedKey(d), expected)
	}
	n := shard.Shards(int(expected), c.opt.ShardSize)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = setBase(d) + ":" + strconv.Itoa(i)
	}
	if c.client != nil {
		total, err := sumCards(ctx, c.client, keys)
		if err != nil {
			return 0, err
		}
		fn(ShardCount{Count: total, Done: 1, Total: 1})
		return total, nil
	}
	var total int64
	seen := map[string]string{} // dataset -> first component counted there
	for i := 0; i < c.opt.Shards; i++ {
		comp := shard.ShardComponent(c.opt.Component, i)
		client, release, err := c.reg.Acquire(ctx, comp)
		if err != nil {
			return 0, err
		}
		id, err := datasetOf(ctx, client)
		if noretry.IsErrorReply(err) { // the server will not say: fall back on what its config says
			id, err = configIdentity(c.reg.Config(comp)), nil
		}
		if err != nil {
			release()
			return 0, fmt.Errorf("uniquevisits: %s: telling its server apart: %w", comp, err)
		}
		if first, ok := seen[id]; ok && id != "" { // "": nothing known, so counted
			release()
			fn(ShardCount{Component: comp, Shared: first, Done: i + 1, Total: c.opt.Shards})
			continue
		}
		seen[id] = comp
		n, err := sumCards(ctx, client, keys)
		release()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", comp, err)
		}
		total += n
		fn(ShardCount{Component: comp, Count: n, Done: i + 1, Total: c.opt.Shards})
	}
	return total, nil
}
