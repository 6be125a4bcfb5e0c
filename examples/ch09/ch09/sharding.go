// Package ch09 is section 9.2 of Redis in Action, "Sharded structures", on ria: many small values
// in sharded HASHes (shard_hset, shard_hget), unique visitors in sharded SETs on one server
// (count_visit), and what the compact encodings save (sharding.go, memory.go).
//
// Run it with `go run ./examples/ch09`; the tour (examples/tour) runs it among the others.
package ch09

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
)

// Sized for the compact encodings under redis.conf's hash-max-listpack-entries 128 (Redis 7's built-in
// default and the book's Redis 2.6 allow 512).
const (
	hashShardSize = 128 // a shard holds about half, room to double
	users         = 10_000
	visits        = 6_000
)

// Parts are the chapter's parts in order.
var Parts = []tour.Part{
	{Chapter: "ch09", Title: "9.2 Sharded structures: sharded hashes and sets, and memory per element", Run: ShardedStructures},
}

// ShardedStructures stores many small values in a few sharded hashes, counts unique visitors in
// sharded sets on one server (the book's chapter 9 count_visit), and shows what that saves.
func ShardedStructures(ctx context.Context, env *tour.Env) error {
	reg := env.Registry
	// Checked first, so that a strict run without redis-server fails before the work.
	missing := false
	if !env.Real() {
		var err error
		if missing, err = env.NeedServers("measuring memory per element: miniredis has no MEMORY USAGE"); err != nil {
			return err
		}
	}
	cfg, err := env.Server(ctx)
	if err != nil {
		return err
	}
	if err := reg.SetConfig(ctx, "ch09", cfg); err != nil {
		return err
	}

	env.Section("9.2.1 shard_hset / shard_hget: 10,000 user names in sharded HASHes")
	// Numeric keys shard by value (int(key) // shard_size); others by crc32 over 2*total/size shards.
	_, err = conn.Call(ctx, reg, "ch09", func(ctx context.Context, c redis.Cmdable) ([]redis.Cmder, error) {
		return c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := 0; i < users; i++ {
				if _, err := shard.HSet(ctx, p, "names", "user:"+strconv.Itoa(i), fmt.Sprint("name ", i), users, hashShardSize); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	hget := conn.Wrap4(reg, "ch09", func(ctx context.Context, c redis.Cmdable, base, key string, total, size int) (string, error) {
		return shard.HGet(ctx, c, base, key, total, size)
	})
	for _, key := range []string{"user:0", "user:4242", "user:9999"} {
		name, err := hget(ctx, "names", key, users, hashShardSize)
		if err != nil {
			return err
		}
		sk, _ := shard.Key("names", key, users, hashShardSize, shard.Python3)
		env.Printf("%-10s -> %-12s field of %s\n", key, name, sk)
	}
	for _, key := range []string{"0", "127", "128", "12345678901234567890123"} {
		sk, _ := shard.Key("names", key, users, hashShardSize, shard.Python3)
		env.Printf("numeric key %-24s -> %s\n", key, sk)
	}
	env.Printf("Python 3 and Python 2 (rb) hashing differ unless the shard count is a power of two: %d shards here\n",
		shard.Shards(users, hashShardSize))
	for _, key := range []string{"user:1", "user:2", "user:3"} {
		p3, _ := shard.Key("names", key, users, hashShardSize, shard.Python3)
		p2, _ := shard.Key("names", key, users, hashShardSize, shard.Python2)
		env.Printf("  %s: python3 %s, python2 %s\n", key, p3, p2)
	}

	env.Section("9.2.2 count_visit on one server: visitor ids in sharded SETs of 512 (intsets)")
	now := time.Now()
	yesterday := now.AddDate(0, 0, -1)
	c, release, err := reg.Acquire(ctx, "ch09") // held for the rest: a config change cannot close it
	if err != nil {
		return err
	}
	defer release()
	// Size today's sets from yesterday's count, as get_expected does.
	if err := c.Set(ctx, "unique:"+uniquevisits.Day(yesterday), visits*2/3, 0).Err(); err != nil {
		return err
	}
	countVisit := conn.Wrap2(reg, "ch09", uniquevisits.CountVisit)
	sids := tour.Sessions(visits)
	start := time.Now()
	newVisitors := 0
	for _, sid := range sids {
		v, err := countVisit(ctx, sid, now)
		if err != nil {
			return err
		}
		if v.New {
			newVisitors++
		}
	}
	elapsed := time.Since(start)
	count, err := uniquevisits.Count(ctx, c, now)
	if err != nil {
		return err
	}
	expected, err := uniquevisits.Expected(ctx, c, now, uniquevisits.DailyExpected)
	if err != nil {
		return err
	}
	env.Printf("%d visits, %d unique (count_visit said new %d times) in %v\n", len(sids), count, newVisitors, elapsed.Round(time.Millisecond))
	env.Printf("yesterday: %d visitors -> expected %d -> %d set shards of at most 512 ids\n",
		visits*2/3, expected, shard.Shards(int(expected), uniquevisits.ShardSize))
	if _, err := countVisit(ctx, "not-a-session-id", now); err != nil {
		env.Printf("a malformed session id: %v\n", err)
	}

	env.Section("memory per element")
	return memory(ctx, env, c, uniquevisits.Day(now), !missing)
}
