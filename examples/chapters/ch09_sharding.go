package chapters

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
)

func init() {
	Register(Chapter{Name: "ch09", Order: 9, Title: "9.2 Sharded structures: sharded hashes and sets, and memory per element", Run: runShardedStructures})
}

// Redis 7's defaults for the compact encodings (the book's Redis 2.6 allowed 512 hash entries).
const (
	ch09HashShardSize = 128 // hash-max-listpack-entries: a shard holds about half, room to double
	ch09Users         = 10_000
	ch09Visits        = 6_000
)

// runShardedStructures stores many small values in a few sharded hashes, counts unique visitors in
// sharded sets on one server (the book's chapter 9 count_visit), and shows what that saves.
func runShardedStructures(ctx context.Context, env *Env) error {
	reg := env.Registry
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
			for i := 0; i < ch09Users; i++ {
				if _, err := shard.HSet(ctx, p, "names", "user:"+strconv.Itoa(i), fmt.Sprint("name ", i), ch09Users, ch09HashShardSize); err != nil {
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
		name, err := hget(ctx, "names", key, ch09Users, ch09HashShardSize)
		if err != nil {
			return err
		}
		sk, _ := shard.Key("names", key, ch09Users, ch09HashShardSize, shard.Python3)
		env.Printf("%-10s -> %-12s field of %s\n", key, name, sk)
	}
	for _, key := range []string{"0", "127", "128", "12345678901234567890123"} {
		sk, _ := shard.Key("names", key, ch09Users, ch09HashShardSize, shard.Python3)
		env.Printf("numeric key %-24s -> %s\n", key, sk)
	}
	env.Printf("Python 3 and Python 2 (rb) hashing differ unless the shard count is a power of two: %d shards here\n",
		shard.Shards(ch09Users, ch09HashShardSize))
	for _, key := range []string{"user:1", "user:2", "user:3"} {
		p3, _ := shard.Key("names", key, ch09Users, ch09HashShardSize, shard.Python3)
		p2, _ := shard.Key("names", key, ch09Users, ch09HashShardSize, shard.Python2)
		env.Printf("  %s: python3 %s, python2 %s\n", key, p3, p2)
	}

	env.Section("9.2.2 count_visit on one server: visitor ids in sharded SETs of 512 (intsets)")
	now := time.Now()
	yesterday := now.AddDate(0, 0, -1)
	c, err := reg.Client(ctx, "ch09")
	if err != nil {
		return err
	}
	// Size today's sets from yesterday's count, as get_expected does.
	if err := c.Set(ctx, "unique:"+uniquevisits.Day(yesterday), ch09Visits*2/3, 0).Err(); err != nil {
		return err
	}
	countVisit := conn.Wrap2(reg, "ch09", uniquevisits.CountVisit)
	sids := ch09Sessions(ch09Visits)
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
		ch09Visits*2/3, expected, shard.Shards(int(expected), uniquevisits.ShardSize))
	if _, err := countVisit(ctx, "not-a-session-id", now); err != nil {
		env.Printf("a malformed session id: %v\n", err)
	}

	env.Section("memory per element")
	return ch09Memory(ctx, env, c, uniquevisits.Day(now))
}

// ch09Sessions returns n session ids (UUIDs), about a third of them repeats, the same every run.
func ch09Sessions(n int) []string {
	r := rand.New(rand.NewPCG(9, 2))
	out := make([]string, 0, n)
	for len(out) < n {
		if len(out) > 0 && r.IntN(3) == 0 {
			out = append(out, out[r.IntN(len(out))])
			continue
		}
		id, _ := uuid.NewRandomFromReader(randReader{r})
		out = append(out, id.String())
	}
	return out
}

// randReader makes a seeded math/rand generator an io.Reader for uuid.
type randReader struct{ r *rand.Rand }

func (rr randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(rr.r.Uint32())
	}
	return len(p), nil
}

// ch09Memory measures the sharded structures with MEMORY USAGE on a real server, against the same
// elements in one big structure. miniredis has no MEMORY USAGE, so there the shard layout is shown.
func ch09Memory(ctx context.Context, env *Env, c redis.UniversalClient, day string) error {
	groups := []struct {
		what, pattern, limit string
		elements             int
	}{
		{"names (HASH)", "names:*", "hash-max-listpack-entries 128", ch09Users},
		{"visitors (SET)", "unique:" + day + ":*", "set-max-intset-entries 512", 0},
	}
	for _, g := range groups {
		var keys []string
		if err := shard.Scan(ctx, c, g.pattern, 1000, func(k string) error {
			if !strings.HasSuffix(k, ":expected") {
				keys = append(keys, k)
			}
			return nil
		}); err != nil {
			return err
		}
		sizes := make([]int64, len(keys))
		var total, lo, hi int64
		for i, k := range keys {
			var err error
			if strings.HasPrefix(g.pattern, "names") {
				sizes[i], err = c.HLen(ctx, k).Result()
			} else {
				sizes[i], err = c.SCard(ctx, k).Result()
			}
			if err != nil {
				return err
			}
			total += sizes[i]
			if i == 0 || sizes[i] < lo {
				lo = sizes[i]
			}
			hi = max(hi, sizes[i])
		}
		env.Printf("%s: %d elements in %d shards, %d to %d per shard (limit: %s)\n", g.what, total, len(keys), lo, hi, g.limit)
		if !env.Real() {
			continue
		}
		var bytes int64
		encodings := map[string]int{}
		for _, k := range keys {
			n, err := c.MemoryUsage(ctx, k).Result()
			if err != nil {
				return err
			}
			bytes += n
			enc, _ := c.ObjectEncoding(ctx, k).Result()
			encodings[enc]++
		}
		whole, err := ch09Whole(ctx, c, keys, strings.HasPrefix(g.pattern, "names"))
		if err != nil {
			return err
		}
		env.Printf("  sharded: %d bytes, %.1f per element, encodings %v\n", bytes, float64(bytes)/float64(total), encodings)
		env.Printf("  one key: %d bytes, %.1f per element\n", whole, float64(whole)/float64(total))
	}
	if !env.Real() {
		env.Printf("MEMORY USAGE is not available on miniredis: run with -addr to measure bytes per element.\n" +
			"Every shard above stays under its limit, so Redis keeps it in the compact encoding.\n")
	}
	return nil
}

// ch09Whole copies the elements of keys into one key, measures it, and deletes it.
func ch09Whole(ctx context.Context, c redis.UniversalClient, keys []string, hash bool) (int64, error) {
	const whole = "ch09:whole"
	for _, k := range keys {
		if hash {
			m, err := c.HGetAll(ctx, k).Result()
			if err != nil {
				return 0, err
			}
			if err := c.HSet(ctx, whole, m).Err(); err != nil {
				return 0, err
			}
		} else if err := c.SUnionStore(ctx, whole, whole, k).Err(); err != nil {
			return 0, err
		}
	}
	defer c.Del(ctx, whole)
	return c.MemoryUsage(ctx, whole).Result()
}
