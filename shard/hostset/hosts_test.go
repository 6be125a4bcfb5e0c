package hostset

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/conn/conntest"
)

func TestRoutingClient(t *testing.T) {
	ctx := t.Context()
	hs, minis, _ := miniHosts(t, 3, nil)
	rc := hs.Routing()
	keys := []string{"foo", "bar", "baz", "a", "b", "c", "user:1", "user:2"}
	for _, k := range keys {
		if err := rc.Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	for _, k := range keys {
		h := hs.HostForKey(k)
		for i, m := range minis {
			if got := m.Exists(k); got != (i == h) {
				t.Errorf("key %q on host %d: %v; want only on host %d", k, i, got, h)
			}
		}
		if v, err := rc.Get(ctx, k).Result(); err != nil || v != "v-"+k {
			t.Errorf("GET %s = %q, %v", k, v, err)
		}
	}
	// rb's vectors: foo, bar, baz on hosts 1, 2, 0.
	if got := []int{hs.HostForKey("foo"), hs.HostForKey("bar"), hs.HostForKey("baz")}; !slices.Equal(got, []int{1, 2, 0}) {
		t.Errorf("hosts of foo, bar, baz = %v; want [1 2 0]", got)
	}
	if err := rc.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET missing: %v; want redis.Nil", err)
	}
	// Multi-key commands split per host.
	vals, err := rc.MGet(ctx, "foo", "missing", "bar", "baz").Result()
	if err != nil || fmt.Sprint(vals) != "[v-foo <nil> v-bar v-baz]" {
		t.Errorf("MGET = %v, %v", vals, err)
	}
	if err := rc.MSet(ctx, "m1", "1", "m2", "2", "m3", "3").Err(); err != nil {
		t.Errorf("MSET: %v", err)
	}
	if n, err := rc.Exists(ctx, "m1", "m2", "m3", "nope", "m1").Result(); err != nil || n != 4 {
		t.Errorf("EXISTS = %d, %v; want 4", n, err)
	}
	if n, err := rc.Del(ctx, "m1", "m2", "m3", "nope").Result(); err != nil || n != 3 {
		t.Errorf("DEL = %d, %v; want 3", n, err)
	}
	// Unroutable commands.
	for name, err := range map[string]error{
		"DBSIZE": rc.DBSize(ctx).Err(),
		"RENAME": rc.Rename(ctx, "foo", "bar2").Err(),
		"WATCH":  rc.Watch(ctx, func(*redis.Tx) error { return nil }, "foo"),
		"TxPipelined": func() error {
			_, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error { p.Incr(ctx, "x"); return nil })
			return err
		}(),
	} {
		if !errors.Is(err, ErrUnroutable) {
			t.Errorf("%s: %v; want ErrUnroutable", name, err)
		}
	}
}

func TestNewBadHosts(t *testing.T) {
	m := miniredis.RunT(t)
	for name, opt := range map[string]*Options{
		"none":         nil,
		"gap":          {Hosts: map[int]map[string]any{0: {"addr": m.Addr()}, 2: {"addr": m.Addr()}}},
		"unknown key":  {Hosts: map[int]map[string]any{0: {"addr": m.Addr(), "colour": "red"}}},
		"bad port":     {Hosts: map[int]map[string]any{0: {"port": 0}}},
		"bad router":   {Hosts: map[int]map[string]any{0: {"addr": m.Addr()}}, Router: func(int) (Router, error) { return nil, errors.New("no") }},
		"bad defaults": {Hosts: map[int]map[string]any{0: {"addr": m.Addr()}}, HostDefaults: map[string]any{"socket_timeout": "soon"}},
	} {
		if hs, err := New(opt); !errors.Is(err, ErrBadHosts) {
			t.Errorf("%s: New error %v; want ErrBadHosts", name, err)
			if hs != nil {
				hs.Close()
			}
		}
	}
	if _, err := New(&Options{Hosts: map[int]map[string]any{0: {"addr": m.Addr(), "colour": "red"}}}); !errors.Is(err, conn.ErrBadConfig) || !strings.Contains(err.Error(), "host 0") {
		t.Errorf("bad config error %v; want conn.ErrBadConfig naming host 0", err)
	}
}

func TestHostDefaults(t *testing.T) {
	ctx := t.Context()
	m0, m1 := miniredis.RunT(t), miniredis.RunT(t)
	// rb's form: a shared host, ports per host; and a host that names itself by addr.
	hs, err := New(&Options{
		HostDefaults: map[string]any{"host": m0.Host(), "db": 0},
		Hosts: map[int]map[string]any{
			0: {"port": m0.Server().Addr().Port},
			1: {"addr": m1.Addr()},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	for id, m := range []*miniredis.Miniredis{m0, m1} {
		c, err := hs.Host(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "who", id, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, _ := m.Get("who"); v != fmt.Sprint(id) {
			t.Errorf("host %d's client wrote to the wrong server (got %q)", id, v)
		}
	}
	c, id, err := hs.ClientForKey(ctx, "foo")
	if err != nil || id != hs.HostForKey("foo") || c == nil {
		t.Errorf("ClientForKey(foo) = %v, %d, %v", c, id, err)
	}
	if _, err := hs.Host(ctx, 2); !errors.Is(err, ErrNoHost) {
		t.Errorf("Host(2): %v; want ErrNoHost", err)
	}
	hs.Close()
	if _, err := hs.Host(ctx, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Host after Close: %v; want ErrClosed", err)
	}
	if err := hs.Routing().Get(ctx, "foo").Err(); !errors.Is(err, ErrClosed) && !errors.Is(err, redis.ErrClosed) {
		t.Errorf("GET after Close: %v; want closed", err)
	}
}

func TestFromRegistry(t *testing.T) {
	ctx := t.Context()
	reg, _ := conntest.MiniRegistry(t)
	minis := []*miniredis.Miniredis{miniredis.RunT(t), miniredis.RunT(t), miniredis.RunT(t)}
	for i, m := range minis[:2] { // host 2 has no config
		if err := reg.SetConfig(ctx, fmt.Sprint("cache:", i), map[string]any{"addr": m.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := FromRegistry(reg, "cache", 3, &Options{Router: func(n int) (Router, error) { return NewConsistentHash(n) }})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	sets := map[string]*redis.StatusCmd{}
	err = hs.Map(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 40; i++ {
			k := fmt.Sprint("item:", i)
			sets[k] = p.Set(ctx, k, i, 0)
		}
		return nil
	})
	var he *HostError
	if !errors.As(err, &he) || he.Host != 2 || !errors.Is(err, conn.ErrNoConfig) || !strings.Contains(err.Error(), "cache:2") {
		t.Fatalf("Map error %v; want a *HostError for host 2 (cache:2) wrapping conn.ErrNoConfig", err)
	}
	for k, c := range sets {
		id := hs.HostForKey(k)
		if id == 2 {
			if !errors.Is(c.Err(), conn.ErrNoConfig) {
				t.Errorf("SET %s on host 2: %v; want ErrNoConfig", k, c.Err())
			}
			continue
		}
		if c.Err() != nil || !minis[id].Exists(k) {
			t.Errorf("SET %s on host %d: %v, exists %v", k, id, c.Err(), minis[id].Exists(k))
		}
	}
	if _, err := FromRegistry(reg, "cache", 0, nil); !errors.Is(err, ErrBadHosts) {
		t.Errorf("FromRegistry with 0 hosts: %v; want ErrBadHosts", err)
	}
}
