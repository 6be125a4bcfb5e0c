package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

func init() { register(45, table45{}) }

// table45 reproduces Table 4.5: a client's single-connection rates as a share of redis-benchmark -c 1
// against the same server, and what connecting per command costs.
type table45 struct{}

func (table45) Name() string { return "table4.5" }

// ErrNoRedisBenchmark is returned when redis-benchmark is not installed.
var ErrNoRedisBenchmark = errors.New("redis-benchmark not found in PATH: it ships with redis-tools " +
	"(`make deps` installs it, or `sudo apt-get install -y redis-tools`)")

// The commands, with redis-benchmark's own keys and 3-byte value, in the order it runs them.
var ops45 = []struct {
	name string
	fn   func(context.Context, redis.Cmdable) error
}{
	{"SET", func(ctx context.Context, c redis.Cmdable) error {
		return c.Set(ctx, "key:__rand_int__", "xxx", 0).Err()
	}},
	{"GET", func(ctx context.Context, c redis.Cmdable) error { return c.Get(ctx, "key:__rand_int__").Err() }},
	{"INCR", func(ctx context.Context, c redis.Cmdable) error { return c.Incr(ctx, "counter:__rand_int__").Err() }},
}

// variant45 is one way of reaching the server.
type variant45 struct {
	name, book string
	// call runs op once; the variant decides where the client comes from.
	call func(ctx context.Context, op func(context.Context, redis.Cmdable) error) error
	n    int // calls per op
}

func (t table45) Run(ctx context.Context, env *Env) (Section, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return Section{}, ErrNoRedisBenchmark
	}
	srv, err := env.Server(ctx, nil)
	if err != nil {
		return Section{}, err
	}
	n := Pick(env, 10_000, 5_000, 1_000) // per command per round
	perConn := Pick(env, 200, 100, 20)   // per command per round; each leaves a socket in TIME_WAIT: bounded

	opt := srv.Options()
	opt.PoolSize = 1
	opt.MaxRetries = -1
	raw := redis.NewClient(opt)
	defer raw.Close()
	cfgClient := srv.NewClient()
	defer cfgClient.Close()
	reg, err := conn.New(cfgClient, nil)
	if err != nil {
		return Section{}, err
	}
	defer reg.Close()
	if err := reg.SetConfig(ctx, "bench", map[string]any{"host": "127.0.0.1", "port": srv.Port()}); err != nil {
		return Section{}, err
	}

	variants := []variant45{
		{"go-redis, one connection reused", "50–60% (Python client)", func(ctx context.Context, op func(context.Context, redis.Cmdable) error) error {
			return op(ctx, raw)
		}, n},
		{"conn registry: `reg.Client(ctx, component)` per call", "", func(ctx context.Context, op func(context.Context, redis.Cmdable) error) error {
			c, err := reg.Client(ctx, "bench")
			if err != nil {
				return err
			}
			return op(ctx, c)
		}, n},
		{"conn registry: `conn.Call` per call", "", func(ctx context.Context, op func(context.Context, redis.Cmdable) error) error {
			_, err := conn.Call(ctx, reg, "bench", func(ctx context.Context, c redis.Cmdable) (struct{}, error) {
				return struct{}{}, op(ctx, c)
			})
			return err
		}, n},
		{"new client (connection) per command: the anti-pattern", "25–30%", func(ctx context.Context, op func(context.Context, redis.Cmdable) error) error {
			c := redis.NewClient(opt)
			defer c.Close()
			return op(ctx, c)
		}, perConn},
	}

	// Rounds alternate redis-benchmark and the Go clients command by command: redis-benchmark runs
	// before and after the Go clients, and each Go rate is compared with the mean of the two, so that a
	// change in the machine's load (it is shared) falls on both sides of a ratio; the report gives
	// medians over the rounds. Between the two, the Go variants take turns in chunks, in a new order each
	// chunk, so that none always runs first, last or behind the same one: the registry's cost over the raw client
	// (a few atomic operations against a round trip) is a ratio of rates measured side by side.
	rounds := Pick(env, 10, 4, 1)
	chunks := Pick(env, 10, 5, 2)
	budget := Pick(env, time.Minute, 20*time.Second, 2*time.Second) / time.Duration(chunks)
	m := measured45{rb: make([][]float64, len(ops45)), rates: make([][][]Rate, len(variants)),
		shares: make([][][]float64, len(variants)), timeWait: -1}
	for i := range variants {
		m.rates[i] = make([][]Rate, len(ops45))
		m.shares[i] = make([][]float64, len(ops45))
	}
	for round := range rounds {
		for j, op := range ops45 {
			bench := func() (float64, error) {
				env.Progress("round %d/%d: redis-benchmark -c 1 -n %d -t %s", round+1, rounds, n, op.name)
				rps, err := redisBenchmark(ctx, bin, srv, n, op.name)
				m.rb[j] = append(m.rb[j], rps)
				return rps, err
			}
			before, err := bench()
			if err != nil {
				return Section{}, err
			}
			got := make([]Rate, len(variants))
			for _, v := range variants {
				if err := v.call(ctx, op.fn); err != nil { // warm-up: dial, load the config
					return Section{}, fmt.Errorf("%s %s: %w", v.name, op.name, err)
				}
			}
			for k := range chunks {
				// A new order every chunk: a rotation alone would keep each variant behind the same
				// neighbour (the connection-per-command one leaves sockets closing behind it).
				order := order45.Perm(len(variants))
				env.Progress("round %d/%d: %s, chunk %d/%d of the Go variants, %s first", round+1, rounds, op.name,
					k+1, chunks, shortName45(variants[order[0]].name))
				for _, i := range order {
					v := variants[i]
					r, err := env.Loop(ctx, budget, max(v.n/chunks, 1),
						func(ctx context.Context) error { return v.call(ctx, op.fn) })
					if err != nil {
						return Section{}, fmt.Errorf("%s %s: %w", v.name, op.name, err)
					}
					got[i].Calls += r.Calls
					got[i].Elapsed += r.Elapsed
				}
			}
			// Sockets the connection-per-command variant left behind, while they are still there
			// (Linux keeps one in TIME_WAIT for 60 s).
			if tw, err := timeWait(srv.Port()); err == nil {
				m.timeWait = max(m.timeWait, tw)
			}
			after, err := bench()
			if err != nil {
				return Section{}, err
			}
			for i, r := range got {
				m.rates[i][j] = append(m.rates[i][j], r)
				m.shares[i][j] = append(m.shares[i][j], r.PerSec()/((before+after)/2))
			}
		}
	}
	return t.section(env, n, rounds, chunks, variants, m)
}

// order45 draws the Go variants' order in each chunk; seeded, so runs are comparable.
var order45 = rand.New(rand.NewPCG(45, 45))

// measured45 holds every round: rb[op] every redis-benchmark rate (two per round), rates[variant][op][round],
// shares[variant][op][round] of the redis-benchmark runs around it; timeWait is the most sockets to the
// server's port seen in TIME_WAIT after a command's turn (-1: not counted, no /proc/net/tcp).
type measured45 struct {
	rb       [][]float64
	rates    [][][]Rate
	shares   [][][]float64
	timeWait int
}

// vsRaw is variant i's rate over the raw client's (variant 0), per command and round.
func (m measured45) vsRaw(i int) []float64 {
	var out []float64
	for j := range m.rates[i] {
		for round, r := range m.rates[i][j] {
			out = append(out, r.PerSec()/m.rates[0][j][round].PerSec())
		}
	}
	return out
}

// redisBenchmark runs redis-benchmark -c 1 against srv and returns requests per second by command.
func redisBenchmark(ctx context.Context, bin string, srv *redistest.Server, n int, test string) (float64, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port()),
		"-c", "1", "-n", strconv.Itoa(n), "-t", strings.ToLower(test), "--csv")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	rps, err := parseBenchmarkCSV(stdout.Bytes())
	if err != nil {
		return 0, err
	}
	v, ok := rps[test]
	if !ok {
		return 0, fmt.Errorf("redis-benchmark --csv: no %s row in %q", test, stdout.Bytes())
	}
	return v, nil
}

// parseBenchmarkCSV is parseBenchmarkLatencies's requests per second, by test.
func parseBenchmarkCSV(out []byte) (map[string]float64, error) {
	rows, err := parseBenchmarkLatencies(out)
	if err != nil {
		return nil, err
	}
	rps := map[string]float64{}
	for _, r := range rows {
		rps[r.test] = r.rps
	}
	return rps, nil
}

func (table45) section(env *Env, n, rounds, chunks int, variants []variant45, m measured45) (Section, error) {
	s := Section{
		Title: "Table 4.5: a client against redis-benchmark",
		Text: []string{
			fmt.Sprintf("`redis-benchmark -c 1 -n %d -t <command>` (one connection, no pipelining, its own keys and "+
				"3-byte value) and each Go variant (the same commands, one at a time, from one goroutine) take "+
				"turns against the same redis-server, command by command, for %d round(s): redis-benchmark runs "+
				"before and after the Go clients, a share is a Go rate over the mean of those two, and the table "+
				"gives the medians over the rounds. Between the two runs of redis-benchmark the Go variants "+
				"take turns in %d chunks, in a new shuffled order each chunk, and \"vs raw\" is a variant's rate "+
				"over the raw client's in the same round and command (median over every command and round; "+
				"min–max). The book measured its Python client at 50–60%% of redis-benchmark, and 25–30%% when "+
				"connecting for every command.", n, rounds, chunks),
		},
	}
	header := []string{"client"}
	for _, op := range ops45 {
		header = append(header, op.name+" /s", op.name+" %")
	}
	tab := Table{Header: append(header, "vs raw (median; min–max)", "book")}
	row := []string{"redis-benchmark -c 1 (median; min–max)"}
	for j := range ops45 {
		row = append(row, fmt.Sprintf("%s (%s–%s)", num(median(m.rb[j])), num(slices.Min(m.rb[j])), num(slices.Max(m.rb[j]))), "100%")
	}
	tab.Rows = append(tab.Rows, append(row, "–", "100%"))

	var ss []series
	colors := []color.Color{blue, green, purple, red}
	var summary, counts, registry []string
	registryNoise := true                  // every registry row's spread includes parity with the raw client
	perCall := func(i int) time.Duration { // median time of one call of variant i, over every command and round
		var ds []float64
		for _, rs := range m.rates[i] {
			for _, r := range rs {
				ds = append(ds, float64(r.Elapsed)/float64(r.Calls))
			}
		}
		return time.Duration(median(ds))
	}
	for i, v := range variants {
		row := []string{v.name}
		var shares []float64
		for j, op := range ops45 {
			var perSec []float64
			calls := 0
			var took time.Duration
			for _, r := range m.rates[i][j] {
				perSec = append(perSec, r.PerSec())
				calls += r.Calls
				took += r.Elapsed
			}
			share := m.shares[i][j]
			row = append(row, num(median(perSec)), pct(median(share)))
			shares = append(shares, 100*median(share))
			counts = append(counts, fmt.Sprintf("%s %s %d in %v", shortName45(v.name), op.name, calls, took.Round(time.Millisecond)))
		}
		vs := "100% (itself)"
		if i > 0 {
			r := m.vsRaw(i)
			vs = spread(r)
			if i < len(variants)-1 {
				registry = append(registry, shortName45(v.name)+" "+vs)
				registryNoise = registryNoise && slices.Min(r) <= 1 && slices.Max(r) >= 1
			}
		}
		book := v.book
		if book == "" {
			book = "–"
		}
		tab.Rows = append(tab.Rows, append(row, vs, book))
		ss = append(ss, series{Name: shortName45(v.name), Values: shares, Color: colors[i%len(colors)]})
		if i == 0 || i == len(variants)-1 {
			lo, hi := pct(slices.Min(shares)/100), pct(slices.Max(shares)/100)
			if lo == hi {
				summary = append(summary, fmt.Sprintf("%s %s", shortName45(v.name), lo))
			} else {
				summary = append(summary, fmt.Sprintf("%s %s–%s", shortName45(v.name), lo, hi))
			}
		}
	}
	s.Tables = append(s.Tables, tab)
	s.Summary = "share of redis-benchmark -c 1: " + strings.Join(summary, "; ") +
		" (book: Python 50–60%, per-connection 25–30%); registry vs raw client: " + strings.Join(registry, ", ")

	// The registry's reading follows from the vs raw figures, so that it cannot contradict them.
	regCost := "every spread includes 100%: whatever the lookup costs is below this machine's noise"
	if !registryNoise {
		var extra []string
		for i := 1; i < len(variants)-1; i++ {
			extra = append(extra, fmt.Sprintf("%s %v", shortName45(variants[i].name),
				(perCall(i)-perCall(0)).Round(100*time.Nanosecond)))
		}
		regCost = "not every spread includes 100%: per call, against the raw client's " +
			perCall(0).Round(100*time.Nanosecond).String() + ", the median difference was " +
			strings.Join(extra, ", ") + " (the lookup itself is a few atomic operations; " +
			"the rest is this machine's noise)"
	}
	timeWait := ""
	if m.timeWait >= 0 {
		timeWait = fmt.Sprintf(" Counted in /proc/net/tcp after each command's turn, up to %s sockets to the "+
			"server's port were in TIME_WAIT at once (Linux keeps each for 60 s)%s.", count(m.timeWait), portRange())
	}
	s.Notes = append(s.Notes,
		"Reading it: redis-benchmark does not parse replies, go-redis does, and also pays for a goroutine-safe "+
			"pool and context handling; the book's Python client paid for much more. The registry rows add the "+
			"lookup of the component's cached client on each call (`reg.Client` acquires and releases it at "+
			"once, `conn.Call` holds it for the call): "+strings.Join(registry, ", ")+" of the raw client's rate; "+
			regCost+".",
		fmt.Sprintf("Connecting per command: here a command on an open connection took %v and one with its own "+
			"client %v (a TCP dial, go-redis's HELLO handshake and a close, each time). The fixed cost of a "+
			"connection did not shrink as the command did, so the anti-pattern costs far more, relatively, than "+
			"the book's 25–30%%; each closed connection also leaves a socket in TIME_WAIT, the source of the "+
			"book's \"Cannot assign requested address\" once they hold every ephemeral port.%s This is why "+
			"`conn` hands out one long-lived client per component.",
			perCall(0).Round(100*time.Nanosecond), perCall(len(variants)-1).Round(time.Microsecond), timeWait),
		"Samples (all rounds): "+strings.Join(counts, "; ")+".")

	p, err := barChart("Table 4.5: share of redis-benchmark -c 1 (same server, same run)", "% of redis-benchmark",
		[]string{"SET", "GET", "INCR"}, ss, false, []refLine{
			{"book: Python client, 50–60%", 60, grey}, {"", 50, grey},
			{"book: connecting per command, 25–30%", 30, orange}, {"", 25, orange},
		})
	if err != nil {
		return s, err
	}
	path, err := env.SaveChart("table4.5", p, chartW, chartH)
	if err != nil {
		return s, err
	}
	s.Charts = append(s.Charts, Chart{Title: "Table 4.5 chart", Path: path})
	return s, nil
}

// timeWait counts the TCP sockets in TIME_WAIT with port at either end, from /proc/net/tcp and tcp6.
func timeWait(port int) (int, error) {
	total := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) && f == "/proc/net/tcp6" { // no IPv6
			continue
		}
		if err != nil {
			return 0, err
		}
		n, err := countTimeWait(string(b), port)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		total += n
	}
	return total, nil
}

// countTimeWait reads /proc/net/tcp's format: a header, then "sl local rem st ...", addresses as
// hex "ADDR:PORT" and st 06 for TIME_WAIT.
func countTimeWait(table string, port int) (int, error) {
	n := 0
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) == 0 || !strings.Contains(lines[0], "local_address") {
		return 0, fmt.Errorf("no header in %q", firstLineOf(table))
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 4 {
			return 0, fmt.Errorf("short line %q", line)
		}
		if f[3] != "06" {
			continue
		}
		for _, addr := range f[1:3] {
			_, hex, ok := strings.Cut(addr, ":")
			p, err := strconv.ParseUint(hex, 16, 16)
			if !ok || err != nil {
				return 0, fmt.Errorf("address %q in %q", addr, line)
			}
			if int(p) == port {
				n++
				break
			}
		}
	}
	return n, nil
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// portRange describes the ephemeral ports a client's connections come from, and whether the kernel
// reuses a TIME_WAIT port for a new outgoing connection; "" when /proc does not say.
func portRange() string {
	f := strings.Fields(firstLine("/proc/sys/net/ipv4/ip_local_port_range", ""))
	if len(f) != 2 {
		return ""
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return ""
	}
	out := fmt.Sprintf(", of %s ephemeral ports (ip_local_port_range %d–%d)", count(hi-lo+1), lo, hi)
	if r, ok := map[string]string{"0": "never", "1": "for every connection", "2": "for loopback connections only"}[firstLine("/proc/sys/net/ipv4/tcp_tw_reuse", "")]; ok {
		out += "; this kernel reuses a TIME_WAIT port for a new connection " + r + " (tcp_tw_reuse)"
	}
	return out
}

// median of xs (the mean of the middle two for an even count); xs is not modified.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func shortName45(name string) string {
	switch {
	case strings.HasPrefix(name, "go-redis"):
		return "go-redis"
	case strings.Contains(name, "reg.Client"):
		return "reg.Client"
	case strings.Contains(name, "conn.Call"):
		return "conn.Call"
	case strings.HasPrefix(name, "new client"):
		return "client per command"
	}
	return name
}
