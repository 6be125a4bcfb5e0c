package hostset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// realHosts starts n real redis-servers and a Hosts over them.
func realHosts(t testing.TB, n int, opt *Options) (*Hosts, redistest.Group) {
	t.Helper()
	g := redistest.RunShardsT(t, n, nil)
	var o Options
	if opt != nil {
		o = *opt
	}
	o.Hosts = map[int]map[string]any{}
	for i, s := range g {
		o.Hosts[i] = map[string]any{"addr": s.Addr()}
	}
	o.HostDefaults = map[string]any{"dial_timeout": 1, "socket_timeout": 5}
	hs, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close() })
	return hs, g
}

// commandCalls reads INFO commandstats on every host: host -> command -> calls.
func commandCalls(t *testing.T, ctx context.Context, hs *Hosts) map[int]map[string]int {
	t.Helper()
	infos, err := FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.StringCmd { return p.Info(ctx, "commandstats") })
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]map[string]int{}
	for id, info := range infos {
		out[id] = map[string]int{}
		for _, line := range strings.Split(info.Val(), "\r\n") {
			name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
			if !ok {
				continue
			}
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			out[id][name] = n
		}
	}
	return out
}

func resetStats(t *testing.T, ctx context.Context, hs *Hosts) {
	t.Helper()
	if _, err := FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.StatusCmd { return p.ConfigResetStat(ctx) }); err != nil {
		t.Fatal(err)
	}
}

// TestRealAutoBatchCommandStats proves auto-batching with the servers' own statistics: a Map of many
// GETs reaches each host as one MGET, and SETs as one MSET.
func TestRealAutoBatchCommandStats(t *testing.T) {
	ctx := t.Context()
	hs, _ := realHosts(t, 4, nil)
	const n = 400
	perHost := map[int]int{}
	for i := 0; i < n; i++ {
		perHost[hs.HostForKey(fmt.Sprint("key:", i))]++
	}
	if len(perHost) != 4 {
		t.Fatalf("keys spread over %d hosts; want 4", len(perHost))
	}

	resetStats(t, ctx, hs)
	if err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < n; i++ {
			p.Set(ctx, fmt.Sprint("key:", i), i, 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	gets := make([]*redis.StringCmd, n)
	if err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for i := range gets {
			gets[i] = p.Get(ctx, fmt.Sprint("key:", i))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, g := range gets {
		if g.Val() != strconv.Itoa(i) {
			t.Fatalf("GET key:%d = %q, %v", i, g.Val(), g.Err())
		}
	}
	calls := commandCalls(t, ctx, hs)
	for id, c := range calls {
		if c["mset"] != 1 || c["set"] != 0 || c["mget"] != 1 || c["get"] != 0 {
			t.Errorf("host %d (%d keys) commandstats: mset=%d set=%d mget=%d get=%d; want one MSET and one MGET",
				id, perHost[id], c["mset"], c["set"], c["mget"], c["get"])
		}
	}

	// Off: one GET per key reaches its host.
	resetStats(t, ctx, hs)
	if err := hs.AutoBatch(false).Map(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < n; i++ {
			p.Get(ctx, fmt.Sprint("key:", i))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id, c := range commandCalls(t, ctx, hs) {
		if c["get"] != perHost[id] || c["mget"] != 0 {
			t.Errorf("host %d without auto-batching: get=%d mget=%d; want get=%d", id, c["get"], c["mget"], perHost[id])
		}
	}
}

// TestRealFanout sends to 4 real servers and reads results keyed by host.
func TestRealFanout(t *testing.T) {
	ctx := t.Context()
	hs, g := realHosts(t, 4, nil)
	if err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 200; i++ {
			p.Set(ctx, fmt.Sprint("k", i), "v", 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sizes, err := FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for id, s := range g {
		c := s.Client(t)
		want, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if sizes[id].Val() != want || want == 0 {
			t.Errorf("host %d DBSIZE via fanout %d; server says %d", id, sizes[id].Val(), want)
		}
		total += want
	}
	if total != 200 {
		t.Errorf("keys on all hosts %d; want 200", total)
	}
	ports, err := FanoutCmd(ctx, hs, []int{2, 0}, func(p redis.Pipeliner) *redis.MapStringStringCmd {
		return p.ConfigGet(ctx, "port")
	})
	if err != nil || len(ports) != 2 || ports[2].Val()["port"] != strconv.Itoa(g[2].Port()) || ports[0].Val()["port"] != strconv.Itoa(g[0].Port()) {
		t.Errorf("CONFIG GET port on hosts 2, 0 = %v, %v", ports, err)
	}
	if err := hs.All(ctx, func(_ int, p redis.Pipeliner) error { p.FlushDB(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	sizes, _ = FanoutCmd(ctx, hs, nil, func(p redis.Pipeliner) *redis.IntCmd { return p.DBSize(ctx) })
	for id, s := range sizes {
		if s.Val() != 0 {
			t.Errorf("host %d holds %d keys after All(FLUSHDB)", id, s.Val())
		}
	}
}

// TestRealHostDown kills one of 4 servers: only its keys fail, with an error naming it; no key goes
// elsewhere; after a restart the same Hosts serves them again. A paused host fails at the deadline.
func TestRealHostDown(t *testing.T) {
	ctx := t.Context()
	hs, g := realHosts(t, 4, nil)
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = fmt.Sprint("item:", i)
	}
	set := func(ctx context.Context, val string) (map[string]*redis.StatusCmd, error) {
		cmds := map[string]*redis.StatusCmd{}
		err := hs.Map(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				cmds[k] = p.Set(ctx, k, val, 0)
			}
			return nil
		})
		return cmds, err
	}
	if _, err := set(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	const down = 2
	if err := g[down].Kill(); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		cmds, err := set(ctx, "two")
		var he *HostError
		if !errors.As(err, &he) || he.Host != down || !strings.Contains(err.Error(), g[down].Addr()) || strings.Count(err.Error(), "hostset: host") != 1 {
			t.Fatalf("Map with host %d killed: %v; want one *HostError naming host %d (%s)", down, err, down, g[down].Addr())
		}
		for k, c := range cmds {
			if hs.HostForKey(k) == down {
				if !errors.As(c.Err(), &he) || he.Host != down {
					t.Errorf("SET %s (host %d): %v; want its *HostError", k, down, c.Err())
				}
			} else if c.Err() != nil {
				t.Errorf("SET %s on live host %d: %v", k, hs.HostForKey(k), c.Err())
			}
		}
	}
	// No key of the dead host went anywhere else.
	for id, s := range g {
		if id == down {
			continue
		}
		c := s.Client(t)
		for _, k := range keys {
			v, err := c.Get(ctx, k).Result()
			owner := hs.HostForKey(k)
			if owner == id && v != "two" {
				t.Errorf("host %d: %s = %q, %v; want two", id, k, v, err)
			}
			if owner != id && !errors.Is(err, redis.Nil) {
				t.Errorf("host %d holds %s, which belongs to host %d", id, k, owner)
			}
		}
	}
	// Restart: the same Hosts (and client) reaches the host again.
	if err := g[down].Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if cmds, err := set(ctx, "three"); err != nil {
		t.Fatalf("Map after restart: %v (%d cmds)", err, len(cmds))
	}
	if v, err := hs.Routing().Get(ctx, keysOn(hs, keys, down)[0]).Result(); err != nil || v != "three" {
		t.Errorf("GET on the restarted host = %q, %v", v, err)
	}

	// A paused host answers nothing: its keys fail when the deadline passes, the others do not wait.
	const paused = 3
	if err := g[paused].Pause(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	cmds, err := set(short, "four")
	cancel()
	if err2 := g[paused].Resume(); err2 != nil {
		t.Fatal(err2)
	}
	var he *HostError
	if !errors.As(err, &he) || he.Host != paused {
		t.Fatalf("Map with host %d paused: %v; want its *HostError", paused, err)
	}
	for k, c := range cmds {
		if h := hs.HostForKey(k); h != paused && c.Err() != nil {
			t.Errorf("SET %s on host %d while host %d paused: %v", k, h, paused, c.Err())
		}
	}
	if _, err := set(ctx, "five"); err != nil {
		t.Errorf("Map after resume: %v", err)
	}
}

func keysOn(hs *Hosts, keys []string, host int) []string {
	var out []string
	for _, k := range keys {
		if hs.HostForKey(k) == host {
			out = append(out, k)
		}
	}
	return out
}

// TestRealBatchRefusedPerKey: when the server refuses a whole auto-batch with a reply error (here an
// ACL user allowed only keys ok:*), each original command still gets its own answer: the batch is
// sent again command by command, so the allowed keys are written and read, the refused one alone
// fails with NOPERM, and Map reports no host failure.
func TestRealBatchRefusedPerKey(t *testing.T) {
	ctx := t.Context()
	srv := redistest.RunT(t, nil)
	admin := srv.Client(t)
	if err := admin.Do(ctx, "ACL", "SETUSER", "limited", "on", ">pw", "~ok:*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{sent: map[int][]string{}}
	hs, err := New(&Options{
		Hosts: map[int]map[string]any{0: {"addr": srv.Addr(), "username": "limited", "password": "pw", "socket_timeout": 5}},
		NewClient: func(id int, cfg *conn.Config) (redis.UniversalClient, error) {
			c, err := cfg.NewClient()
			if err == nil {
				c.AddHook(recordHook{r: rec, id: id})
			}
			return c, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	keys := []string{"ok:1", "bad:1", "ok:2"}
	sets := map[string]*redis.StatusCmd{}
	if err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			sets[k] = p.Set(ctx, k, "v-"+k, 0)
		}
		return nil
	}); err != nil {
		t.Errorf("Map of SETs: %v; want no host error", err)
	}
	if got := rec.names(0); !slices.Contains(got, "mset") {
		t.Fatalf("host received %v; want an mset first (else nothing was batched)", got)
	}
	for _, k := range keys {
		err := sets[k].Err()
		if k == "bad:1" {
			if err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("SET %s: %v; want NOPERM", k, err)
			}
			continue
		}
		if err != nil || sets[k].Val() != "OK" {
			t.Errorf("SET %s = %q, %v; want OK", k, sets[k].Val(), err)
		}
		if v, err := admin.Get(ctx, k).Result(); err != nil || v != "v-"+k {
			t.Errorf("server has %s = %q, %v; want v-%s", k, v, err, k)
		}
	}
	if n, _ := admin.Exists(ctx, "bad:1").Result(); n != 0 {
		t.Error("bad:1 was written")
	}

	rec.reset()
	gets := map[string]*redis.StringCmd{}
	if err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range append(keys, "ok:missing") {
			gets[k] = p.Get(ctx, k)
		}
		return nil
	}); err != nil {
		t.Errorf("Map of GETs: %v; want no host error", err)
	}
	if got := rec.names(0); !slices.Contains(got, "mget") {
		t.Fatalf("host received %v; want an mget first", got)
	}
	for k, c := range gets {
		v, err := c.Result()
		switch k {
		case "bad:1":
			if err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("GET %s: %q, %v; want NOPERM", k, v, err)
			}
		case "ok:missing":
			if !errors.Is(err, redis.Nil) {
				t.Errorf("GET %s: %q, %v; want redis.Nil", k, v, err)
			}
		default:
			if err != nil || v != "v-"+k {
				t.Errorf("GET %s = %q, %v; want v-%s", k, v, err, k)
			}
		}
	}
}
