package shard

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

func TestSlotVectors(t *testing.T) {
	// From the Redis Cluster specification and CLUSTER KEYSLOT.
	for key, want := range map[string]int{
		"123456789": 0x31c3 % 16384, "foo": 12182, "bar": 5061, "{user1000}.following": 3443,
		"{user1000}.followers": 3443, "": 0,
	} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d; want %d", key, got, want)
		}
	}
	if Slot("foo{}{bar}") == Slot("bar") { // an empty tag means the whole key is hashed
		t.Error("Slot(foo{}{bar}) hashed only bar")
	}
	if Slot("{a}x") != Slot("a") || Slot("x{a}y{b}") != Slot("a") {
		t.Error("hash tag not used")
	}
}

func TestMGetAndScanPlainClient(t *testing.T) {
	ctx := t.Context()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	m.Set("a", "1")
	m.Set("c", "3")
	vals, err := MGet(ctx, c, "a", "b", "c")
	if err != nil || fmt.Sprint(vals) != "[1 <nil> 3]" {
		t.Errorf("MGet = %v, %v", vals, err)
	}
	var keys []string
	if err := Scan(ctx, c, "*", 10, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if fmt.Sprint(keys) != "[a c]" {
		t.Errorf("Scan = %v", keys)
	}
}

// TestRedisCluster checks the helpers against a real Redis Cluster: Slot agrees with the server,
// MGet works across slots where MGET fails with CROSSSLOT, and Scan sees every master's keys.
func TestRedisCluster(t *testing.T) {
	ctx := t.Context()
	rc := redistest.RunClusterT(t, &redistest.ClusterOptions{ReplicasPerMaster: -1})
	cc := rc.Client(t)

	t.Run("Slot", func(t *testing.T) {
		node := rc.Nodes[0].Client(t)
		for i := 0; i < 300; i++ {
			key := fmt.Sprintf("key:%d", i)
			if i%3 == 0 {
				key = fmt.Sprintf("{user:%d}:cart", i%17)
			}
			want, err := node.ClusterKeySlot(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := Slot(key); int64(got) != want {
				t.Errorf("Slot(%q) = %d; CLUSTER KEYSLOT says %d", key, got, want)
			}
		}
	})

	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprint("k:", i)
		if err := cc.Set(ctx, keys[i], i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("MGet", func(t *testing.T) {
		if err := cc.MGet(ctx, keys...).Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
			t.Fatalf("go-redis MGET across slots: %v; want CROSSSLOT (else this helper is not needed)", err)
		}
		ask := append(slices.Clone(keys), "missing")
		vals, err := MGet(ctx, cc, ask...)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if vals[i] != fmt.Sprint(i) {
				t.Errorf("MGet %s = %v; want %d", k, vals[i], i)
			}
		}
		if vals[len(keys)] != nil {
			t.Errorf("MGet missing = %v; want nil", vals[len(keys)])
		}
		// One slot: a plain MGET.
		vals, err = MGet(ctx, cc, "{t}a", "{t}b")
		if err != nil || fmt.Sprint(vals) != "[<nil> <nil>]" {
			t.Errorf("MGet one slot = %v, %v", vals, err)
		}
	})

	// With go-redis's dynamic resolver, COMMAND's request_policy:multi_shard for MGET makes go-redis
	// split MGET itself and refuse it in a pipeline; MGet must still answer, in key order.
	t.Run("MGetDynamicResolver", func(t *testing.T) {
		dc := rc.Client(t)
		dc.SetCommandInfoResolver(dc.NewDynamicResolver())
		ask := append(slices.Clone(keys), "missing")
		_, err := dc.Pipelined(ctx, func(p redis.Pipeliner) error { p.MGet(ctx, keys[0], keys[1]); return nil })
		if err == nil || !strings.Contains(err.Error(), "cannot pipeline") {
			t.Fatalf("pipelined MGET under the dynamic resolver: %v; want go-redis's refusal (else the fallback is not needed)", err)
		}
		vals, err := MGet(ctx, dc, ask...)
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) != len(ask) {
			t.Fatalf("MGet returned %d values; want %d", len(vals), len(ask))
		}
		for i, k := range keys {
			if vals[i] != fmt.Sprint(i) {
				t.Errorf("MGet %s = %v; want %d", k, vals[i], i)
			}
		}
		if vals[len(keys)] != nil {
			t.Errorf("MGet missing = %v; want nil", vals[len(keys)])
		}
	})

	t.Run("Scan", func(t *testing.T) {
		one, _, err := cc.Scan(ctx, 0, "k:*", 1000).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(one) >= len(keys) {
			t.Fatalf("go-redis Scan saw %d of %d keys; expected one node's share (else this helper is not needed)", len(one), len(keys))
		}
		var seen []string
		if err := Scan(ctx, cc, "k:*", 7, func(k string) error { seen = append(seen, k); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(seen)
		seen = slices.Compact(seen)
		want := slices.Sorted(slices.Values(keys))
		if !slices.Equal(seen, want) {
			t.Errorf("Scan saw %d keys; want all %d", len(seen), len(want))
		}
		// fn is never called again once it failed, whichever call fails: the masters race to deliver.
		stop := errors.New("stop")
		for i := range 40 {
			at := 1 + rand.IntN(len(keys))
			if i < 10 {
				at = 1
			}
			calls := 0
			err = Scan(ctx, cc, "k:*", 5, func(string) error {
				calls++
				if calls >= at {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || calls != at {
				t.Fatalf("Scan with fn failing at call %d: %v after %d calls; want stop after %d", at, err, calls, at)
			}
		}
	})

	t.Run("deadline", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		if err := Scan(c, cc, "*", 10, func(string) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("Scan with canceled ctx: %v", err)
		}
	})
}
