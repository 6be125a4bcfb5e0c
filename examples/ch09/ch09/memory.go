package ch09

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// group is one kind of sharded structure, and the server setting under which a shard keeps the
// compact encoding.
type group struct {
	what, pattern string
	hash          bool
	setting       string
	limit         int64 // the setting's value: redis.conf's unless read from the measuring server
}

// memory shows the shards' sizes against their limits, and measures them with MEMORY USAGE against
// the same elements in one big key. miniredis has no MEMORY USAGE: there the shards are copied to a
// redis-server started with redistest and measured on it, unless !canStart.
func memory(ctx context.Context, env *tour.Env, c redis.UniversalClient, day string, canStart bool) error {
	groups := []group{
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
			if err := copyKeys(ctx, c, m, keys, g.hash); err != nil {
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
		whole, err := oneKey(ctx, m, keys, g.hash)
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

// copyKeys copies hashes or sets from one server to another, one pipeline each way.
func copyKeys(ctx context.Context, from, to redis.UniversalClient, keys []string, hash bool) error {
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

// oneKey copies the elements of keys into one key, measures it, and deletes it.
func oneKey(ctx context.Context, c redis.UniversalClient, keys []string, hash bool) (int64, error) {
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
