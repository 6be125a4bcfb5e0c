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
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
)

func init() {
	Register(Chapter{Name: "ch09", Order: 9, Title: "9.2 Sharded structures: sharded hashes and sets, and memory per element", Run: runShardedStructures})
}

// Sized for the compact encodings under redis.conf's hash-max-listpack-entries 128 (Redis 7's built-in
// default and the book's Redis 2.6 allow 512).
const (
	ch09HashShardSize = 128 // a shard holds about half, room to double
	ch09Users         = 10_000
	ch09Visits        = 6_000
)

// runShardedStructures stores many small values in a few sharded hashes, counts unique visitors in
// sharded sets on one server (the book's chapter 9 count_visit), and shows what that saves.
func runShardedStructures(ctx context.Context, env *Env) error {
	reg := env.Registry
	// Checked first, so that a strict run without redis-server fails before the work.
	missing := false
	if !env.Real() {
		var err error
		if missing, err = env.missingServers("measuring memory per element: miniredis has no MEMORY USAGE"); err != nil {
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
	c, release, err := reg.Acquire(ctx, "ch09") // held for the rest: a config change cannot close it
	if err != nil {
		return err
	}
	defer release()
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
	return ch09Memory(ctx, env, c, uniquevisits.Day(now), !missing)
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

// ch09Group is one kind of sharded structure, and the server setting under which a shard keeps the
// compact encoding.
type ch09Group struct {
	what, pattern string
	hash          bool
	setting       string
	limit         int64 // the setting's value: redis.conf's unless read from the measuring server
}

// ch09Memory shows the shards' sizes against their limits, and measures them with MEMORY USAGE against
// the same elements in one big key. miniredis has no MEMORY USAGE: there the shards are copied to a
// redis-server started with redistest and measured on it, unless !canStart.
func ch09Memory(ctx context.Context, env *Env, c redis.UniversalClient, day string, canStart bool) error {
	groups := []ch09Group{
		{"names (HASH)", "names:*", true, "hash-max-listpack-entries", 128},
		{"visitors (SET)", "unique:" + day + ":*", false, "set-max-intset-entries", 512},
	}
	m := c // the server measured; nil: none
	if !env.Real() {
		if !canStart {
			m = nil
		} else {
			s, err := redistest.Run(ctx, nil)
			if err != nil {
				return err
			}
			defer s.Close()
			rc := s.NewClient()
			defer rc.Close()
			m = rc
			env.Printf("miniredis has no MEMORY USAGE: the shards are copied to a redis-server started for this (redistest, %s)\n", s.Addr())
		}
	}
	compact := true
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
		var total, lo, hi int64
		for i, k := range keys {
			var n int64
			var err error
			if g.hash {
				n, err = c.HLen(ctx, k).Result()
			} else {
				n, err = c.SCard(ctx, k).Result()
			}
			if err != nil {
				return err
			}
			total += n
			if i == 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
		}
		if m != nil { // the measuring server's own limit, when it tells
			if v, err := m.ConfigGet(ctx, g.setting).Result(); err == nil {
				if n, err := strconv.ParseInt(v[g.setting], 10, 64); err == nil {
					g.limit = n
				}
			}
		}
		env.Printf("%s: %d elements in %d shards, %d to %d per shard (limit: %s %d)\n", g.what, total, len(keys), lo, hi, g.setting, g.limit)
		if hi > g.limit {
			compact = false
			env.Printf("  the largest shard holds %d, over the limit %d: it is stored in the full encoding\n", hi, g.limit)
		}
		if m == nil {
			continue
		}
		if m != c {
			if err := ch09Copy(ctx, c, m, keys, g.hash); err != nil {
				return err
			}
		}
		var bytes int64
		encodings := map[string]int{}
		for _, k := range keys {
			n, err := m.MemoryUsage(ctx, k).Result()
			if err != nil {
				return err
			}
			bytes += n
			enc, err := m.ObjectEncoding(ctx, k).Result()
			if err != nil {
				return err
			}
			encodings[enc]++
			if enc != "listpack" && enc != "ziplist" && enc != "intset" {
				compact = false
			}
		}
		whole, err := ch09Whole(ctx, m, keys, g.hash)
		if err != nil {
			return err
		}
		env.Printf("  sharded: %d bytes, %.1f per element, encodings %v\n", bytes, float64(bytes)/float64(total), encodings)
		env.Printf("  one key: %d bytes, %.1f per element\n", whole, float64(whole)/float64(total))
	}
	if compact {
		env.Printf("every shard stays under its limit, so Redis keeps it in the compact encoding\n")
	}
	return nil
}

// ch09Copy copies hashes or sets from one server to another, one pipeline each way.
func ch09Copy(ctx context.Context, from, to redis.UniversalClient, keys []string, hash bool) error {
	hashes := make([]*redis.MapStringStringCmd, len(keys))
	sets := make([]*redis.StringSliceCmd, len(keys))
	if _, err := from.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			if hash {
				hashes[i] = p.HGetAll(ctx, k)
			} else {
				sets[i] = p.SMembers(ctx, k)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	_, err := to.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			if hash {
				p.HSet(ctx, k, hashes[i].Val())
			} else {
				p.SAdd(ctx, k, sets[i].Val())
			}
		}
		return nil
	})
	return err
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
