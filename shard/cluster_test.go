package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// recorder records the commands each host's client sends, as the server would see them.
type recorder struct {
	mu   sync.Mutex
	sent map[int][]string
}

func (r *recorder) names(id int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent[id])
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = map[int][]string{}
}

type recordHook struct {
	r  *recorder
	id int
}

func (h recordHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h recordHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd)
		return next(ctx, cmd)
	}
}
func (h recordHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.add(c)
		}
		return next(ctx, cmds)
	}
}
func (h recordHook) add(cmd redis.Cmder) {
	if cmd.Name() == "hello" || cmd.Name() == "client" {
		return // connection setup
	}
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	h.r.sent[h.id] = append(h.r.sent[h.id], cmd.Name())
}

// miniCluster starts n miniredis hosts and a cluster over them whose clients record their commands.
func miniCluster(t *testing.T, n int, opt *Options) (*Cluster, []*miniredis.Miniredis, *recorder) {
	t.Helper()
	var o Options
	if opt != nil {
		o = *opt
	}
	rec := &recorder{sent: map[int][]string{}}
	o.Hosts = map[int]map[string]any{}
	minis := make([]*miniredis.Miniredis, n)
	for i := range minis {
		minis[i] = miniredis.RunT(t)
		o.Hosts[i] = map[string]any{"addr": minis[i].Addr()}
	}
	o.HostDefaults = map[string]any{"dial_timeout": 1}
	o.NewClient = func(id int, cfg *conn.Config) (redis.UniversalClient, error) {
		c, err := cfg.NewClient()
		if err == nil {
			c.AddHook(recordHook{r: rec, id: id})
		}
		return c, err
	}
	cl, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, minis, rec
}

func TestRoutingClient(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	cl, minis, _ := miniCluster(t, 3, nil)
	rc := cl.Routing()
	keys := []string{"foo", "bar", "baz", "a", "b", "c", "user:1", "user:2"}
	for _, k := range keys {
		if err := rc.Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	for _, k := range keys {
		h := cl.HostForKey(k)
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
	if got := []int{cl.HostForKey("foo"), cl.HostForKey("bar"), cl.HostForKey("baz")}; !slices.Equal(got, []int{1, 2, 0}) {
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

func TestMapAutoBatch(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	cl, minis, rec := miniCluster(t, 3, nil)
	const n = 60
	sets := make([]*redis.StatusCmd, n)
	if err := cl.Map(ctx, func(p redis.Pipeliner) error {
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
	minis[cl.HostForKey("list")].Lpush("list", "x") // a GET here would fail WRONGTYPE; MGET says nil

	rec.reset()
	gets := map[string]*redis.StringCmd{}
	withTTL := map[string]*redis.StatusCmd{}
	err := cl.Map(ctx, func(p redis.Pipeliner) error {
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
		if c.Err() != nil || minis[cl.HostForKey(k)].TTL(k) != time.Minute {
			t.Errorf("SET %s EX 60: %v, ttl %v", k, c.Err(), minis[cl.HostForKey(k)].TTL(k))
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
	if err := cl.AutoBatch(false).Map(ctx, func(p redis.Pipeliner) error {
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
	ctx := ctxT(t, 60*time.Second)
	cl, minis, _ := miniCluster(t, 3, nil)
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = fmt.Sprint("key:", i)
	}
	if err := cl.Map(ctx, func(p redis.Pipeliner) error {
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
	err := cl.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			gets[k] = p.Get(ctx, k)
		}
		return nil
	})
	var he *HostError
	if !errors.As(err, &he) || he.Host != down || !strings.Contains(err.Error(), downAddr) {
		t.Fatalf("Map error %v; want a *HostError naming host %d (%s)", err, down, downAddr)
	}
	if strings.Count(err.Error(), "shard: host") != 1 {
		t.Errorf("Map error %q; want exactly one host named", err)
	}
	for _, k := range keys {
		v, err := gets[k].Result()
		if cl.HostForKey(k) == down {
			if !errors.As(err, &he) || he.Host != down {
				t.Errorf("GET %s on the down host: %q, %v; want *HostError for host %d", k, v, err, down)
			}
		} else if err != nil || v != k {
			t.Errorf("GET %s on a live host = %q, %v", k, v, err)
		}
	}
	// The same cluster works again once the host is back (miniredis restarts empty on the same port).
	if err := minis[down].Restart(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if cl.HostForKey(k) != down {
			continue
		}
		if err := cl.Routing().Set(ctx, k, "again", 0).Err(); err != nil {
			t.Errorf("SET %s after restart: %v", k, err)
		}
		if v, _ := minis[down].Get(k); v != "again" {
			t.Errorf("host %d holds %s = %q after restart; want again", down, k, v)
		}
	}
}

func TestFanout(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	cl, minis, _ := miniCluster(t, 4, nil)
	for i, m := range minis {
		for j := 0; j <= i; j++ {
			m.Set(fmt.Sprint("k", j), "v")
		}
	}
	sizes, err := FanoutCmd(ctx, cl, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
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
	err = cl.Fanout(ctx, []int{3, 1}, func(id int, p redis.Pipeliner) error {
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
	sizes, err = FanoutCmd(ctx, cl, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
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
		if err := cl.Fanout(ctx, hosts, func(int, redis.Pipeliner) error { return nil }); !errors.Is(err, ErrNoHost) {
			t.Errorf("Fanout(%v): %v; want ErrNoHost", hosts, err)
		}
	}
	// fn's error stops the fanout before anything is sent.
	stop := errors.New("stop")
	if err := cl.All(ctx, func(int, redis.Pipeliner) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("All with failing fn: %v; want fn's error", err)
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
		if cl, err := New(opt); !errors.Is(err, ErrBadHosts) {
			t.Errorf("%s: New error %v; want ErrBadHosts", name, err)
			if cl != nil {
				cl.Close()
			}
		}
	}
	if _, err := New(&Options{Hosts: map[int]map[string]any{0: {"addr": m.Addr(), "colour": "red"}}}); !errors.Is(err, conn.ErrBadConfig) || !strings.Contains(err.Error(), "host 0") {
		t.Errorf("bad config error %v; want conn.ErrBadConfig naming host 0", err)
	}
}

func TestHostDefaults(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	m0, m1 := miniredis.RunT(t), miniredis.RunT(t)
	// rb's form: a shared host, ports per host; and a host that names itself by addr.
	cl, err := New(&Options{
		HostDefaults: map[string]any{"host": m0.Host(), "db": 0},
		Hosts: map[int]map[string]any{
			0: {"port": m0.Server().Addr().Port},
			1: {"addr": m1.Addr()},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for id, m := range []*miniredis.Miniredis{m0, m1} {
		c, err := cl.Host(ctx, id)
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
	c, id, err := cl.ClientForKey(ctx, "foo")
	if err != nil || id != cl.HostForKey("foo") || c == nil {
		t.Errorf("ClientForKey(foo) = %v, %d, %v", c, id, err)
	}
	if _, err := cl.Host(ctx, 2); !errors.Is(err, ErrNoHost) {
		t.Errorf("Host(2): %v; want ErrNoHost", err)
	}
	cl.Close()
	if _, err := cl.Host(ctx, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Host after Close: %v; want ErrClosed", err)
	}
	if err := cl.Routing().Get(ctx, "foo").Err(); !errors.Is(err, ErrClosed) && !errors.Is(err, redis.ErrClosed) {
		t.Errorf("GET after Close: %v; want closed", err)
	}
}

func TestFromRegistry(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	cfgServer := miniredis.RunT(t)
	cfgClient := redis.NewClient(&redis.Options{Addr: cfgServer.Addr()})
	defer cfgClient.Close()
	reg := conn.New(cfgClient, nil)
	defer reg.Close()
	minis := []*miniredis.Miniredis{miniredis.RunT(t), miniredis.RunT(t), miniredis.RunT(t)}
	for i, m := range minis[:2] { // host 2 has no config
		if err := reg.SetConfig(ctx, fmt.Sprint("cache:", i), map[string]any{"addr": m.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := FromRegistry(reg, "cache", 3, &Options{Router: func(n int) (Router, error) { return NewConsistentHash(n) }})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sets := map[string]*redis.StatusCmd{}
	err = cl.Map(ctx, func(p redis.Pipeliner) error {
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
		id := cl.HostForKey(k)
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

func TestMapContext(t *testing.T) {
	cl, _, _ := miniCluster(t, 2, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var cmds []*redis.StringCmd
	err := cl.Map(ctx, func(p redis.Pipeliner) error {
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
	if err := cl.Map(context.Background(), func(p redis.Pipeliner) error { p.Set(context.Background(), "x", 1, 0); return stop }); !errors.Is(err, stop) {
		t.Errorf("Map with failing fn: %v", err)
	}
	// An unroutable command is Map's error; the others still run.
	var ok *redis.StatusCmd
	err = cl.Map(context.Background(), func(p redis.Pipeliner) error {
		p.FlushDB(context.Background())
		ok = p.Set(context.Background(), "fine", 1, 0)
		return nil
	})
	if !errors.Is(err, ErrUnroutable) || ok.Err() != nil {
		t.Errorf("Map with FLUSHDB: %v (SET: %v); want ErrUnroutable and the SET done", err, ok.Err())
	}
}
