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

func ExampleNewPartition() {
	r, _ := shard.NewPartition(3) // rb's PartitionRouter
	fmt.Println(r.HostForKey("foo"), r.HostForKey("bar"), r.HostForKey("baz"))
	// Output: 1 2 0
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
	reg := conn.New(cfgClient, nil)
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

func ExampleCluster_Map() {
	ctx := context.Background()
	hosts := map[int]map[string]any{}
	for i := 0; i < 3; i++ {
		m := miniredis.NewMiniRedis()
		m.Start()
		defer m.Close()
		hosts[i] = map[string]any{"addr": m.Addr()}
	}
	cl, _ := shard.New(&shard.Options{Hosts: hosts})
	defer cl.Close()

	keys := []string{"foo", "bar", "baz", "qux"}
	cl.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, "value of "+k, 0) // one MSET per host
		}
		return nil
	})
	results := map[string]*redis.StringCmd{}
	cl.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			results[k] = p.Get(ctx, k) // one MGET per host; results[k] is filled when Map returns
		}
		return nil
	})
	for _, k := range keys {
		fmt.Printf("%s on host %d: %s\n", k, cl.HostForKey(k), results[k].Val())
	}
	// Output:
	// foo on host 1: value of foo
	// bar on host 2: value of bar
	// baz on host 0: value of baz
	// qux on host 0: value of qux
}

func ExampleFanoutCmd() {
	ctx := context.Background()
	hosts := map[int]map[string]any{}
	for i := 0; i < 3; i++ {
		m := miniredis.NewMiniRedis()
		m.Start()
		defer m.Close()
		hosts[i] = map[string]any{"addr": m.Addr()}
	}
	cl, _ := shard.New(&shard.Options{Hosts: hosts})
	defer cl.Close()
	cl.Routing().MSet(ctx, "foo", 1, "bar", 2, "baz", 3, "qux", 4) // split per host
	sizes, _ := shard.FanoutCmd(ctx, cl, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
	for _, id := range cl.Hosts() {
		fmt.Printf("host %d: %d keys\n", id, sizes[id].Val())
	}
	// Output:
	// host 0: 2 keys
	// host 1: 1 keys
	// host 2: 1 keys
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

func ExampleNewConsistentHash() {
	r, _ := shard.NewConsistentHash(3) // nodes "0", "1", "2", weight 1
	fmt.Println(r.HostForKey("user:1"), r.HostForKey("user:2"), r.HostForKey("foo"))
	// The names are what the ring hashes: give rb's names to route as an rb cluster does.
	w, _ := shard.NewConsistentHashNodes([]shard.Node{
		{Host: 0, Name: "192.168.0.1:6000", Weight: 1},
		{Host: 1, Name: "192.168.0.1:6001", Weight: 2},
	})
	counts := make([]int, 2)
	for i := 0; i < 1000; i++ {
		counts[w.HostForKey(fmt.Sprint("key:", i))]++
	}
	fmt.Println(counts[1] > counts[0])
	// Output:
	// 1 0 2
	// true
}

func ExampleCluster_Routing() {
	ctx := context.Background()
	hosts := map[int]map[string]any{}
	for i := 0; i < 3; i++ {
		m := miniredis.NewMiniRedis()
		m.Start()
		defer m.Close()
		hosts[i] = map[string]any{"addr": m.Addr()}
	}
	cl, _ := shard.New(&shard.Options{Hosts: hosts})
	defer cl.Close()
	rc := cl.Routing() // every command goes to its key's host
	rc.Set(ctx, "foo", "1", 0)
	rc.Incr(ctx, "bar")
	fmt.Println(rc.Get(ctx, "foo").Val(), cl.HostForKey("foo"))
	fmt.Println(rc.MGet(ctx, "foo", "bar", "baz").Val()) // split per host
	err := rc.Rename(ctx, "foo", "baz").Err()            // two keys: not routable
	fmt.Println(errors.Is(err, shard.ErrUnroutable))
	// Output:
	// 1 1
	// [1 1 <nil>]
	// true
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
