package hostset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestMapAutoBatch(t *testing.T) {
	ctx := t.Context()
	hs, minis, rec := miniHosts(t, 3, nil)
	const n = 60
	sets := make([]*redis.StatusCmd, n)
	if err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for i := range sets {
			sets[i] = p.Set(ctx, fmt.Sprint("k", i), i, 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, s := range sets {
		if s.Val() != "OK" || s.Err() != nil {
			t.Errorf("SET k%d = %q, %v", i, s.Val(), s.Err())
		}
	}
	for id := range minis {
		if got := rec.names(id); !slices.Equal(got, []string{"mset"}) {
			t.Errorf("host %d received %v; want one mset", id, got)
		}
	}
	minis[hs.HostForKey("list")].Lpush("list", "x") // a GET here would fail WRONGTYPE; MGET says nil

	rec.reset()
	gets := map[string]*redis.StringCmd{}
	withTTL := map[string]*redis.StatusCmd{}
	err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < n+5; i++ {
			k := fmt.Sprint("k", i)
			gets[k] = p.Get(ctx, k)
		}
		gets["list"] = p.Get(ctx, "list")
		for i := 0; i < 3; i++ {
			k := fmt.Sprint("ttl", i)
			withTTL[k] = p.Set(ctx, k, "v", time.Minute) // has options: never batched
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n+5; i++ {
		k := fmt.Sprint("k", i)
		v, err := gets[k].Result()
		if i < n && (err != nil || v != fmt.Sprint(i)) {
			t.Errorf("GET %s = %q, %v; want %d", k, v, err, i)
		}
		if i >= n && !errors.Is(err, redis.Nil) {
			t.Errorf("GET %s (missing) = %q, %v; want redis.Nil", k, v, err)
		}
	}
	if err := gets["list"].Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("auto-batched GET of a list: %v; want redis.Nil (MGET's answer)", err)
	}
	for k, c := range withTTL {
		if c.Err() != nil || minis[hs.HostForKey(k)].TTL(k) != time.Minute {
			t.Errorf("SET %s EX 60: %v, ttl %v", k, c.Err(), minis[hs.HostForKey(k)].TTL(k))
		}
	}
	for id := range minis {
		got := rec.names(id)
		if slices.Contains(got, "get") || !slices.Contains(got, "mget") {
			t.Errorf("host %d received %v; want mget and no get", id, got)
		}
		if slices.Contains(got, "mset") {
			t.Errorf("host %d received %v; SET with EX must not become MSET", id, got)
		}
	}

	// Switched off: each GET is sent as written, and a GET of a list fails as GET does.
	rec.reset()
	var list *redis.StringCmd
	var plain []*redis.StringCmd
	if err := hs.AutoBatch(false).Map(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 10; i++ {
			plain = append(plain, p.Get(ctx, fmt.Sprint("k", i)))
		}
		list = p.Get(ctx, "list")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for id := range minis {
		for _, name := range rec.names(id) {
			if name != "get" {
				t.Errorf("host %d received %s with auto-batching off", id, name)
			}
			total++
		}
	}
	if total != 11 {
		t.Errorf("%d GETs sent; want 11", total)
	}
	if err := list.Err(); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("unbatched GET of a list: %v; want WRONGTYPE", err)
	}
	for i, c := range plain {
		if c.Val() != fmt.Sprint(i) {
			t.Errorf("unbatched GET k%d = %q", i, c.Val())
		}
	}
}

func TestMapHostDown(t *testing.T) {
	ctx := t.Context()
	hs, minis, _ := miniHosts(t, 3, nil)
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = fmt.Sprint("key:", i)
	}
	if err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, k, 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const down = 1
	downAddr := minis[down].Addr()
	minis[down].Close()
	gets := map[string]*redis.StringCmd{}
	err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			gets[k] = p.Get(ctx, k)
		}
		return nil
	})
	var he *HostError
	if !errors.As(err, &he) || he.Host != down || !strings.Contains(err.Error(), downAddr) {
		t.Fatalf("Map error %v; want a *HostError naming host %d (%s)", err, down, downAddr)
	}
	if strings.Count(err.Error(), "hostset: host") != 1 {
		t.Errorf("Map error %q; want exactly one host named", err)
	}
	for _, k := range keys {
		v, err := gets[k].Result()
		if hs.HostForKey(k) == down {
			if !errors.As(err, &he) || he.Host != down {
				t.Errorf("GET %s on the down host: %q, %v; want *HostError for host %d", k, v, err, down)
			}
		} else if err != nil || v != k {
			t.Errorf("GET %s on a live host = %q, %v", k, v, err)
		}
	}
	// The same Hosts works again once the host is back (miniredis restarts empty on the same port).
	if err := minis[down].Restart(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if hs.HostForKey(k) != down {
			continue
		}
		if err := hs.Routing().Set(ctx, k, "again", 0).Err(); err != nil {
			t.Errorf("SET %s after restart: %v", k, err)
		}
		if v, _ := minis[down].Get(k); v != "again" {
			t.Errorf("host %d holds %s = %q after restart; want again", down, k, v)
		}
	}
}

func TestFanout(t *testing.T) {
	ctx := t.Context()
	hs, minis, _ := miniHosts(t, 4, nil)
	for i, m := range minis {
		for j := 0; j <= i; j++ {
			m.Set(fmt.Sprint("k", j), "v")
		}
	}
	sizes, err := FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	for id := range minis {
		if sizes[id].Val() != int64(id+1) {
			t.Errorf("host %d DBSIZE = %d; want %d", id, sizes[id].Val(), id+1)
		}
	}
	// Several commands per host, to some hosts only.
	var mu sync.Mutex
	got := map[int][]string{}
	cmds := map[int][]*redis.StringCmd{}
	err = hs.Fanout(ctx, []int{3, 1}, func(id int, p redis.Pipeliner) error {
		cmds[id] = []*redis.StringCmd{p.Get(ctx, "k0"), p.Get(ctx, "k3")}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for id, cs := range cmds {
		for _, c := range cs {
			got[id] = append(got[id], c.Val())
		}
	}
	mu.Unlock()
	if fmt.Sprint(got) != "map[1:[v ] 3:[v v]]" {
		t.Errorf("fanout GETs = %v", got)
	}
	// One host down: the others' results are kept.
	minis[2].Close()
	sizes, err = FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
	var he *HostError
	if !errors.As(err, &he) || he.Host != 2 {
		t.Fatalf("FanoutCmd with host 2 down: %v; want *HostError for host 2", err)
	}
	for id := range minis {
		if id == 2 {
			if !errors.As(sizes[id].Err(), &he) {
				t.Errorf("host 2 result %v; want *HostError", sizes[id].Err())
			}
			continue
		}
		if sizes[id].Err() != nil || sizes[id].Val() != int64(id+1) {
			t.Errorf("host %d DBSIZE = %d, %v; want %d", id, sizes[id].Val(), sizes[id].Err(), id+1)
		}
	}
	// Bad host lists.
	for _, hosts := range [][]int{{4}, {-1}} {
		if err := hs.Fanout(ctx, hosts, func(int, redis.Pipeliner) error { return nil }); !errors.Is(err, ErrNoHost) {
			t.Errorf("Fanout(%v): %v; want ErrNoHost", hosts, err)
		}
	}
	// fn's error stops the fanout before anything is sent.
	stop := errors.New("stop")
	if err := hs.All(ctx, func(int, redis.Pipeliner) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("All with failing fn: %v; want fn's error", err)
	}
}

func TestMapContext(t *testing.T) {
	hs, _, _ := miniHosts(t, 2, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var cmds []*redis.StringCmd
	err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 10; i++ {
			cmds = append(cmds, p.Get(ctx, fmt.Sprint(i)))
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Map with a canceled ctx: %v; want context.Canceled", err)
	}
	for _, c := range cmds {
		if !errors.Is(c.Err(), context.Canceled) {
			t.Errorf("command %v: %v; want context.Canceled", c.Args(), c.Err())
		}
	}
	// fn's error is returned and nothing is sent.
	stop := errors.New("stop")
	if err := hs.Map(context.Background(), func(p redis.Pipeliner) error { p.Set(context.Background(), "x", 1, 0); return stop }); !errors.Is(err, stop) {
		t.Errorf("Map with failing fn: %v", err)
	}
	// An unroutable command is Map's error; the others still run.
	var ok *redis.StatusCmd
	err = hs.Map(context.Background(), func(p redis.Pipeliner) error {
		p.FlushDB(context.Background())
		ok = p.Set(context.Background(), "fine", 1, 0)
		return nil
	})
	if !errors.Is(err, ErrUnroutable) || ok.Err() != nil {
		t.Errorf("Map with FLUSHDB: %v (SET: %v); want ErrUnroutable and the SET done", err, ok.Err())
	}
}
