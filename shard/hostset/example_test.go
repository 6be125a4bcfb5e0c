package hostset_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/shard/hostset"
)

func ExampleNewPartition() {
	r, _ := hostset.NewPartition(3) // rb's PartitionRouter
	fmt.Println(r.HostForKey("foo"), r.HostForKey("bar"), r.HostForKey("baz"))
	// Output: 1 2 0
}

func ExampleHosts_Map() {
	ctx := context.Background()
	hosts := map[int]map[string]any{}
	for i := 0; i < 3; i++ {
		m := miniredis.NewMiniRedis()
		m.Start()
		defer m.Close()
		hosts[i] = map[string]any{"addr": m.Addr()}
	}
	hs, _ := hostset.New(&hostset.Options{Hosts: hosts})
	defer hs.Close()

	keys := []string{"foo", "bar", "baz", "qux"}
	hs.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, "value of "+k, 0) // one MSET per host
		}
		return nil
	})
	results := map[string]*redis.StringCmd{}
	hs.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			results[k] = p.Get(ctx, k) // one MGET per host; results[k] is filled when Map returns
		}
		return nil
	})
	for _, k := range keys {
		fmt.Printf("%s on host %d: %s\n", k, hs.HostForKey(k), results[k].Val())
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
	hs, _ := hostset.New(&hostset.Options{Hosts: hosts})
	defer hs.Close()
	hs.Routing().MSet(ctx, "foo", 1, "bar", 2, "baz", 3, "qux", 4) // split per host
	sizes, _ := hostset.FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
	for _, id := range hs.IDs() {
		fmt.Printf("host %d: %d keys\n", id, sizes[id].Val())
	}
	// Output:
	// host 0: 2 keys
	// host 1: 1 keys
	// host 2: 1 keys
}

func ExampleNewConsistentHash() {
	r, _ := hostset.NewConsistentHash(3) // nodes "0", "1", "2", weight 1
	fmt.Println(r.HostForKey("user:1"), r.HostForKey("user:2"), r.HostForKey("foo"))
	// The names are what the ring hashes: give rb's names to route as an rb cluster does.
	w, _ := hostset.NewConsistentHashNodes([]hostset.Node{
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

func ExampleHosts_Routing() {
	ctx := context.Background()
	hosts := map[int]map[string]any{}
	for i := 0; i < 3; i++ {
		m := miniredis.NewMiniRedis()
		m.Start()
		defer m.Close()
		hosts[i] = map[string]any{"addr": m.Addr()}
	}
	hs, _ := hostset.New(&hostset.Options{Hosts: hosts})
	defer hs.Close()
	rc := hs.Routing() // every command goes to its key's host
	rc.Set(ctx, "foo", "1", 0)
	rc.Incr(ctx, "bar")
	fmt.Println(rc.Get(ctx, "foo").Val(), hs.HostForKey("foo"))
	fmt.Println(rc.MGet(ctx, "foo", "bar", "baz").Val()) // split per host
	err := rc.Rename(ctx, "foo", "baz").Err()            // two keys: not routable
	fmt.Println(errors.Is(err, hostset.ErrUnroutable))
	// Output:
	// 1 1
	// [1 1 <nil>]
	// true
}

// Hosts from a registry: host i is component name:i, read from config:redis:name:i. All asks every
// host; a host that is down fails only its own commands, with a *HostError naming it.
func ExampleFromRegistry() {
	ctx := context.Background()
	cfgServer := miniredis.NewMiniRedis()
	cfgServer.Start()
	defer cfgServer.Close()
	cfg := redis.NewClient(&redis.Options{Addr: cfgServer.Addr()})
	defer cfg.Close()
	reg, _ := conn.New(cfg, nil)
	defer reg.Close()
	up := miniredis.NewMiniRedis()
	up.Start()
	defer up.Close()
	up.Set("greeting", "hello")
	reg.SetConfig(ctx, "app:0", map[string]any{"addr": up.Addr()})
	cfgServer.Set("config:redis:app:1", `{"addr": "127.0.0.1:1"}`) // nothing listens there

	hs, _ := hostset.FromRegistry(reg, "app", 2, nil)
	defer hs.Close()
	got := map[int]*redis.IntCmd{}
	err := hs.All(ctx, func(host int, p redis.Pipeliner) error {
		got[host] = p.DBSize(ctx)
		return nil
	})
	fmt.Println("host 0 keys:", got[0].Val())
	var he *hostset.HostError
	if errors.As(got[1].Err(), &he) {
		fmt.Println("host", he.Host, "is down:", he.Addr)
	}
	fmt.Println("All failed:", err != nil)
	// Output:
	// host 0 keys: 1
	// host 1 is down: app:1
	// All failed: true
}
