package shards_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/shard/hostset"
	"github.com/ria-go/ria/uniquevisits"
)

const (
	nShards = 4
	down    = 2 // the shard that is killed
	nKeys   = 400
	// wait is the registry's config re-read period: short, so refreshes happen during the test.
	wait = 100 * time.Millisecond
	// recoverWithin bounds how long a restarted server may take to serve the same clients again
	// (go-redis stops dialing a host after PoolSize failed dials and probes it once a second).
	recoverWithin = 15 * time.Second
)

func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// setup is the system under test: 4 shard servers, a server for the unsharded counts, a config
// server, a registry counting the clients it makes, two rb-style clusters (one on its own clients,
// one on the registry's components) and a unique-visits counter sharded over the registry.
type setup struct {
	shards   redistest.Group
	counts   *redistest.Server
	config   *redistest.Server
	cfg      *redis.Client // the registry's config client
	reg      *conn.Registry
	made     sync.Map // component -> *atomic.Int64: clients the registry made
	refreshF atomic.Int64
	own      *hostset.Hosts // hostset.New: its own clients, db 2 of each shard
	viaReg   *hostset.Hosts // hostset.FromRegistry: components rb:<n>, db 0 of each shard
	counter  *uniquevisits.Counter
	day      time.Time
}

func (s *setup) madeCount(comp string) int64 {
	if v, ok := s.made.Load(comp); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

func (s *setup) madeTotal() int64 {
	var n int64
	s.made.Range(func(_, v any) bool { n += v.(*atomic.Int64).Load(); return true })
	return n
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	// appendfsync always: what a shard acknowledged survives its SIGKILL, so recovery can be checked
	// value by value.
	s := &setup{
		shards: redistest.RunShardsT(t, nShards, &redistest.Options{AOF: true, Config: []string{"appendfsync always"}}),
		counts: redistest.RunT(t, nil),
		config: redistest.RunT(t, &redistest.Options{AOF: true, Config: []string{"appendfsync always"}}),
		day:    time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	s.cfg = s.config.Client(t)
	var err error
	s.reg, err = conn.New(s.cfg, &conn.Options{
		Wait:           wait,
		RefreshTimeout: 500 * time.Millisecond,
		OnRefreshError: func(string, error) { s.refreshF.Add(1) },
		NewClient: func(comp string, cfg *conn.Config) (redis.UniversalClient, error) {
			v, _ := s.made.LoadOrStore(comp, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
			return cfg.NewClient()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.reg.Close() })

	ctx, cancel := opCtx()
	defer cancel()
	set := func(comp string, cfg map[string]any) {
		t.Helper()
		if err := s.reg.SetConfig(ctx, comp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	hosts := map[int]map[string]any{}
	for i, srv := range s.shards {
		set(shard.ShardComponent("rb", i), map[string]any{"addr": srv.Addr()})
		set(shard.ShardComponent("unique", i), map[string]any{"addr": srv.Addr(), "db": 1})
		hosts[i] = map[string]any{"addr": srv.Addr(), "db": 2}
	}
	set("unique", map[string]any{"addr": s.counts.Addr()})

	if s.own, err = hostset.New(&hostset.Options{Hosts: hosts}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.own.Close() })
	if s.viaReg, err = hostset.FromRegistry(s.reg, "rb", nShards, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.viaReg.Close() })
	if s.counter, err = uniquevisits.New(s.reg, &uniquevisits.Options{Shards: nShards, Now: func() time.Time { return s.day }}); err != nil {
		t.Fatal(err)
	}
	return s
}

func key(i int) string   { return fmt.Sprintf("k:%d", i) }
func value(i int) string { return fmt.Sprintf("v%d", i) }

// hostErrors returns the *HostError values an error from Map or Fanout joins, and anything else.
func hostErrors(err error) (hosts []int, other []error) {
	if err == nil {
		return nil, nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var he *hostset.HostError
		if errors.As(e, &he) {
			hosts = append(hosts, he.Host)
		} else {
			other = append(other, e)
		}
	}
	return hosts, other
}

// checkMap reads every key with Map. Keys of a host in dead must fail with that host's *HostError;
// all others must hold their values. Map's error must name exactly the dead hosts.
func checkMap(cl *hostset.Hosts, dead map[int]bool) error {
	ctx, cancel := opCtx()
	defer cancel()
	gets := make([]*redis.StringCmd, nKeys)
	err := cl.Map(ctx, func(p redis.Pipeliner) error {
		for i := range gets {
			gets[i] = p.Get(ctx, key(i))
		}
		return nil
	})
	hosts, other := hostErrors(err)
	if len(other) > 0 {
		return fmt.Errorf("Map: errors other than host errors: %v", other)
	}
	if len(hosts) != len(dead) {
		return fmt.Errorf("Map: host errors for %v; want %v", hosts, dead)
	}
	for _, h := range hosts {
		if !dead[h] {
			return fmt.Errorf("Map: host error for host %d, which is up", h)
		}
	}
	for i, g := range gets {
		h := cl.HostForKey(key(i))
		var he *hostset.HostError
		switch {
		case dead[h]:
			if !errors.As(g.Err(), &he) || he.Host != h {
				return fmt.Errorf("GET %s on dead host %d: %q, %v; want its HostError", key(i), h, g.Val(), g.Err())
			}
		case g.Err() != nil || g.Val() != value(i):
			return fmt.Errorf("GET %s on host %d: %q, %v; want %q", key(i), h, g.Val(), g.Err(), value(i))
		}
	}
	return nil
}

// checkFanout asks every host for its DBSIZE (and a PING): hosts in dead must fail with their own
// *HostError, the others must answer with the number of keys the router gave them.
func checkFanout(cl *hostset.Hosts, dead map[int]bool) error {
	ctx, cancel := opCtx()
	defer cancel()
	want := map[int]int64{}
	for i := range nKeys {
		want[cl.HostForKey(key(i))]++
	}
	sizes := map[int]*redis.IntCmd{}
	pings := map[int]*redis.StatusCmd{}
	err := cl.Fanout(ctx, cl.IDs(), func(h int, p redis.Pipeliner) error {
		sizes[h] = p.DBSize(ctx)
		pings[h] = p.Ping(ctx)
		return nil
	})
	hosts, other := hostErrors(err)
	if len(other) > 0 || len(hosts) != len(dead) {
		return fmt.Errorf("Fanout: error %v; want host errors for %v only", err, dead)
	}
	for h, size := range sizes {
		var he *hostset.HostError
		if dead[h] {
			if !errors.As(size.Err(), &he) || he.Host != h || !errors.As(pings[h].Err(), &he) {
				return fmt.Errorf("Fanout: dead host %d: %v, %v; want its HostError", h, size.Err(), pings[h].Err())
			}
			continue
		}
		if size.Err() != nil || size.Val() != want[h] || pings[h].Val() != "PONG" {
			return fmt.Errorf("Fanout: host %d: DBSIZE %d, %v, PING %q; want %d keys", h, size.Val(), size.Err(), pings[h].Val(), want[h])
		}
	}
	return nil
}

// visits counts a visit for each session id and reports which failed. Those on a dead shard must
// fail, the others must be counted as new.
func (s *setup) visits(sids []string, dead map[int]bool) (failed []string, err error) {
	for _, sid := range sids {
		comp, cerr := shard.Component("unique", sid, nShards)
		if cerr != nil {
			return nil, cerr
		}
		onDead := false
		for h := range dead {
			onDead = onDead || comp == shard.ShardComponent("unique", h)
		}
		ctx, cancel := opCtx()
		v, verr := s.counter.CountVisit(ctx, sid)
		cancel()
		switch {
		case onDead && verr == nil:
			return nil, fmt.Errorf("CountVisit(%s) on dead %s succeeded", sid, comp)
		case onDead && errors.Is(verr, uniquevisits.ErrUncounted):
			return nil, fmt.Errorf("CountVisit(%s) on dead %s: %v; want the set's failure, nothing counted", sid, comp, verr)
		case onDead:
			failed = append(failed, sid)
		case verr != nil || !v.New || v.Shard != comp:
			return nil, fmt.Errorf("CountVisit(%s) on %s: %+v, %v; want a new visit", sid, comp, v, verr)
		}
	}
	return failed, nil
}

func (s *setup) count(t *testing.T) (counted, recounted int64) {
	t.Helper()
	ctx, cancel := opCtx()
	defer cancel()
	counted, err := s.counter.Count(ctx, s.day)
	if err != nil {
		t.Fatal(err)
	}
	if recounted, err = s.counter.Recount(ctx, s.day); err != nil {
		t.Fatal(err)
	}
	return counted, recounted
}

func sessionIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewString()
	}
	return out
}

// clients returns the client of every registry component the test uses, and of every host of the
// cluster with its own clients, to compare identities across the faults.
func (s *setup) clients(t *testing.T) map[string]redis.UniversalClient {
	t.Helper()
	ctx, cancel := opCtx()
	defer cancel()
	out := map[string]redis.UniversalClient{}
	for i := range nShards {
		for _, comp := range []string{shard.ShardComponent("rb", i), shard.ShardComponent("unique", i)} {
			c, err := s.reg.Client(ctx, comp)
			if err != nil {
				t.Fatal(err)
			}
			out[comp] = c
		}
		c, err := s.own.Host(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("own host %d", i)] = c
	}
	c, err := s.reg.Client(ctx, "unique")
	if err != nil {
		t.Fatal(err)
	}
	out["unique"] = c
	return out
}

func sameClients(t *testing.T, before, after map[string]redis.UniversalClient) {
	t.Helper()
	for name, c := range before {
		if after[name] != c {
			t.Errorf("%s: a new client after the fault; want the same one", name)
		}
	}
}

// TestShardDown kills one of four shards: Map, Fanout and CountVisit fail for that shard's keys
// only, with errors naming it, and the others' results are intact. After the shard is restarted, the
// same clusters, registry clients and counter serve every key again, with no new client made.
func TestShardDown(t *testing.T) {
	s := newSetup(t)
	ctx, cancel := opCtx()
	defer cancel()

	// All up: write the keys through both clusters, count visits.
	for _, cl := range []*hostset.Hosts{s.own, s.viaReg} {
		if err := cl.Map(ctx, func(p redis.Pipeliner) error {
			for i := range nKeys {
				p.Set(ctx, key(i), value(i), 0)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	none := map[int]bool{}
	before := s.sids(t, 200, none)
	for name, cl := range map[string]*hostset.Hosts{"own clients": s.own, "registry": s.viaReg} {
		if err := checkMap(cl, none); err != nil {
			t.Fatalf("%s, all up: %v", name, err)
		}
		if err := checkFanout(cl, none); err != nil {
			t.Fatalf("%s, all up: %v", name, err)
		}
	}
	clients := s.clients(t)
	made := s.madeTotal()

	// One shard down.
	if err := s.shards[down].Kill(); err != nil {
		t.Fatal(err)
	}
	dead := map[int]bool{down: true}
	downAt := time.Now()
	for name, cl := range map[string]*hostset.Hosts{"own clients": s.own, "registry": s.viaReg} {
		if err := checkMap(cl, dead); err != nil {
			t.Errorf("%s, shard %d down: %v", name, down, err)
		}
		if err := checkFanout(cl, dead); err != nil {
			t.Errorf("%s, shard %d down: %v", name, down, err)
		}
	}
	mapped := time.Since(downAt)
	sids := sessionIDs(200)
	failed, err := s.visits(sids, dead)
	if err != nil {
		t.Fatalf("shard %d down: %v", down, err)
	}
	if len(failed) == 0 || len(failed) == len(sids) {
		t.Fatalf("%d of %d visits failed; the dead shard should hold some of them, not all", len(failed), len(sids))
	}
	if counted := s.countOnly(t); counted != int64(before+len(sids)-len(failed)) {
		t.Fatalf("count %d with shard %d down; want %d", counted, down, before+len(sids)-len(failed))
	}
	t.Logf("shard %d down: Map and Fanout checked on both clusters in %v; %d of %d visits failed (its share), the rest counted, in %v",
		down, mapped.Round(time.Millisecond), len(failed), len(sids), (time.Since(downAt) - mapped).Round(time.Millisecond))

	// Restarted: the same clients recover.
	rctx, rcancel := opCtx()
	defer rcancel()
	start := time.Now()
	if err := s.shards[down].Restart(rctx); err != nil {
		t.Fatal(err)
	}
	var last error
	for {
		last = errors.Join(checkMap(s.own, none), checkMap(s.viaReg, none), checkFanout(s.own, none), checkFanout(s.viaReg, none))
		if last == nil || time.Since(start) > recoverWithin {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("not recovered %v after the restart: %v", recoverWithin, last)
	}
	t.Logf("shard %d restarted: Map and Fanout served every key again after %v", down, time.Since(start).Round(time.Millisecond))
	var again []string
	for {
		if again, err = s.visits(failed, none); err == nil || time.Since(start) > recoverWithin {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || len(again) != 0 {
		t.Fatalf("CountVisit after the restart: %v", err)
	}
	counted, recounted := s.count(t)
	if want := int64(before + len(sids)); counted != want || recounted != want {
		t.Fatalf("count %d, recount %d after the restart; want %d", counted, recounted, want)
	}
	sameClients(t, clients, s.clients(t))
	if got := s.madeTotal(); got != made {
		t.Fatalf("the registry made %d clients during the fault; want none", got-made)
	}
}

// sids counts n new visitors with every shard up and returns n.
func (s *setup) sids(t *testing.T, n int, none map[int]bool) int {
	t.Helper()
	if failed, err := s.visits(sessionIDs(n), none); err != nil || len(failed) > 0 {
		t.Fatalf("visits, all up: %v", err)
	}
	return n
}

func (s *setup) countOnly(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := opCtx()
	defer cancel()
	n, err := s.counter.Count(ctx, s.day)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConfigServerDown kills the config server: components whose clients are cached keep working
// (their background refreshes fail and are reported), a component asked for the first time gets a
// ConfigError naming its key and the failed read, and once the config server is back the refreshes
// succeed again, a config changed after its return is picked up, and the new component loads.
func TestConfigServerDown(t *testing.T) {
	s := newSetup(t)
	ctx, cancel := opCtx()
	defer cancel()
	if err := s.viaReg.Map(ctx, func(p redis.Pipeliner) error {
		for i := range nKeys {
			p.Set(ctx, key(i), value(i), 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// "late" is configured but not loaded before the config server dies; "probe" is loaded and its
	// config changed after the config server is back.
	if err := s.reg.SetConfig(ctx, "late", map[string]any{"addr": s.counts.Addr(), "db": 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.reg.SetConfig(ctx, "probe", map[string]any{"addr": s.counts.Addr(), "db": 4}); err != nil {
		t.Fatal(err)
	}
	probe, err := s.reg.Client(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	none := map[int]bool{}
	visited := s.sids(t, 100, none)
	clients := s.clients(t)
	made := s.madeTotal()

	if err := s.config.Kill(); err != nil {
		t.Fatal(err)
	}
	downAt := time.Now()
	// Several refresh periods with the config server down: the cached clients serve every call.
	for time.Since(downAt) < 10*wait {
		if err := errors.Join(checkMap(s.viaReg, none), checkFanout(s.viaReg, none)); err != nil {
			t.Fatalf("config server down, cached clients: %v", err)
		}
		if failed, err := s.visits(sessionIDs(10), none); err != nil || len(failed) > 0 {
			t.Fatalf("config server down, CountVisit: %v", err)
		}
		visited += 10
		time.Sleep(wait / 2)
	}
	for _, comp := range []string{"rb:0", "unique:1", "unique"} {
		var ce *conn.ConfigError
		if err := s.reg.Err(comp); !errors.As(err, &ce) || ce.Key != "config:redis:"+comp {
			t.Errorf("Err(%q) with the config server down: %v; want a ConfigError for its key", comp, err)
		}
	}
	if s.refreshF.Load() == 0 {
		t.Error("OnRefreshError never called with the config server down")
	}

	// A component asked for the first time: a clear error, not "no config" and not a hang.
	lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err = s.reg.Client(lctx, "late")
	lcancel()
	var ce *conn.ConfigError
	if !errors.As(err, &ce) || ce.Key != "config:redis:late" || errors.Is(err, conn.ErrNoConfig) ||
		!strings.Contains(err.Error(), "reading config") {
		t.Fatalf("new component with the config server down: %v; want a ConfigError reading config:redis:late", err)
	}
	t.Logf("new component, config server down: %v", err)
	// A cluster over components never loaded fails per host, naming the config error.
	fresh, err := hostset.FromRegistry(s.reg, "fresh", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	mctx, mcancel := opCtx()
	err = fresh.Map(mctx, func(p redis.Pipeliner) error { p.Get(mctx, "x"); p.Get(mctx, "y"); p.Get(mctx, "z"); return nil })
	mcancel()
	if hosts, other := hostErrors(err); len(hosts) == 0 || len(other) > 0 || !errors.As(err, &ce) {
		t.Fatalf("Map over unloaded components, config server down: %v; want host errors wrapping ConfigErrors", err)
	}

	// The config server returns (its AOF brings the configs back).
	ctx, cancel = opCtx()
	defer cancel()
	if err := s.config.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	changed, err := json.Marshal(map[string]any{"addr": s.counts.Addr(), "db": 5})
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for {
		last = nil
		// A client made by the config client before its server died may need a second to redial.
		if err := s.cfg.Set(ctx, s.reg.Key("probe"), changed, 0).Err(); err != nil {
			last = fmt.Errorf("writing probe's config: %w", err)
		}
		for _, comp := range []string{"rb:0", "unique:1", "unique"} {
			// Client starts a background refresh when one is due; Err reports the latest one.
			if _, err := s.reg.Client(ctx, comp); err != nil {
				last = errors.Join(last, err)
			} else if err := s.reg.Err(comp); err != nil {
				last = errors.Join(last, fmt.Errorf("%s: latest refresh: %w", comp, err))
			}
		}
		if p, err := s.reg.Client(ctx, "probe"); err != nil || p == probe {
			last = errors.Join(last, fmt.Errorf("probe: config change not applied yet (%v)", err))
		}
		if _, err := s.reg.Client(ctx, "late"); err != nil {
			last = errors.Join(last, err)
		}
		if last == nil || time.Since(upAt) > recoverWithin {
			break
		}
		time.Sleep(wait / 2)
	}
	if last != nil {
		t.Fatalf("%v after the config server's return: %v", recoverWithin, last)
	}
	t.Logf("config server back: refreshes succeed, a changed config applied and a new component loaded after %v",
		time.Since(upAt).Round(time.Millisecond))
	if cfg := s.reg.Config("probe"); cfg == nil || cfg.DB != 5 {
		t.Fatalf("probe's config after the change: %+v; want db 5", cfg)
	}
	after := s.clients(t)
	sameClients(t, clients, after)
	if got := s.madeTotal() - made; got != 2 || s.madeCount("late") != 1 || s.madeCount("probe") != 2 {
		t.Fatalf("the registry made %d clients (late %d, probe %d); want one for late and one for probe's change",
			got, s.madeCount("late"), s.madeCount("probe"))
	}
	if failed, err := s.visits(sessionIDs(10), none); err != nil || len(failed) > 0 {
		t.Fatalf("CountVisit after the config server's return: %v", err)
	}
	if counted, recounted := s.count(t); counted != int64(visited+10) || recounted != counted {
		t.Fatalf("count %d, recount %d; want %d", counted, recounted, visited+10)
	}
}
