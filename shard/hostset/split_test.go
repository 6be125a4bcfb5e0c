package hostset

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestSplitProperty: random MSET, MGET, EXISTS, DEL and UNLINK over random keys (repeats included)
// answer through the routing client as one server answers them unsplit; each key lives on its own
// host only; and each host gets one command per split command, the hosts without its keys none.
func TestSplitProperty(t *testing.T) {
	ctx := t.Context()
	hs, minis, rec := miniHosts(t, 4, nil)
	ref := miniredis.RunT(t)
	refc := redis.NewClient(&redis.Options{Addr: ref.Addr()})
	defer refc.Close()
	rc := hs.Routing()
	state := uint64(time.Now().UnixNano())
	t.Logf("rand.NewPCG(%d, ...)", state)
	r := rand.New(rand.NewPCG(state, 11))
	universe := make([]string, 16)
	for i := range universe {
		universe[i] = fmt.Sprint("k", i)
	}
	for i := 0; i < 300; i++ {
		keys := make([]string, 2+r.IntN(7))
		for j := range keys {
			keys[j] = universe[r.IntN(len(universe))]
		}
		args := make([]any, len(keys))
		for j, k := range keys {
			args[j] = k
		}
		rec.reset()
		var got, want any
		var gotErr, wantErr error
		op := []string{"mset", "mget", "exists", "del", "unlink"}[r.IntN(5)]
		switch op {
		case "mset":
			pairs := make([]any, 0, 2*len(keys))
			for _, k := range keys {
				pairs = append(pairs, k, fmt.Sprint(r.IntN(1000)))
			}
			got, gotErr = rc.MSet(ctx, pairs...).Result()
			want, wantErr = refc.MSet(ctx, pairs...).Result()
		case "mget":
			got, gotErr = rc.MGet(ctx, keys...).Result()
			want, wantErr = refc.MGet(ctx, keys...).Result()
		case "exists":
			got, gotErr = rc.Exists(ctx, keys...).Result()
			want, wantErr = refc.Exists(ctx, keys...).Result()
		case "del":
			got, gotErr = rc.Del(ctx, keys...).Result()
			want, wantErr = refc.Del(ctx, keys...).Result()
		case "unlink":
			got, gotErr = rc.Unlink(ctx, keys...).Result()
			want, wantErr = refc.Unlink(ctx, keys...).Result()
		}
		if gotErr != nil || wantErr != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s %v = %v, %v; one server says %v, %v", op, keys, got, gotErr, want, wantErr)
		}
		hosts := map[int]bool{}
		for _, k := range keys {
			hosts[hs.HostForKey(k)] = true
		}
		for id := range minis {
			sent := rec.names(id)
			if hosts[id] && !slices.Equal(sent, []string{op}) || !hosts[id] && len(sent) != 0 {
				t.Fatalf("%s %v: host %d received %v; want %v", op, keys, id, sent, map[bool][]string{true: {op}}[hosts[id]])
			}
		}
		for _, k := range universe {
			v, _ := ref.Get(k)
			for id, m := range minis {
				mv, _ := m.Get(k)
				if on := id == hs.HostForKey(k); on && mv != v || !on && m.Exists(k) {
					t.Fatalf("after %s %v: key %s on host %d is %q; one server holds %q (its host is %d)", op, keys, k, id, mv, v, hs.HostForKey(k))
				}
			}
		}
	}
}
