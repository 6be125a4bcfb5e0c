package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/uniquevisits"
)

func init() { register(47, concurrencyBench{}) }

// concurrencyBench runs 1 to 256 goroutines through one registry client, call by call, against
// redis-benchmark -c N on the same server in the same run: throughput, latency and the client's CPU
// per call, for plain commands and for the patterns' calls.
type concurrencyBench struct{}

func (concurrencyBench) Name() string { return "concurrency" }

// concurrencyLevels are the goroutines (and redis-benchmark's -c) of each row.
var concurrencyLevels = []int{1, 8, 64, 256}

// concBatch is the number of session ids in one CountVisits call.
const concBatch = 100

// GET's extra rows go through components of the same server whose config sets pool_size: go-redis's
// own default (the registry's is wider), and as many connections as goroutines where the registry's
// default is fewer.
const (
	concNarrow = "GET, go-redis's default pool"
	concWide   = "GET, pool_size = N"
)

var (
	concNarrowLevels = []int{64, 256}
	concWideLevels   = []int{256}
)

// concCall is one call of a row: i is the call's index (0..calls-1), g the goroutine's.
type concCall func(ctx context.Context, c redis.UniversalClient, i, g int) error

// concOp is one call measured at every level.
type concOp struct {
	name string
	// cmds is the commands one call sends, trips its round trips; the reference sends cmds commands
	// per call in pipelines of pipe.
	cmds, trips, pipe int
	// ref is what redis-benchmark runs after its -c, -n and -P: "-t get", or a command line.
	ref     []string
	refName string
	// pool, if set, gives the pool size at a level: the calls go through "bench-pool<size>" instead of
	// "bench", in the rounds of the row of op alongside; levels are the rows (nil: all).
	pool      func(goroutines int) int
	alongside string
	levels    []int
	plain     bool // one of redis-benchmark's own tests: the rows held to the 90% goal
	// fill writes what both sides read, after FLUSHALL.
	fill func(ctx context.Context, c *redis.Client) error
	// setup prepares the Go side's data for calls calls from goroutines goroutines.
	setup func(ctx context.Context, c *redis.Client, calls, goroutines int) (concCall, error)
}

// concurrencyPurchaseRef makes the purchase script's eight calls on fixed keys, without its checks,
// so that redis-benchmark can repeat it: what redis-server does for one purchase.
// KEYS[1] market: (ZSET), KEYS[2] buyer (HASH), KEYS[3] seller (HASH), KEYS[4] buyer's inventory (SET)
// ARGV[1] a member
const concurrencyPurchaseRef = `
redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('HGET', KEYS[2], 'funds')
redis.call('HGET', KEYS[3], 'funds')
redis.call('SISMEMBER', KEYS[4], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'funds', 1)
redis.call('HINCRBY', KEYS[2], 'funds', -1)
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return {0}
`

// concOps are the rows' calls; refSHA is concurrencyPurchaseRef's, loaded on the server.
func concOps(refSHA string) []concOp {
	same := func(call concCall) func(context.Context, *redis.Client, int, int) (concCall, error) {
		return func(context.Context, *redis.Client, int, int) (concCall, error) { return call, nil }
	}
	var ops []concOp
	for _, op := range ops45 { // redis-benchmark's own keys and value
		o := concOp{name: op.name, cmds: 1, trips: 1, pipe: 1, ref: []string{"-t", strings.ToLower(op.name)},
			refName: "-t " + strings.ToLower(op.name), plain: true,
			setup: same(func(ctx context.Context, c redis.UniversalClient, _, _ int) error { return op.fn(ctx, c) })}
		if op.name == "GET" { // a hit, on both sides
			o.fill = func(ctx context.Context, c *redis.Client) error {
				return c.Set(ctx, "key:__rand_int__", "xxx", 0).Err()
			}
			ops = append(ops, o)
			narrow := o
			narrow.name, narrow.levels, narrow.alongside = concNarrow, concNarrowLevels, o.name
			narrow.pool = func(int) int { return 10 * runtime.GOMAXPROCS(0) }
			ops = append(ops, narrow)
			o.name, o.levels, o.alongside = concWide, concWideLevels, o.name
			o.pool = func(g int) int { return g }
		}
		ops = append(ops, o)
	}
	sessions := func(calls, per int) ([]string, error) {
		s, _, err := visitorIDs(calls * per)
		return s, err
	}
	return append(ops,
		concOp{name: "tokens.UpdateTokenPipeline", cmds: 5, trips: 1, pipe: 5, ref: []string{"-t", "zadd"},
			refName: "-t zadd -P 5",
			setup: same(func(ctx context.Context, c redis.UniversalClient, _, _ int) error {
				return updateTokenPipeline(ctx, c)
			})},
		// Every visitor is new: GET of the expected size, SADD, INCR.
		concOp{name: "uniquevisits.CountVisit", cmds: 3, trips: 3, pipe: 1, ref: []string{"-r", "1000000", "-t", "sadd"},
			refName: "-t sadd -r 1000000",
			setup: func(_ context.Context, _ *redis.Client, calls, _ int) (concCall, error) {
				sids, err := sessions(calls, 1)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, c redis.UniversalClient, i, _ int) error {
					v, err := uniquevisits.CountVisit(ctx, c, sids[i], visitsDay)
					if err == nil && !v.New {
						err = fmt.Errorf("visit %d not new: the row is not what it says", i)
					}
					return err
				}, nil
			}},
		// GET of the expected size, one pipeline of concBatch SADDs, one INCRBY.
		concOp{name: fmt.Sprintf("uniquevisits.CountVisits (%d ids)", concBatch), cmds: concBatch + 2, trips: 3,
			pipe: concBatch, ref: []string{"-r", "1000000", "-t", "sadd"}, refName: fmt.Sprintf("-t sadd -r 1000000 -P %d", concBatch),
			setup: func(_ context.Context, _ *redis.Client, calls, _ int) (concCall, error) {
				sids, err := sessions(calls, concBatch)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, c redis.UniversalClient, i, _ int) error {
					res, err := uniquevisits.CountVisits(ctx, c, sids[i*concBatch:(i+1)*concBatch], visitsDay)
					if err == nil && !res[0].Visit.New {
						err = fmt.Errorf("batch %d not new: the row is not what it says", i)
					}
					return err
				}, nil
			}},
		concOp{name: "market.PurchaseItemScript", cmds: 1, trips: 1, pipe: 1,
			ref:     []string{"-r", "1000000", "evalsha", refSHA, "4", "market:", "users:B", "users:S", "inventory:B", "item:__rand_int__"},
			refName: "EVALSHA of the purchase's 8 calls",
			fill: func(ctx context.Context, c *redis.Client) error {
				return c.HSet(ctx, "users:B", "name", "B", "funds", 1<<40).Err()
			},
			setup: func(ctx context.Context, c *redis.Client, calls, goroutines int) (concCall, error) {
				// One listing per call, at price 1; a buyer per goroutine.
				if err := pipelineChunks(ctx, c, calls, 1000, func(p redis.Pipeliner, i int) {
					p.ZAdd(ctx, "market:", redis.Z{Score: 1, Member: "item" + strconv.Itoa(i) + ".S"})
				}); err != nil {
					return nil, err
				}
				if err := pipelineChunks(ctx, c, goroutines, 1000, func(p redis.Pipeliner, g int) {
					p.HSet(ctx, "users:B"+strconv.Itoa(g), "name", "B"+strconv.Itoa(g), "funds", calls)
				}); err != nil {
					return nil, err
				}
				return func(ctx context.Context, c redis.UniversalClient, i, g int) error {
					_, err := market.PurchaseItemScript(ctx, c, "B"+strconv.Itoa(g), "item"+strconv.Itoa(i), "S", 1)
					return err
				}, nil
			}},
	)
}

func (b concurrencyBench) Run(ctx context.Context, env *Env) (Section, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return Section{}, ErrNoRedisBenchmark
	}
	loadStart := firstField(loadAvg())
	srv, err := env.Server(ctx, nil)
	if err != nil {
		return Section{}, err
	}
	probe := srv.NewClient()
	defer probe.Close()
	// The configs live on a server of their own: every run starts with FLUSHALL.
	cfgSrv, err := env.Server(ctx, nil)
	if err != nil {
		return Section{}, err
	}
	cfgClient := cfgSrv.NewClient()
	defer cfgClient.Close()
	reg, err := conn.New(cfgClient, nil)
	if err != nil {
		return Section{}, err
	}
	defer reg.Close()
	addr := map[string]any{"host": "127.0.0.1", "port": srv.Port()}
	if err := reg.SetConfig(ctx, "bench", addr); err != nil {
		return Section{}, err
	}
	for _, op := range concOps("") {
		for _, g := range op.levels {
			if op.pool != nil {
				addr["pool_size"] = op.pool(g)
				if err := reg.SetConfig(ctx, "bench-pool"+strconv.Itoa(op.pool(g)), addr); err != nil {
					return Section{}, err
				}
			}
		}
	}
	c, err := reg.Client(ctx, "bench")
	if err != nil {
		return Section{}, err
	}
	rc, ok := c.(*redis.Client)
	if !ok {
		return Section{}, fmt.Errorf("registry client is a %T; want a *redis.Client", c)
	}
	poolSize := rc.Options().PoolSize
	refSHA, err := probe.ScriptLoad(ctx, concurrencyPurchaseRef).Result()
	if err != nil {
		return Section{}, err
	}

	// Calls per run for the calls at 8 goroutines and more: the plain commands, the goal's rows, get
	// four times as many, as a run of 8,000 lasts a tenth of a second and a neighbour's burst on a
	// shared machine moves it by a fifth. The other calls get as many round trips (pipelines: ten
	// times the commands), and one goroutine a third of that unpipelined (it is the slowest).
	calls := Pick(env, 8_000, 3_000, 300)
	plainCalls := Pick(env, 32_000, 3_000, 300)
	// The goal's rows get five rounds: their median then needs three bursts to move.
	rounds, plainRounds := Pick(env, 3, 2, 1), Pick(env, 5, 2, 1)
	ops := concOps(refSHA)
	var rows []concRow
	for _, op := range ops {
		if op.pool != nil {
			continue // measured in the rounds of the row it is compared with
		}
		levels := op.levels
		if levels == nil {
			levels = concurrencyLevels
		}
		for _, g := range levels {
			n := calls
			if op.plain {
				n = plainCalls
			}
			switch {
			case op.pipe > 1: // about 10 commands per plain call: redis-benchmark's clock counts milliseconds
				n = 10 * calls / op.cmds
			case op.trips > 1:
				n = calls / op.trips
			}
			if g == 1 && op.pipe == 1 {
				n /= 3
			}
			// The call, and the same call through other pools: their runs take turns between the same
			// redis-benchmark runs, in a new order each round.
			group := []concRow{{op: op, goroutines: g, calls: max(n, 2)}}
			for _, v := range ops {
				if v.pool != nil && v.alongside == op.name && slices.Contains(v.levels, g) {
					group = append(group, concRow{op: v, goroutines: g, calls: group[0].calls})
				}
			}
			rounds := rounds
			if op.plain {
				rounds = plainRounds
			}
			var refRuns []concSide
			for k := range rounds + 1 {
				env.Progress("%s, -c %d: redis-benchmark %s (run %d/%d)", op.name, g, op.refName, k+1, rounds+1)
				ref, err := b.reference(ctx, bin, srv, probe, op, g, group[0].calls)
				if err != nil {
					return Section{}, fmt.Errorf("%s, -c %d: %w", op.name, g, err)
				}
				refRuns = append(refRuns, ref)
				if k == rounds {
					break
				}
				for j := range group {
					r := &group[(j+k)%len(group)]
					env.Progress("%s: %d goroutines, %d calls (round %d/%d)", r.op.name, g, r.calls, k+1, rounds)
					run, err := b.goSide(ctx, probe, reg, r.op, g, r.calls)
					if err != nil {
						return Section{}, fmt.Errorf("%s, %d goroutines: %w", r.op.name, g, err)
					}
					r.goRuns = append(r.goRuns, run)
				}
			}
			for _, r := range group {
				r.refRuns = refRuns
				rows = append(rows, r)
			}
		}
	}
	return b.section(env, rows, poolSize, [2]string{loadStart, firstField(loadAvg())})
}

// concSide is one run of one side of a row: the Go client or redis-benchmark.
type concSide struct {
	calls     int // Go calls; for redis-benchmark, its requests over the call's commands
	elapsed   time.Duration
	p50, p99  time.Duration
	lat       Latencies     // the Go calls' durations
	cpu       time.Duration // the client process's user+sys time
	serverCPU time.Duration // redis-server's used_cpu_user+sys over the run
}

func (s concSide) perSec() float64 { return float64(s.calls) / s.elapsed.Seconds() }

// concRow is one call at one level: rounds Go runs, each between two redis-benchmark runs.
type concRow struct {
	op         concOp
	goroutines int
	calls      int        // per run, on both sides
	goRuns     []concSide // rounds
	refRuns    []concSide // rounds+1: before the first Go run, then after each
}

// shares are each Go run's rate over the mean of the redis-benchmark runs around it.
func (r concRow) shares() []float64 {
	var out []float64
	for k, g := range r.goRuns {
		out = append(out, g.perSec()/((r.refRuns[k].perSec()+r.refRuns[k+1].perSec())/2))
	}
	return out
}

// concTotals sums runs: calls, time, client and server CPU.
type concTotals struct {
	calls                int
	elapsed, cpu, srvCPU time.Duration
	rates, p50s, p99s    []float64
}

func totals(runs []concSide) concTotals {
	var t concTotals
	for _, r := range runs {
		t.calls += r.calls
		t.elapsed += r.elapsed
		t.cpu += r.cpu
		t.srvCPU += r.serverCPU
		t.rates = append(t.rates, r.perSec())
		t.p50s = append(t.p50s, float64(r.p50))
		t.p99s = append(t.p99s, float64(r.p99))
	}
	return t
}

// perCall divides a total over the calls.
func (t concTotals) perCall(d time.Duration) time.Duration { return d / time.Duration(max(t.calls, 1)) }

// cores is the CPU the client and the server used together, in cores, while the runs ran.
func (t concTotals) cores() float64 { return (t.cpu + t.srvCPU).Seconds() / t.elapsed.Seconds() }

// goSide runs calls calls of op from goroutines goroutines, each call through the registry
// (conn.Call), on fresh data.
func (concurrencyBench) goSide(ctx context.Context, probe *redis.Client, reg *conn.Registry, op concOp, goroutines, calls int) (concSide, error) {
	if err := fill(ctx, probe, op); err != nil {
		return concSide{}, err
	}
	component := "bench"
	if op.pool != nil {
		component = "bench-pool" + strconv.Itoa(op.pool(goroutines))
	}
	// One more call per goroutine, run first, together: the pool dials what it will use.
	call, err := op.setup(ctx, probe, calls+goroutines, goroutines)
	if err != nil {
		return concSide{}, err
	}
	do := func(ctx context.Context, i, g int) error {
		_, err := conn.Call(ctx, reg, component, func(ctx context.Context, c redis.UniversalClient) (struct{}, error) {
			return struct{}{}, call(ctx, c, i, g)
		})
		return err
	}
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() { errs[g] = do(ctx, calls+g, g) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return concSide{}, fmt.Errorf("warm-up: %w", err)
	}

	lat := make([]Latencies, goroutines)
	var next atomic.Int64
	srv0, err := serverCPU(ctx, probe)
	if err != nil {
		return concSide{}, err
	}
	cpu0 := processCPU()
	start := time.Now()
	for g := range goroutines {
		wg.Go(func() {
			l := make(Latencies, 0, calls/goroutines+1)
			for {
				i := int(next.Add(1)) - 1
				if i >= calls {
					break
				}
				t0 := time.Now()
				if err := do(ctx, i, g); err != nil {
					errs[g] = fmt.Errorf("call %d: %w", i, err)
					next.Store(int64(calls)) // the others stop too
					break
				}
				l = append(l, time.Since(t0))
			}
			lat[g] = l
		})
	}
	wg.Wait()
	s := concSide{calls: calls, elapsed: time.Since(start), cpu: processCPU() - cpu0}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	srv1, err := serverCPU(ctx, probe)
	if err != nil {
		return s, err
	}
	s.serverCPU = srv1 - srv0
	s.lat = slices.Concat(lat...)
	s.p50, s.p99 = s.lat.Quantile(0.5), s.lat.Quantile(0.99)
	return s, nil
}

// reference runs redis-benchmark -c goroutines for calls of op's commands, on fresh data, and gives
// its figures per call.
func (concurrencyBench) reference(ctx context.Context, bin string, srv *redistest.Server, probe *redis.Client, op concOp, goroutines, calls int) (concSide, error) {
	if err := fill(ctx, probe, op); err != nil {
		return concSide{}, err
	}
	// A whole number of pipelines: redis-benchmark 7.0 may abort ("All clients disconnected") when -n
	// is not a multiple of -P.
	requests := (calls*op.cmds + op.pipe - 1) / op.pipe * op.pipe
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port()), "-c", strconv.Itoa(goroutines),
		"-n", strconv.Itoa(requests), "-P", strconv.Itoa(op.pipe), "--csv"}
	srv0, err := serverCPU(ctx, probe)
	if err != nil {
		return concSide{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(args, op.ref...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil { // killed by CommandContext
			return concSide{}, ctx.Err()
		}
		return concSide{}, fmt.Errorf("redis-benchmark: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	srv1, err := serverCPU(ctx, probe)
	if err != nil {
		return concSide{}, err
	}
	res, err := parseBenchmarkLatencies(stdout.Bytes())
	if err != nil {
		return concSide{}, err
	}
	if len(res) != 1 {
		return concSide{}, fmt.Errorf("redis-benchmark --csv: %d rows; want 1: %q", len(res), stdout.Bytes())
	}
	r := res[0]
	// Its own clock (connecting excluded) counts whole milliseconds: a run under one reads as an
	// infinite rate, so take the millisecond, a lower bound on the rate.
	took := time.Millisecond
	if !math.IsInf(r.rps, 1) {
		took = time.Duration(float64(requests) / r.rps * float64(time.Second))
	}
	share := float64(calls*op.cmds) / float64(requests) // of the requests, those the calls stand for
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * share) }
	return concSide{
		calls:     calls,
		elapsed:   scale(took),
		p50:       r.p50,
		p99:       r.p99,
		cpu:       scale(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()),
		serverCPU: scale(srv1 - srv0),
	}, nil
}

// fill flushes the server and writes what op's calls read (FLUSHALL keeps the scripts).
func fill(ctx context.Context, c *redis.Client, op concOp) error {
	if err := c.FlushAll(ctx).Err(); err != nil {
		return err
	}
	if op.fill == nil {
		return nil
	}
	return op.fill(ctx, c)
}

// benchmarkResult is one row of redis-benchmark --csv.
type benchmarkResult struct {
	test     string
	rps      float64
	p50, p99 time.Duration
}

// parseBenchmarkLatencies reads redis-benchmark 7's --csv: a header naming the columns ("test",
// "rps", ..., "p50_latency_ms", "p99_latency_ms", ...) and one row per test. An rps of "inf" (a run
// shorter than its millisecond clock) is +Inf.
func parseBenchmarkLatencies(out []byte) ([]benchmarkResult, error) {
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark --csv: %w", err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("redis-benchmark --csv: no rows in %q", out)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, h := range []string{"test", "rps", "p50_latency_ms", "p99_latency_ms"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("redis-benchmark --csv: no %q column in %q", h, recs[0])
		}
	}
	var res []benchmarkResult
	for _, r := range recs[1:] {
		if len(r) != len(recs[0]) {
			return nil, fmt.Errorf("redis-benchmark --csv: row %q has %d fields, header %d", r, len(r), len(recs[0]))
		}
		br := benchmarkResult{test: r[col["test"]]}
		if br.rps, err = strconv.ParseFloat(r[col["rps"]], 64); err != nil || !(br.rps > 0) { // NaN and -Inf too
			return nil, fmt.Errorf("redis-benchmark --csv: %s rps %q", br.test, r[col["rps"]])
		}
		for _, q := range []struct {
			name string
			d    *time.Duration
		}{{"p50_latency_ms", &br.p50}, {"p99_latency_ms", &br.p99}} {
			v, err := strconv.ParseFloat(r[col[q.name]], 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("redis-benchmark --csv: %s %s %q", br.test, q.name, r[col[q.name]])
			}
			*q.d = time.Duration(v * float64(time.Millisecond))
		}
		res = append(res, br)
	}
	return res, nil
}

// processCPU is this process's user+sys CPU time so far (every goroutine, the runtime's included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is INFO cpu's used_cpu_user + used_cpu_sys: redis-server's CPU time so far.
func serverCPU(ctx context.Context, c redis.Cmdable) (time.Duration, error) {
	s, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, err
	}
	var total float64
	found := 0
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_cpu_user" && k != "used_cpu_sys") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu: %s: %w", k, err)
		}
		total += f
		found++
	}
	if found != 2 {
		return 0, errors.New("INFO cpu: no used_cpu_user or used_cpu_sys")
	}
	return time.Duration(total * float64(time.Second)), nil
}

// levelShares is "-c 64 95%, -c 256 101%": op's median shares at levels.
func levelShares(share map[concKey]float64, op string, levels []int) string {
	var out []string
	for _, g := range levels {
		out = append(out, fmt.Sprintf("-c %d %s", g, pct(share[concKey{op, g}])))
	}
	return strings.Join(out, ", ")
}

// concKey names a row: a call and its goroutines.
type concKey struct {
	op string
	g  int
}

// totalsOf sums the Go runs of op's row at goroutines.
func totalsOf(rows []concRow, op string, goroutines int) concTotals {
	for _, r := range rows {
		if r.op.name == op && r.goroutines == goroutines {
			return totals(r.goRuns)
		}
	}
	return concTotals{}
}

// section reports the rows; poolSize is the registry client's pool, load the 1-minute load average
// as the measurement began and ended.
func (concurrencyBench) section(env *Env, rows []concRow, poolSize int, load [2]string) (Section, error) {
	goRedisPool := 10 * runtime.GOMAXPROCS(0)
	s := Section{
		Title: "Concurrency: one registry client against redis-benchmark -c N",
		Text: []string{
			fmt.Sprintf("N goroutines share one client from the connection registry (`conn.New`, component "+
				"config `{\"host\", \"port\"}`, so the registry's default pool of %d connections, "+
				"`conn.Options.PoolSize`, where go-redis's own default is 10 per GOMAXPROCS, %d), and each call "+
				"goes through `conn.Call` (the registry's Acquire and release around it). "+
				"The goroutines take calls from one counter until a fixed number is done; `redis-benchmark -c N` "+
				"sends the same commands the same number of times (`-n` = calls × commands per call, in whole "+
				"pipelines of `-P`, the call's pipeline where it has one) on the same server, and its requests per second are given "+
				"in the Go call's units (divided by the commands per call). Every run starts on a flushed server "+
				"with the data both sides read. Each row is %s: redis-benchmark before and after each "+
				"Go run, a share is the Go rate over the mean of the two around it, and the table gives the "+
				"median (min–max). The Go client's CPU is this process's user+sys time (getrusage) over the "+
				"timed loop; redis-benchmark's is its process's; redis-server's is INFO cpu over each run, for "+
				"both sides. GOMAXPROCS is left at %d.%s", poolSize, goRedisPool, roundsOf(rows), runtime.GOMAXPROCS(0), plainRun(rows)),
			"The references: GET, SET and INCR are redis-benchmark's own tests (its keys and 3-byte value); " +
				"`UpdateTokenPipeline` (HSET, 2 ZADD, ZREMRANGEBYRANK, ZINCRBY in one pipeline) against pipelines of " +
				"5 ZADDs; `CountVisit` (GET of the expected size, SADD, INCR: 3 round trips, every visitor new) " +
				"against single SADDs; `CountVisits` of 100 new session ids (GET, one pipeline of 100 SADDs, one " +
				"INCRBY) against pipelines of 100 SADDs; `PurchaseItemScript` (one EVALSHA, every purchase of a " +
				"listed item) against EVALSHA of a script making the purchase's 8 calls without its checks. " +
				fmt.Sprintf("\"%s\" is GET through another component of the same server whose config sets "+
					"`pool_size` %d, go-redis's default; \"%s\" sets it to the row's goroutines, as many "+
					"connections as redis-benchmark opens; their runs take turns with GET's between the same "+
					"redis-benchmark runs, in a new order each round.", concNarrow, goRedisPool, concWide),
		},
	}
	tab := Table{Header: []string{"call", "goroutines / -c", "round trips, commands per call", "Go calls /s",
		"Go p50", "Go p99", "Go CPU per call", "redis-benchmark", "its calls /s", "its p50", "its p99",
		"its CPU per call", "Go ÷ redis-benchmark", "server CPU per call (Go; redis-benchmark)",
		"cores busy, client + server (Go; redis-benchmark)"}}
	type key = concKey
	share := map[key]float64{}
	var plain []concRow // GET, SET and INCR through the default pool
	for _, r := range rows {
		g, ref := totals(r.goRuns), totals(r.refRuns)
		var lat Latencies
		for _, run := range r.goRuns {
			lat = append(lat, run.lat...)
		}
		sh := r.shares()
		share[key{r.op.name, r.goroutines}] = median(sh)
		if r.op.plain && r.op.pool == nil {
			plain = append(plain, r)
		}
		tab.Rows = append(tab.Rows, []string{r.op.name, strconv.Itoa(r.goroutines),
			fmt.Sprintf("%d, %d", r.op.trips, r.op.cmds), num(median(g.rates)), ms(lat.Quantile(0.5)),
			ms(lat.Quantile(0.99)), us(g.perCall(g.cpu)), r.op.refName, num(median(ref.rates)),
			ms(time.Duration(median(ref.p50s))), ms(time.Duration(median(ref.p99s))), us(ref.perCall(ref.cpu)),
			spread(sh), us(g.perCall(g.srvCPU)) + "; " + us(ref.perCall(ref.srvCPU)),
			fmt.Sprintf("%.2f; %.2f", g.cores(), ref.cores())})
	}
	s.Tables = append(s.Tables, tab)

	var sum, below []string
	for _, g := range concurrencyLevels {
		var parts []string
		for _, op := range ops45 {
			f := share[key{op.name, g}]
			parts = append(parts, pct(f))
			if math.Round(100*f) < 90 { // as shown
				below = append(below, fmt.Sprintf("%s at -c %d (%s)", op.name, g, pct(f)))
			}
		}
		sum = append(sum, fmt.Sprintf("-c %d %s", g, strings.Join(parts, "/")))
	}
	names := make([]string, len(ops45))
	for i, op := range ops45 {
		names[i] = op.name
	}
	s.Summary = fmt.Sprintf("one registry client ÷ redis-benchmark -c N, %s (median): %s; GET through "+
		"go-redis's default pool of %d instead of the registry's %d: %s",
		strings.Join(names, "/"), strings.Join(sum, ", "), goRedisPool, poolSize, levelShares(share, concNarrow, concNarrowLevels))

	// The reading quotes this run's figures, so that it cannot contradict them.
	var cpuGo, cpuRef, srvGo, srvRef, coresGo, coresRef []float64
	var lat1 []string
	for _, r := range plain {
		g, ref := totals(r.goRuns), totals(r.refRuns)
		if r.goroutines == 1 {
			var lat Latencies
			for _, run := range r.goRuns {
				lat = append(lat, run.lat...)
			}
			lat1 = append(lat1, fmt.Sprintf("%s %s against %s", r.op.name, ms(lat.Quantile(0.5)),
				ms(time.Duration(median(ref.p50s)))))
			continue
		}
		cpuGo = append(cpuGo, float64(g.perCall(g.cpu)))
		cpuRef = append(cpuRef, float64(ref.perCall(ref.cpu)))
		srvGo = append(srvGo, float64(g.perCall(g.srvCPU)))
		srvRef = append(srvRef, float64(ref.perCall(ref.srvCPU)))
		coresGo = append(coresGo, g.cores())
		coresRef = append(coresRef, ref.cores())
	}
	goal := "every GET, SET and INCR row reached 90% of redis-benchmark (median)"
	if len(below) > 0 {
		goal = "below 90% of redis-benchmark (median): " + strings.Join(below, ", ")
	}
	bound := median(cpuRef) + median(srvRef)
	busy := median(coresGo)
	pace := fmt.Sprintf("the client and redis-server together kept %.2f of the %d cores busy (median over the "+
		"GET, SET and INCR rows; redis-benchmark's runs %.2f): the machine's CPU, not a queue in the client, "+
		"sets the pace", busy, runtime.NumCPU(), median(coresRef))
	if busy < 0.8*float64(runtime.NumCPU()) {
		pace = fmt.Sprintf("the client and redis-server together kept only %.2f of the %d cores busy (median over "+
			"the GET, SET and INCR rows; redis-benchmark's runs %.2f): other work on this shared machine held the "+
			"rest (load average %s as the measurement began, %s as it ended), so the shares say how each client "+
			"fared in the competition for CPU as much as what each costs", busy, runtime.NumCPU(), median(coresRef),
			load[0], load[1])
	}
	var poolFigs, gained []string
	lighter := true // redis-server spent less per call through the registry's pool wherever it gained
	for _, g := range concNarrowLevels {
		reg, narrow := totalsOf(rows, "GET", g), totalsOf(rows, concNarrow, g)
		poolFigs = append(poolFigs, fmt.Sprintf("at -c %d %s of redis-benchmark through the registry's pool "+
			"against %s through go-redis's, %s of client CPU per call against %s (redis-server %s against %s)",
			g, pct(share[key{"GET", g}]), pct(share[key{concNarrow, g}]), us(reg.perCall(reg.cpu)),
			us(narrow.perCall(narrow.cpu)), us(reg.perCall(reg.srvCPU)), us(narrow.perCall(narrow.srvCPU))))
		if math.Round(100*share[key{"GET", g}]) > math.Round(100*share[key{concNarrow, g}]) {
			gained = append(gained, "-c "+strconv.Itoa(g))
			lighter = lighter && reg.perCall(reg.srvCPU) < narrow.perCall(narrow.srvCPU)
		}
	}
	poolNote := fmt.Sprintf("The pool: past its connections the goroutines queue for one, where redis-benchmark "+
		"opens a connection per client. GET reached %s. Through a pool as wide as the goroutines it reached "+
		"%s. ", strings.Join(poolFigs, "; "), levelShares(share, concWide, concWideLevels))
	if len(gained) > 0 {
		poolNote += fmt.Sprintf("The registry's wider default came out ahead at %s: the queue for go-redis's %d "+
			"connections costs the client CPU per call (the profile shows go-redis's pool semaphore, its "+
			"timer and a second park and wake-up of each goroutine)", strings.Join(gained, " and "), goRedisPool)
		if lighter {
			poolNote += ", and with fewer requests in flight redis-server serves fewer per turn of its event loop"
		}
		poolNote += "."
	} else {
		poolNote += "This run does not show the registry's wider default ahead of go-redis's; the rows' " +
			"ranges say how much of either is noise."
	}
	s.Notes = append(s.Notes,
		fmt.Sprintf("Reading it: %s. From 8 goroutines on, %s. Per call, the Go client spent %s of CPU "+
			"against redis-benchmark's %s (medians), and redis-server %s serving the Go client against %s "+
			"serving redis-benchmark. With both sides CPU-bound, the share the Go client can reach is about "+
			"the ratio of the CPU a call costs on each side, client and server together: (%s + %s) ÷ (%s + %s) "+
			"= %s here. The profile (`go test -run '^$' -bench ConcurrencyGET -cpuprofile`) puts the Go side's "+
			"time in system calls: a write and a read per command, as redis-benchmark's, plus go-redis's "+
			"check of each pooled connection as it hands it out (a non-blocking MSG_PEEK recvfrom) and the "+
			"runtime's park and wake-up of the goroutine waiting for its reply; the registry's Acquire "+
			"(atomic loads, no lock) does not register.",
			goal, pace, us(time.Duration(median(cpuGo))), us(time.Duration(median(cpuRef))),
			us(time.Duration(median(srvGo))), us(time.Duration(median(srvRef))),
			us(time.Duration(median(cpuRef))), us(time.Duration(median(srvRef))),
			us(time.Duration(median(cpuGo))), us(time.Duration(median(srvGo))),
			pct(bound/(median(cpuGo)+median(srvGo)))),
		fmt.Sprintf("With one goroutine a call is one round trip at a time, so latency, not CPU, sets the "+
			"rate: the median call took %s (Go; redis-benchmark). ", strings.Join(lat1, ", "))+poolNote,
		"The pattern rows are not held to redis-benchmark's figure: each call does more than its reference "+
			"(the token update's commands are not all ZADDs, a visit takes 3 round trips where the reference "+
			"sends one SADD at a time, a purchase's script checks what the reference's does not), so their "+
			"share is the cost of the pattern's own work on top of the client's.")

	groups := make([]string, len(concurrencyLevels))
	for i, g := range concurrencyLevels {
		groups[i] = "-c " + strconv.Itoa(g)
	}
	colors := []color.Color{blue, orange, green, purple, lightBlue, lightOrng, red, grey}
	var ss []series
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.op.name] || r.op.levels != nil {
			continue
		}
		seen[r.op.name] = true
		v := make([]float64, len(concurrencyLevels))
		for i, g := range concurrencyLevels {
			v[i] = 100 * share[key{r.op.name, g}]
		}
		name := r.op.name // without its package: "CountVisits (100 ids)"
		if i := strings.Index(name, "."); i >= 0 && !strings.Contains(name[:i], " ") {
			name = name[i+1:]
		}
		ss = append(ss, series{Name: name, Values: v, Color: colors[len(ss)%len(colors)]})
	}
	p, err := barChart("Concurrency: one registry client as a share of redis-benchmark -c N", "% of redis-benchmark",
		groups, ss, false, []refLine{{Name: "goal for GET, SET, INCR: 90%", Y: 90, Color: grey}})
	if err != nil {
		return s, err
	}
	path, err := env.SaveChart("concurrency", p, chartW, chartH)
	if err != nil {
		return s, err
	}
	s.Charts = append(s.Charts, Chart{Title: "Concurrency chart", Path: path})
	return s, nil
}

// us formats a short duration in microseconds: 12.3 µs.
// roundsOf says how many rounds the rows have: "3 rounds", or the plain commands' apart.
func roundsOf(rows []concRow) string {
	var plain, other int
	for _, r := range rows {
		if r.op.plain {
			plain = len(r.goRuns)
		} else {
			other = len(r.goRuns)
		}
	}
	rounds := func(n int) string {
		if n == 1 {
			return "1 round"
		}
		return fmt.Sprintf("%d rounds", n)
	}
	switch {
	case plain == other || other == 0:
		return rounds(plain)
	case plain == 0:
		return rounds(other)
	}
	return fmt.Sprintf("%s for GET, SET and INCR, %s for the other calls", rounds(plain), rounds(other))
}

// plainRun says how long a run of the plain commands is, where the rows give it.
func plainRun(rows []concRow) string {
	for _, r := range rows {
		if r.op.plain && r.goroutines > 1 {
			return fmt.Sprintf(" A run of GET, SET or INCR is %s calls from 8 goroutines up (a third of that "+
				"from one), long enough that a neighbour's burst on a shared machine does not decide a share.",
				num(float64(r.calls)))
		}
	}
	return ""
}

func us(d time.Duration) string {
	v := float64(d) / float64(time.Microsecond)
	if v < 10 {
		return fmt.Sprintf("%.2f µs", v)
	}
	return fmt.Sprintf("%.1f µs", v)
}
