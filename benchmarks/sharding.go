package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard/hostset"
)

func init() { register(102, shardingBench{}) }

// shardingBench measures hostset.Hosts (rb's cluster on go-redis) over 16 redis-servers, the book's
// shard count in section 10.2: Map against a per-key loop, auto-batching against plain pipelines (with
// the commands the servers executed, from INFO commandstats), and fan-out latency.
type shardingBench struct{}

func (shardingBench) Name() string { return "sharding" }

const shardHosts = 16

// shardVariant is one way of doing a round: reading or writing every key once.
type shardVariant struct {
	name  string
	short string // for the chart
	round func(ctx context.Context) error
}

// shardResult is what one variant did, over all its turns.
type shardResult struct {
	v      shardVariant
	rounds int
	took   time.Duration
	cmds   map[string]int64 // commands the servers executed, summed over every host
}

// latResult is one fan-out variant's latency sample.
type latResult struct {
	name string
	lat  Latencies
}

func (b shardingBench) Run(ctx context.Context, env *Env) (Section, error) {
	env.Progress("starting %d redis-servers", shardHosts)
	servers := make([]*redistest.Server, shardHosts)
	var wg sync.WaitGroup
	errs := make([]error, shardHosts)
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = env.Server(ctx, nil) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Section{}, err
	}
	hosts := map[int]map[string]any{}
	for i, s := range servers {
		hosts[i] = map[string]any{"addr": s.Addr()}
	}
	cl, err := hostset.New(&hostset.Options{Hosts: hosts})
	if err != nil {
		return Section{}, err
	}
	defer cl.Close()
	hostClients := make([]redis.UniversalClient, shardHosts)
	for id := range hostClients {
		if hostClients[id], err = cl.Host(ctx, id); err != nil {
			return Section{}, err
		}
	}

	n := Pick(env, 1000, 1000, 100) // keys per round
	keys := make([]string, n)
	want := make(map[string]string, n)
	perHost := map[int][]string{}
	for i := range keys {
		keys[i] = "bench:key:" + strconv.Itoa(i)
		want[keys[i]] = "value-" + strconv.Itoa(i)
		id := cl.HostForKey(keys[i])
		perHost[id] = append(perHost[id], keys[i])
	}
	if len(perHost) != shardHosts {
		return Section{}, fmt.Errorf("%d keys reach only %d of %d hosts", n, len(perHost), shardHosts)
	}
	rc := cl.Routing()
	check := func(k string, cmd *redis.StringCmd) error {
		if err := cmd.Err(); err != nil {
			return fmt.Errorf("GET %s: %w", k, err)
		}
		if cmd.Val() != want[k] {
			return fmt.Errorf("GET %s = %q, want %q", k, cmd.Val(), want[k])
		}
		return nil
	}
	mapSet := func(c *hostset.Hosts) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			return c.Map(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Set(ctx, k, want[k], 0)
				}
				return nil
			})
		}
	}
	mapGet := func(c *hostset.Hosts) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			cmds := make([]*redis.StringCmd, n)
			if err := c.Map(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.Get(ctx, k)
				}
				return nil
			}); err != nil {
				return err
			}
			for i, k := range keys {
				if err := check(k, cmds[i]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	writes := []shardVariant{
		{"per-key SET, one at a time (routing client)", "per-key", func(ctx context.Context) error {
			for _, k := range keys {
				if err := rc.Set(ctx, k, want[k], 0).Err(); err != nil {
					return err
				}
			}
			return nil
		}},
		{"`Map`, auto-batching off: a pipeline of SETs per host", "Map, pipelines", mapSet(cl.AutoBatch(false))},
		{"`Map`, auto-batched: one MSET per host", "Map, batched", mapSet(cl.AutoBatch(true))},
	}
	reads := []shardVariant{
		{"per-key GET, one at a time (routing client)", "per-key", func(ctx context.Context) error {
			for _, k := range keys {
				if err := check(k, rc.Get(ctx, k)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"per-key GET, one at a time (each host's own client)", "per-key, host client", func(ctx context.Context) error {
			for _, k := range keys {
				if err := check(k, hostClients[cl.HostForKey(k)].Get(ctx, k)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"a plain pipeline of GETs per host, hosts one after another", "pipelines in turn", func(ctx context.Context) error {
			for id := range shardHosts {
				ks := perHost[id]
				cmds := make([]*redis.StringCmd, len(ks))
				if _, err := hostClients[id].Pipelined(ctx, func(p redis.Pipeliner) error {
					for i, k := range ks {
						cmds[i] = p.Get(ctx, k)
					}
					return nil
				}); err != nil {
					return err
				}
				for i, k := range ks {
					if err := check(k, cmds[i]); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{"`Map`, auto-batching off: a pipeline of GETs per host, hosts in parallel", "Map, pipelines", mapGet(cl.AutoBatch(false))},
		{"`Map`, auto-batched: one MGET per host, hosts in parallel", "Map, batched", mapGet(cl.AutoBatch(true))},
	}

	turns := Pick(env, 4, 2, 1)
	budget := Pick(env, 4*time.Second, 800*time.Millisecond, 100*time.Millisecond) / time.Duration(turns)
	wres, err := b.measure(ctx, env, hostClients, "write", writes, turns, budget)
	if err != nil {
		return Section{}, err
	}
	rres, err := b.measure(ctx, env, hostClients, "read", reads, turns, budget)
	if err != nil {
		return Section{}, err
	}
	lat, err := b.fanout(ctx, env, cl, hostClients)
	if err != nil {
		return Section{}, err
	}
	return b.section(env, n, perHost, wres, rres, lat)
}

// measure runs each variant in turns of budget each, and sums the commands the servers executed.
func (shardingBench) measure(ctx context.Context, env *Env, hosts []redis.UniversalClient, what string,
	vs []shardVariant, turns int, budget time.Duration) ([]shardResult, error) {
	res := make([]shardResult, len(vs))
	for i, v := range vs {
		res[i] = shardResult{v: v, cmds: map[string]int64{}}
		if err := v.round(ctx); err != nil { // warm-up: every host's connection is up
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	for k := range turns {
		for i, v := range vs {
			env.Progress("%s: %s (%d/%d)", what, v.short, k+1, turns)
			before, err := commandStats(ctx, hosts)
			if err != nil {
				return nil, err
			}
			r, err := env.Loop(ctx, budget, 0, v.round)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", v.name, err)
			}
			after, err := commandStats(ctx, hosts)
			if err != nil {
				return nil, err
			}
			res[i].rounds += r.Calls
			res[i].took += r.Elapsed
			for name, calls := range after {
				if d := calls - before[name]; d != 0 && !handshake[name] {
					res[i].cmds[name] += d
				}
			}
		}
	}
	return res, nil
}

// handshake holds the commands left out of the server-side counts: the INFO calls that read them, and
// what go-redis sends on a new connection.
var handshake = map[string]bool{"info": true, "hello": true, "client|setinfo": true}

// commandStats sums INFO commandstats' calls per command over hosts.
func commandStats(ctx context.Context, hosts []redis.UniversalClient) (map[string]int64, error) {
	total := map[string]int64{}
	for id, c := range hosts {
		s, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			return nil, fmt.Errorf("host %d: INFO commandstats: %w", id, err)
		}
		m, err := parseCommandStats(s)
		if err != nil {
			return nil, fmt.Errorf("host %d: %w", id, err)
		}
		for k, v := range m {
			total[k] += v
		}
	}
	return total, nil
}

// parseCommandStats reads INFO commandstats: "cmdstat_get:calls=3,usec=...". Subcommands keep their
// names ("client|setinfo").
func parseCommandStats(info string) (map[string]int64, error) {
	m := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("INFO commandstats: malformed line %q", line)
		}
		found := false
		for _, f := range strings.Split(fields, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("INFO commandstats: %q: %w", line, err)
				}
				m[name] = n
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("INFO commandstats: no calls in %q", line)
		}
	}
	return m, nil
}

// fanout times one PING to every host against one PING to one host, call by call.
func (shardingBench) fanout(ctx context.Context, env *Env, cl *hostset.Hosts, hosts []redis.UniversalClient) ([]latResult, error) {
	// The PINGs are queued with the call's context, not Run's: a call's deadline covers its commands.
	ping := func(ctx context.Context) func(int, redis.Pipeliner) error {
		return func(_ int, p redis.Pipeliner) error { return p.Ping(ctx).Err() }
	}
	vs := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"one host: PING on its own client", func(ctx context.Context) error { return hosts[0].Ping(ctx).Err() }},
		{"one host through the cluster: `Fanout(ctx, []int{0}, ...)`", func(ctx context.Context) error {
			return cl.Fanout(ctx, []int{0}, ping(ctx))
		}},
		{fmt.Sprintf("all %d hosts, one after another (a PING each)", shardHosts), func(ctx context.Context) error {
			for _, h := range hosts {
				if err := h.Ping(ctx).Err(); err != nil {
					return err
				}
			}
			return nil
		}},
		{fmt.Sprintf("all %d hosts in parallel: `All` (a PING each)", shardHosts), func(ctx context.Context) error {
			return cl.All(ctx, ping(ctx))
		}},
	}
	calls := Pick(env, 3000, 600, 40)
	chunk := Pick(env, 250, 100, 20) // the variants take turns in chunks
	res := make([]latResult, len(vs))
	for i, v := range vs {
		res[i].name = v.name
		if err := v.call(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	for done := 0; done < calls; done += chunk {
		env.Progress("fan-out latency: %d/%d calls", done, calls)
		for i, v := range vs {
			for range min(chunk, calls-done) {
				t0 := time.Now()
				if err := v.call(ctx); err != nil {
					return nil, fmt.Errorf("%s: %w", v.name, err)
				}
				res[i].lat = append(res[i].lat, time.Since(t0))
				env.Tick()
			}
		}
	}
	return res, nil
}

// cmdSummary is "1,000 GET" or "16 MGET" per round.
func cmdSummary(cmds map[string]int64, rounds int) string {
	if rounds == 0 {
		return "–"
	}
	names := slices.Sorted(maps.Keys(cmds))
	var parts []string
	for _, name := range names {
		per := float64(cmds[name]) / float64(rounds)
		f := num(per)
		if cmds[name]%int64(rounds) == 0 {
			f = count(cmds[name] / int64(rounds))
		}
		parts = append(parts, f+" "+strings.ToUpper(name))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

func (shardingBench) section(env *Env, n int, perHost map[int][]string, wres, rres []shardResult, lat []latResult) (Section, error) {
	sizes := make([]int, 0, len(perHost))
	for _, ks := range perHost {
		sizes = append(sizes, len(ks))
	}
	s := Section{
		Title: "Sharding: rb-style cluster over 16 servers",
		Text: []string{
			fmt.Sprintf("`hostset.Hosts` (rb's cluster on go-redis, PartitionRouter) over %d redis-servers started for "+
				"this measurement, one per host, all on this machine. A round reads or writes the same %s keys "+
				"(%d to %d per host); the variants take turns, and the server side is the sum of INFO "+
				"commandstats' call counts over all hosts, before and after each variant's turns (the INFO calls "+
				"themselves and the handshake of a new connection left out), divided by the rounds: what the servers actually executed per round.",
				shardHosts, count(n), slices.Min(sizes), slices.Max(sizes)),
		},
	}
	table := func(caption string, rs []shardResult) (Table, []float64) {
		t := Table{Caption: caption, Header: []string{"variant", "keys /s", "time per round", "vs per-key",
			"server commands per round", "rounds"}}
		var rates []float64
		base := 0.0
		for i, r := range rs {
			rate := float64(r.rounds*n) / r.took.Seconds()
			if i == 0 {
				base = rate
			}
			rates = append(rates, rate)
			t.Rows = append(t.Rows, []string{r.v.name, num(rate), ms(r.took / time.Duration(max(r.rounds, 1))),
				ratio(rate / base), cmdSummary(r.cmds, r.rounds), count(r.rounds)})
		}
		return t, rates
	}
	wt, wrates := table(fmt.Sprintf("Writing %s keys (SET key value):", count(n)), wres)
	rt, rrates := table(fmt.Sprintf("Reading the %s keys back (GET), every value checked:", count(n)), rres)
	s.Tables = append(s.Tables, wt, rt)

	lt := Table{Caption: "Fan-out: one PING to every host against one host, call after call:",
		Header: []string{"call", "median", "p90", "p99", "mean", "calls"}}
	for _, l := range lat {
		lt.Rows = append(lt.Rows, []string{l.name, ms(l.lat.Quantile(0.5)), ms(l.lat.Quantile(0.9)),
			ms(l.lat.Quantile(0.99)), ms(l.lat.Mean()), count(len(l.lat))})
	}
	s.Tables = append(s.Tables, lt)
	last := len(rres) - 1
	s.Summary = fmt.Sprintf("%s GETs over %d hosts: auto-batched `Map` %s faster than the per-key loop (%s vs %s keys/s), "+
		"%s server commands instead of %s; `All` to %d hosts %s vs one host %s (median)",
		count(n), shardHosts, ratio(rrates[last]/rrates[0]), num(rrates[last]), num(rrates[0]),
		cmdSummary(rres[last].cmds, rres[last].rounds), cmdSummary(rres[0].cmds, rres[0].rounds),
		shardHosts, ms(lat[3].lat.Quantile(0.5)), ms(lat[0].lat.Quantile(0.5)))
	s.Notes = append(s.Notes,
		"Reading it: a per-key loop pays one round trip per key; a pipeline per host pays one per host, and "+
			"`Map` sends the hosts' pipelines in parallel. Auto-batching then turns each host's run of GETs into "+
			"one MGET (SETs into one MSET), so a server parses and executes one command instead of dozens: the "+
			"commands column is what the servers counted. All 16 servers and the client share 2 cores here, so "+
			"\"in parallel\" overlaps waiting, not work; on separate machines the gap to the per-key loop widens "+
			"with the network's round trip.",
		"Fan-out: a PING to all hosts through `All` costs one goroutine and one round trip per host, overlapped; "+
			"compare it with one host and with the same 16 PINGs sent one after another.")

	groups := []string{}
	for _, r := range rres {
		groups = append(groups, r.v.short)
	}
	// Writes have no "host client" and "in turn" variants: align them with the reads' groups.
	wv := make([]float64, len(rres))
	for i := range wv {
		wv[i] = math.NaN()
	}
	wv[0], wv[3], wv[4] = wrates[0], wrates[1], wrates[2]
	p, err := barChart(fmt.Sprintf("Sharding: keys per second over %d hosts (log scale)", shardHosts), "keys per second",
		groups, []series{{Name: "GET", Values: rrates, Color: blue}, {Name: "SET", Values: wv, Color: orange}}, true, nil)
	if err != nil {
		return s, err
	}
	path, err := env.SaveChart("sharding", p, chartW, chartH)
	if err != nil {
		return s, err
	}
	s.Charts = append(s.Charts, Chart{Title: "Sharding chart", Path: path})
	return s, nil
}
