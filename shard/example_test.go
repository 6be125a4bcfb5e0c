package shard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/shard"
)

func ExampleKey() {
	// shard_key for count_visit's sets: 1536 expected ids in shards of 512 gives 6 shards, a count
	// that is not a power of two, so the Python 3 and Python 2 (rb) hashes disagree.
	py3, _ := shard.Key("unique:2024-03-01", "x1", 1536, 512, shard.Python3)
	py2, _ := shard.Key("unique:2024-03-01", "x1", 1536, 512, shard.Python2)
	// A key of digits is divided, in base 10: int("010") // 3 is 3 (octal would give 2, hashing
	// something else).
	num, _ := shard.Key("user", "010", 1536, 3, shard.Python3)
	fmt.Println(py3, py2, num)
	// Output: unique:2024-03-01:3 unique:2024-03-01:5 user:3
}

func ExampleSAdd() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	m.Start()
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	for _, id := range []string{"1001", "1004", "1005", "1001"} {
		added, _ := shard.SAdd(ctx, c, "unique:2024-03-01", id, 1536, 512)
		set, _ := shard.Key("unique:2024-03-01", "x"+id, 1536, 512, shard.Python3)
		fmt.Println(id, set, added)
	}
	// Output:
	// 1001 unique:2024-03-01:2 1
	// 1004 unique:2024-03-01:3 1
	// 1005 unique:2024-03-01:5 1
	// 1001 unique:2024-03-01:2 0
}

func ExampleWrap1() {
	ctx := context.Background()
	cfg := miniredis.NewMiniRedis()
	cfg.Start()
	defer cfg.Close()
	cfgClient := redis.NewClient(&redis.Options{Addr: cfg.Addr()})
	defer cfgClient.Close()
	reg, _ := conn.New(cfgClient, nil)
	defer reg.Close()
	for i := 0; i < 2; i++ { // config:redis:views:0 and config:redis:views:1
		m := miniredis.NewMiniRedis()
		m.Start()
		defer m.Close()
		reg.SetConfig(ctx, shard.ShardComponent("views", i), map[string]any{"addr": m.Addr()})
	}
	// The book's @sharded_connection('views', 2): the key picks the server.
	view := shard.Wrap1(reg, "views", 2, func(ctx context.Context, c redis.Cmdable, page string, n int64) (int64, error) {
		return c.IncrBy(ctx, "views:"+page, n).Result()
	})
	for _, page := range []string{"home", "cart", "home"} {
		n, _ := view(ctx, page, 1)
		comp, _ := shard.Component("views", page, 2)
		fmt.Println(page, comp, n)
	}
	// Output:
	// home views:1 1
	// cart views:0 1
	// home views:1 2
}

func ExampleHSet() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	m.Start()
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	// shard_hset / shard_hget: the field is the unsharded key, the hash is shard_key's.
	for _, k := range []string{"010", "011", "512", "alice"} {
		shard.HSet(ctx, c, "users", k, "v"+k, 1000, 512)
	}
	v, _ := shard.HGet(ctx, c, "users", "011", 1000, 512)
	_, err := shard.HGet(ctx, c, "users", "bob", 1000, 512)
	fmt.Println(v, err == redis.Nil)
	for _, key := range m.Keys() {
		fields, _ := m.HKeys(key)
		fmt.Println(key, fields)
	}
	// Output:
	// v011 true
	// users:0 [010 011]
	// users:1 [512]
	// users:2 [alice]
}

func ExampleMGet() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	m.Start()
	defer m.Close()
	m.Set("a", "1")
	m.Set("c", "3")
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	// On a plain client a plain MGET; on a *redis.ClusterClient one MGET per slot.
	vals, _ := shard.MGet(ctx, c, "a", "b", "c")
	fmt.Println(vals)
	// Output: [1 <nil> 3]
}

func ExampleScan() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	m.Start()
	defer m.Close()
	for _, k := range []string{"user:1", "user:2", "item:1"} {
		m.Set(k, "x")
	}
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	// On a *redis.ClusterClient every master is scanned; here the one server.
	var keys []string
	shard.Scan(ctx, c, "user:*", 100, func(k string) error { keys = append(keys, k); return nil })
	slices.Sort(keys)
	fmt.Println(keys)
	// Output: [user:1 user:2]
}

func ExampleIndex() {
	// crc32 % n in each mode: the book's Python 3 hash, and rb's signed Python 2 one.
	py3, _ := shard.Index("foo", 3, shard.Python3)
	py2, _ := shard.Index("foo", 3, shard.Python2)
	_, err := shard.Index("中文", 3, shard.Python3) // latin-1 cannot encode it, as in Python 3
	fmt.Println(py3, py2, errors.Is(err, shard.ErrNotLatin1))
	// Output: 2 1 true
}

func ExampleSlot() {
	// Keys with the same hash tag share a Redis Cluster slot, so multi-key commands work on them.
	fmt.Println(shard.Slot("foo"), shard.Slot("{user:1}:cart") == shard.Slot("{user:1}:viewed"))
	// Output: 12182 true
}
