package shard

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// What our patterns need on Redis Cluster that go-redis's ClusterClient lacks (see CLUSTER.md):
// a multi-key read across slots, and a SCAN of the whole keyspace.

// Slot returns key's Redis Cluster hash slot: CRC16 (XMODEM) of the key modulo 16384, or of its hash
// tag, the part between the first "{" and the next "}" when that part is not empty. Keys with the
// same tag share a slot, so multi-key commands on them work on a cluster ("{user:1}:cart",
// "{user:1}:viewed").
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % 16384)
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crc16Table[byte(c>>8)^s[i]]
	}
	return c
}

// MGet is an MGET that works on any client. On a *redis.ClusterClient, whose MGET fails with CROSSSLOT
// unless all keys share a slot (with go-redis's default command resolver), the keys are grouped by
// slot and sent as one MGET per slot in a single cluster pipeline (go-redis sends one pipeline per
// node, nodes in parallel, and follows MOVED/ASK); the values come back in the order of keys, nil for
// a missing key. It is not atomic across slots. A ClusterClient given cc.NewDynamicResolver() splits
// MGET itself (COMMAND publishes it as multi_shard) and refuses it in a pipeline, so MGet then calls
// its MGET. On any other client it is a plain MGET. Once ctx has ended it fails with an error
// wrapping ctx.Err().
func MGet(ctx context.Context, c redis.Cmdable, keys ...string) (_ []any, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok || len(keys) < 2 || splitsMGet(ctx, cc, keys) {
		return c.MGet(ctx, keys...).Result()
	}
	bySlot := map[int][]int{} // slot -> positions in keys
	var slots []int
	for i, k := range keys {
		s := Slot(k)
		if _, seen := bySlot[s]; !seen {
			slots = append(slots, s)
		}
		bySlot[s] = append(bySlot[s], i)
	}
	if len(slots) == 1 {
		return cc.MGet(ctx, keys...).Result()
	}
	cmds := make([]*redis.SliceCmd, len(slots))
	_, err = cc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range slots {
			ks := make([]string, len(bySlot[s]))
			for j, pos := range bySlot[s] {
				ks[j] = keys[pos]
			}
			cmds[i] = p.MGet(ctx, ks...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]any, len(keys))
	for i, s := range slots {
		vals := cmds[i].Val()
		for j, pos := range bySlot[s] {
			if j < len(vals) {
				out[pos] = vals[j]
			}
		}
	}
	return out, nil
}

// splitsMGet reports whether cc's command resolver gives MGET a request policy that go-redis applies
// itself and will not pipeline (multi_shard, from the dynamic resolver).
func splitsMGet(ctx context.Context, cc *redis.ClusterClient, keys []string) bool {
	r := cc.GetResolver()
	if r == nil {
		return false
	}
	p := r.GetCommandPolicy(ctx, redis.NewSliceCmd(ctx, "mget", keys[0], keys[1]))
	return p != nil && !p.CanBeUsedInPipeline()
}

// Scan calls fn with every key that matches match (SCAN ... MATCH match COUNT count), on every master
// of a *redis.ClusterClient (whose own Scan covers one node only), else on the one server. Masters are
// scanned in parallel, but fn is called by one goroutine at a time. SCAN's guarantees hold per node:
// a key present on its node for the whole scan is returned at least once; fn should tolerate
// repeats. A slot that moves during the scan (a reshard, a failover) may take its keys from a
// master not yet scanned to one already done: those are missed, so scan again after a move. The first
// error from fn or a node stops the scan and is returned; once ctx has ended, the error wraps
// ctx.Err().
func Scan(ctx context.Context, c redis.UniversalClient, match string, count int64, fn func(key string) error) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := ctx.Err(); err != nil {
		return err
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return scanNode(ctx, c, match, count, fn)
	}
	var mu sync.Mutex
	sctx, cancel := context.WithCancelCause(ctx) // the first error stops the other masters' scans
	defer cancel(nil)
	err = cc.ForEachMaster(sctx, func(ctx context.Context, node *redis.Client) error {
		err := scanNode(ctx, node, match, count, func(key string) error {
			mu.Lock()
			defer mu.Unlock()
			if context.Cause(ctx) != nil {
				return context.Cause(ctx)
			}
			// Cancel while still holding mu: no other master's key may reach fn after it failed.
			if err := fn(key); err != nil {
				cancel(err)
				return err
			}
			return nil
		})
		if err != nil {
			cancel(err)
		}
		return err
	})
	if cause := context.Cause(sctx); cause != nil && cause != context.Canceled {
		return cause
	}
	return err
}

func scanNode(ctx context.Context, c redis.Cmdable, match string, count int64, fn func(string) error) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, count).Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := fn(k); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
