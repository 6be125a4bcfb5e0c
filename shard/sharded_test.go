package shard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

func TestShardedHashAndSet(t *testing.T) {
	ctx := t.Context()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	const total, size = 1000, 128
	for i := 0; i < total; i++ {
		key := strconv.Itoa(i)
		if i%2 == 1 {
			key = "user:" + key
		}
		n, err := HSet(ctx, c, "h", key, "v"+key, total, size)
		if err != nil || n != 1 {
			t.Fatalf("HSet %s = %d, %v", key, n, err)
		}
		shardKey, _ := Key("h", key, total, size, Python3)
		if got := m.HGet(shardKey, key); got != "v"+key {
			t.Fatalf("field %s not in %s", key, shardKey)
		}
	}
	if n, _ := HSet(ctx, c, "h", "user:1", "new", total, size); n != 0 {
		t.Errorf("HSet of an existing field = %d; want 0", n)
	}
	if v, err := HGet(ctx, c, "h", "user:1", total, size); err != nil || v != "new" {
		t.Errorf("HGet user:1 = %q, %v", v, err)
	}
	if v, err := HGet(ctx, c, "h", "42", total, size); err != nil || v != "v42" {
		t.Errorf("HGet 42 = %q, %v", v, err)
	}
	if _, err := HGet(ctx, c, "h", "nobody", total, size); !errors.Is(err, redis.Nil) {
		t.Errorf("HGet missing: %v; want redis.Nil", err)
	}
	// Numeric keys 0..999 fill shards 0..7 of 128 in order; the others spread over 2*1000/128 = 15.
	if got := len(m.Keys()); got > 8+15 {
		t.Errorf("%d hash shards; want at most 23", got)
	}

	for i := 0; i < 300; i++ {
		n, err := SAdd(ctx, c, "s", strconv.Itoa(i*7), total, size)
		if err != nil || n != 1 {
			t.Fatalf("SAdd %d = %d, %v", i*7, n, err)
		}
	}
	if n, _ := SAdd(ctx, c, "s", "7", total, size); n != 0 {
		t.Errorf("SAdd of a member already there = %d; want 0", n)
	}
	shardOf7, _ := Key("s", "x7", total, size, Python3)
	if ok, _ := m.SIsMember(shardOf7, "7"); !ok {
		t.Errorf("member 7 not in %s (shard_sadd hashes \"x\"+member)", shardOf7)
	}

	// Bad sizes write nothing.
	before := len(m.Keys())
	if _, err := HSet(ctx, c, "h", "k", "v", total, 0); !errors.Is(err, ErrBadShardSize) {
		t.Errorf("HSet with shard size 0: %v", err)
	}
	if _, err := SAdd(ctx, c, "s", "1", 0, size); !errors.Is(err, ErrBadTotal) {
		t.Errorf("SAdd with total 0: %v", err)
	}
	if _, err := HGet(ctx, c, "h", "k", total, -1); !errors.Is(err, ErrBadShardSize) {
		t.Errorf("HGet with shard size -1: %v", err)
	}
	if len(m.Keys()) != before {
		t.Errorf("bad input wrote keys")
	}
}

// TestRealShardEncodingAndMemory checks what sharding is for on a real server: every shard stays in
// its compact encoding (intset, listpack), and the sharded form uses much less memory than one big
// structure holding the same elements.
func TestRealShardEncodingAndMemory(t *testing.T) {
	ctx := t.Context()
	c := redistest.RunT(t, nil).Client(t)
	const total = 5000
	p := c.Pipeline()
	for i := 0; i < total; i++ {
		id := strconv.Itoa(1_000_000_000_000 + i*7919)
		set, _ := Key("ids", "x"+id, total, 512, Python3)
		p.SAdd(ctx, set, id)
		p.SAdd(ctx, "ids:all", id)
		// Redis 7 keeps a hash in a listpack up to hash-max-listpack-entries (128), so hash shards
		// of 128 hold about 64 fields at the expected size.
		h, _ := Key("names", "user:"+id, total, 128, Python3)
		p.HSet(ctx, h, "user:"+id, "n")
		p.HSet(ctx, "names:all", "user:"+id, "n")
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	measure := func(pattern, want string) (keys int, bytes int64) {
		var cursor uint64
		for {
			ks, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				if k == "ids:all" || k == "names:all" {
					continue
				}
				enc, _ := c.ObjectEncoding(ctx, k).Result()
				if enc != want {
					t.Errorf("%s is %s; want %s", k, enc, want)
				}
				n, _ := c.MemoryUsage(ctx, k).Result()
				keys++
				bytes += n
			}
			if next == 0 {
				return keys, bytes
			}
			cursor = next
		}
	}
	for _, tc := range []struct{ pattern, whole, enc string }{{"ids:*", "ids:all", "intset"}, {"names:*", "names:all", "listpack"}} {
		n, sharded := measure(tc.pattern, tc.enc)
		whole, err := c.MemoryUsage(ctx, tc.whole).Result()
		if err != nil {
			t.Fatal(err)
		}
		wholeEnc, _ := c.ObjectEncoding(ctx, tc.whole).Result()
		t.Logf("%s: %d shards, %d bytes (%.1f per element); one %s key: %d bytes (%.1f per element)",
			tc.pattern, n, sharded, float64(sharded)/total, wholeEnc, whole, float64(whole)/total)
		if sharded*2 > whole {
			t.Errorf("%s: sharded %d bytes is not under half of one %s key's %d", tc.pattern, sharded, wholeEnc, whole)
		}
	}
}

func TestShardedConnections(t *testing.T) {
	ctx := t.Context()
	cfg := miniredis.RunT(t)
	cfgClient := redis.NewClient(&redis.Options{Addr: cfg.Addr()})
	defer cfgClient.Close()
	reg, err := conn.New(cfgClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	const shards = 4
	minis := make([]*miniredis.Miniredis, shards)
	for i := range minis {
		minis[i] = miniredis.RunT(t)
		if err := reg.SetConfig(ctx, ShardComponent("svc", i), map[string]any{"host": minis[i].Host(), "port": minis[i].Server().Addr().Port}); err != nil {
			t.Fatal(err)
		}
	}
	// The book's decorated function: the key comes first, the shard's client is injected.
	put := Wrap1(reg, "svc", shards, func(ctx context.Context, c redis.Cmdable, key string, v int) (string, error) {
		return c.Set(ctx, key, v, 0).Result()
	})
	get := Wrap(reg, "svc", shards, func(ctx context.Context, c redis.Cmdable, key string) (string, error) {
		return c.Get(ctx, key).Result()
	})
	for i := 0; i < 40; i++ {
		key := fmt.Sprint("session-", i)
		if _, err := put(ctx, key, i); err != nil {
			t.Fatal(err)
		}
		comp, _ := Component("svc", key, shards)
		n, _ := Index("x"+key, shards, Python3)
		if comp != ShardComponent("svc", n) || !minis[n].Exists(key) {
			t.Errorf("%s not on %s", key, comp)
		}
		if v, err := get(ctx, key); err != nil || v != strconv.Itoa(i) {
			t.Errorf("get %s = %q, %v", key, v, err)
		}
	}
	c, release, err := Acquire(ctx, reg, "svc", "session-3", shards)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get(ctx, "session-3").Result(); v != "3" {
		t.Errorf("Acquire gave a client without session-3")
	}
	release()
	// Wrong client type and a shard without config are errors.
	bad := Wrap(reg, "svc", shards, func(ctx context.Context, c *redis.ClusterClient, key string) (int, error) { return 0, nil })
	if _, err := bad(ctx, "k"); !errors.Is(err, conn.ErrClientType) {
		t.Errorf("wrong client type: %v", err)
	}
	missing := Wrap(reg, "svc", shards+1, func(ctx context.Context, c redis.Cmdable, key string) (int, error) { return 0, nil })
	var sawMissing bool
	for i := 0; i < 50 && !sawMissing; i++ {
		_, err := missing(ctx, fmt.Sprint("k", i))
		sawMissing = errors.Is(err, conn.ErrNoConfig)
	}
	if !sawMissing {
		t.Error("no key of 50 routed to the unconfigured shard svc:4")
	}
	if _, err := Wrap(reg, "svc", 0, func(ctx context.Context, c redis.Cmdable, key string) (int, error) { return 0, nil })(ctx, "k"); !errors.Is(err, ErrBadShards) {
		t.Errorf("0 shards: %v", err)
	}
	w2 := Wrap2(reg, "svc", shards, func(ctx context.Context, c redis.Cmdable, key string, a, b int) (int, error) { return a + b, nil })
	w3 := Wrap3(reg, "svc", shards, func(ctx context.Context, c redis.Cmdable, key string, a, b, d int) (int, error) {
		return a + b + d, nil
	})
	if s, err := w2(ctx, "k", 1, 2); s != 3 || err != nil {
		t.Errorf("Wrap2 = %d, %v", s, err)
	}
	if s, err := w3(ctx, "k", 1, 2, 3); s != 6 || err != nil {
		t.Errorf("Wrap3 = %d, %v", s, err)
	}
}
