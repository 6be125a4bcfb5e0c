package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// The program's smoke mode, end to end: real servers, redis-benchmark, the proxies, the report and the
// charts. It checks that everything is there and well formed, never how fast anything was.
func TestSmokeRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "RESULTS.md")
	var progress bytes.Buffer
	if err := cli(ctx, []string{"-smoke", "-out", out}, &progress); err != nil {
		t.Fatalf("smoke run: %v\nprogress:\n%s", err, progress.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	for _, want := range []string{
		"# ria benchmarks", "cd benchmarks && go run . -smoke", "| CPU |", "| cores |", "| OS / kernel |", "| Go |",
		"| redis-server | 7.", "| go-redis | 9.", "| toxiproxy (VPN row) | v2.", "| gonum/plot (charts) | v0.", "## Summary",
		"## Table 4.4: pipelines over four kinds of network", "| Local machine, Unix domain socket |",
		"| Local machine, localhost |", "| Remote machine, shared switch |", "| Remote machine, connected through VPN |",
		"calibrated just before the row to a 0.271 ms round trip", "calibration's last reading median",
		"## Table 4.5: a client against redis-benchmark", "| go-redis, one connection reused |",
		"| vs raw (median; min–max) |", "| 100% (itself) |", "registry vs raw client: reg.Client ", "in TIME_WAIT at once",
		"`reg.Client(ctx, component)` per call", "`conn.Call` per call", "new client (connection) per command",
		"## ProcessLogs: the cost of exactly-once", "| `logs.ProcessLogs`: callback queues one HINCRBY per line",
		"in plain pipelines of 1,000 |", "in MULTI/EXEC transactions of 1,000",
		"## Table 6.3: marketplace contention, WATCH against a Lua script", "| 1 / 1 | WATCH |", "| 1 / 1 | Lua script |",
		"| 5 / 1 | WATCH |", "| 5 / 5 | Lua script |", "| 10 / 10 | WATCH |", "| 10 / 10 | Lua script |",
		"## Unique visitors: memory per visitor", "| sharded SETs, the book's layout", "| one SET of the integer ids | 1 | hashtable |",
		"| one SET of the UUID strings", "| HyperLogLog", "| intset |",
		"## Sharding: rb-style cluster over 16 servers", "one MGET per host, hosts in parallel", "16 MGET",
		"all 16 hosts in parallel: `All`",
		"## Concurrency: one registry client against redis-benchmark -c N", "| bitmap of dense user ids",
		"`Counter.CountVisits` of all", "## Failover: what is lost",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(report, "FAILED") {
		t.Errorf("report has a failed section:\n%s", report)
	}
	// Every table row has as many cells as its header.
	checkTables(t, report)

	charts := regexp.MustCompile(`!\[[^\]]*\]\(([^)]+)\)`).FindAllStringSubmatch(report, -1)
	if len(charts) < len(benches) {
		t.Fatalf("report links %d charts; want one per measurement (%d)", len(charts), len(benches))
	}
	for _, c := range charts {
		f, err := os.Open(filepath.Join(filepath.Dir(out), c[1]))
		if err != nil {
			t.Errorf("chart %s: %v", c[1], err)
			continue
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("chart %s is not a PNG: %v", c[1], err)
			continue
		}
		if r := img.Bounds(); r.Dx() < 400 || r.Dy() < 200 {
			t.Errorf("chart %s is %v; want a readable size", c[1], r)
		}
	}
	for _, n := range names() {
		if !strings.Contains(progress.String(), n) {
			t.Errorf("progress output lacks %s:\n%s", n, progress.String())
		}
	}
	if !strings.Contains(progress.String(), "wrote "+out) || strings.Contains(progress.String(), "README") {
		t.Errorf("progress output lacks the report, or mentions a README:\n%s", progress.String())
	}
}

func checkTables(t *testing.T, md string) {
	t.Helper()
	cols := -1
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = -1
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") - 1
		if cols < 0 {
			cols = n
		} else if n != cols {
			t.Errorf("table row has %d cells, header %d: %s", n, cols, line)
		}
	}
}

func TestCLIBadInput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a case that wrongly got through would start measuring: stop it at once
	dir := t.TempDir()
	noMarkers := filepath.Join(dir, "README.md")
	if err := os.WriteFile(noMarkers, []byte("# x\n\n<!-- bench:start -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-smoke", "-quick"},
		{"-only", "table9.9"},
		{"-quick", "extra"},
		{"-nosuchflag"},
		{"-smoke", "-readme", "README.md"},
		{"-quick", "-only", "market", "-readme", "README.md"},
		{"-quick", "-readme", "README.md"},
		{"-readme", filepath.Join(dir, "missing.md")},
		{"-readme", noMarkers},
	} {
		var stderr bytes.Buffer
		args = append([]string{"-out", filepath.Join(dir, "RESULTS.md")}, args...)
		if err := cli(ctx, args, &stderr); err == nil {
			t.Errorf("cli(%q) succeeded; want an error", args)
		}
	}
}

// A partial run without -out writes to a temporary directory, never over the committed report.
func TestPartialRunKeepsCommittedReport(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the measurement fails at once; the report (with its failed section) is still written
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("benchmarks", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-quick"}, {"-smoke"}, {"-only", "table4.5"}} {
		var stderr bytes.Buffer
		if err := cli(ctx, args, &stderr); err == nil {
			t.Errorf("cli(%q) with a cancelled context succeeded", args)
		}
		if _, err := os.Stat(defaultOut); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("cli(%q) wrote %s (stat: %v)", args, defaultOut, err)
		}
		m := regexp.MustCompile(`wrote (\S+RESULTS\.md)`).FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("cli(%q): no report written:\n%s", args, stderr.String())
		}
		if _, err := os.Stat(m[1]); err != nil {
			t.Errorf("cli(%q): %v", args, err)
		}
		os.RemoveAll(filepath.Dir(m[1]))
	}
}

func TestCountTimeWait(t *testing.T) {
	// Two sockets to port 6379 (0x18EB) in TIME_WAIT (06), one established (01), one TIME_WAIT elsewhere.
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   100        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:9C40 0100007F:18EB 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   2: 0100007F:18EB 0100007F:9C41 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   3: 0100007F:9C42 0100007F:18EB 01 00000000:00000000 00:00000000 00000000   100        0 2 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:9C43 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
`
	n, err := countTimeWait(table, 6379)
	if err != nil || n != 2 {
		t.Fatalf("countTimeWait = %d, %v; want 2", n, err)
	}
	for name, bad := range map[string]string{
		"no header":   "   1: 0100007F:9C40 0100007F:18EB 06\n",
		"short line":  "sl local_address rem_address st\n 1: 0100007F:9C40\n",
		"bad address": "sl local_address rem_address st\n 1: 0100007F:zz 0100007F:18EB 06\n",
	} {
		if _, err := countTimeWait(bad, 6379); err == nil {
			t.Errorf("%s: counted; want an error", name)
		}
	}
	// This machine's own table parses (Linux).
	if _, err := os.Stat("/proc/net/tcp"); err == nil {
		if _, err := timeWait(6379); err != nil {
			t.Errorf("timeWait on this machine: %v", err)
		}
	}
}

// The README's section is rewritten between its markers and nothing else in the file changes.
func TestWriteReadme(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	before, after := "# ria\n\nIntro.\n\n## Benchmarks\n\n", "\n\n## Testing\n\nThe rest.\n"
	if err := os.WriteFile(readme, []byte(before+readmeStart+"\nold summary\n"+readmeEnd+after), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := Report{Mode: Full, Took: 7 * time.Minute, Machine: Machine{Cores: 2, CPU: "AMD EPYC", LoadAvg: "2.10 1.00 0.50",
		LoadAvgEnd: "3.20 2.00 1.00", RedisServer: "7.0.15", GoRedis: "9.23.0"},
		Sections: []Section{
			{Title: "Table 4.4: pipelines over four kinds of network", Summary: "ratio 4.9×",
				Charts: []Chart{{Title: "Table 4.4 chart", Path: "charts/table4.4.png"}}},
			{Title: "Sharding: rb-style cluster over 16 servers", Failed: "boom"},
		}}
	for range 2 { // twice: the second run replaces the first's section
		if err := writeReadme(readme, filepath.Join(dir, "benchmarks", "RESULTS.md"), rep); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.HasPrefix(got, before+readmeStart+"\n") || !strings.HasSuffix(got, readmeEnd+after) {
		t.Fatalf("text outside the markers changed:\n%s", got)
	}
	for _, want := range []string{
		"`cd benchmarks && go run .` (full mode, 7m0s)", "load average 2.10 at the start, 3.20 at the end",
		"| [Table 4.4: pipelines over four kinds of network](benchmarks/RESULTS.md#table-44-pipelines-over-four-kinds-of-network) | ratio 4.9× |",
		"| FAILED: boom |", "![Table 4.4 chart](benchmarks/charts/table4.4.png)", "`make bench`", "`cd benchmarks && go run . -quick`",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("README section lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old summary") || strings.Count(got, readmeStart) != 1 {
		t.Errorf("old section kept or markers duplicated:\n%s", got)
	}
	checkTables(t, got)

	for name, text := range map[string]string{
		"no markers": "# x\n", "end before start": readmeEnd + "\n" + readmeStart + "\n",
		"two starts": readmeStart + readmeStart + readmeEnd,
	} {
		bad := filepath.Join(dir, "bad.md")
		if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := writeReadme(bad, filepath.Join(dir, "RESULTS.md"), rep); !errors.Is(err, ErrNoMarkers) {
			t.Errorf("%s: %v; want ErrNoMarkers", name, err)
		}
		if b, _ := os.ReadFile(bad); string(b) != text {
			t.Errorf("%s: file changed to %q", name, b)
		}
	}
}

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_get:calls=1000,usec=500,usec_per_call=0.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n"
	m, err := parseCommandStats(info)
	if err != nil {
		t.Fatal(err)
	}
	if m["get"] != 1000 || m["client|setinfo"] != 2 || len(m) != 2 {
		t.Fatalf("parsed %v; want get 1000, client|setinfo 2", m)
	}
	for _, bad := range []string{"cmdstat_get\r\n", "cmdstat_get:usec=5\r\n", "cmdstat_get:calls=x\r\n"} {
		if _, err := parseCommandStats(bad); err == nil {
			t.Errorf("parsed %q; want an error", bad)
		}
	}
	if got := cmdSummary(map[string]int64{"mget": 32, "get": 3}, 2); got != "1.50 GET + 16 MGET" {
		t.Errorf("cmdSummary = %q", got)
	}
}

func TestLogStatus(t *testing.T) {
	s, err := logStatus(`10.0.0.1 - - [01/Mar/2024:00:00:00 +0000] "GET /item/5 HTTP/1.1" 404 512`)
	if err != nil || s != "404" {
		t.Fatalf("logStatus = %q, %v; want 404", s, err)
	}
	for _, bad := range []string{"", "no quotes here", `x "GET /" 2000 1`} {
		if _, err := logStatus(bad); err == nil {
			t.Errorf("logStatus(%q) succeeded", bad)
		}
	}
	// The generated files parse, and their sizes add up.
	dir := t.TempDir()
	size, err := writeLogs(dir, 2, 100)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, name := range []string{"access-000.log", "access-001.log"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 100 {
			t.Fatalf("%s has %d lines; want 100", name, len(lines))
		}
		for _, l := range lines {
			if _, err := logStatus(l); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	if total != size {
		t.Fatalf("writeLogs reported %d bytes; files hold %d", size, total)
	}
}

func TestMissingRedisBenchmarkFailsClearly(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	env := newEnv(Smoke, t.TempDir(), newProgress(&bytes.Buffer{}))
	defer env.closeServers()
	_, err := table45{}.Run(context.Background(), env)
	if !errors.Is(err, ErrNoRedisBenchmark) {
		t.Fatalf("table4.5 without redis-benchmark: %v; want ErrNoRedisBenchmark", err)
	}
	if !strings.Contains(err.Error(), "redis-tools") {
		t.Fatalf("error %q does not say what to install", err)
	}
}

func TestParseBenchmarkCSV(t *testing.T) {
	good := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","48076.92","0.021","0.016","0.023","0.023","0.039","0.135"
"GET","48543.69","0.020","0.016","0.023","0.023","0.031","0.135"
`
	rps, err := parseBenchmarkCSV([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if rps["SET"] != 48076.92 || rps["GET"] != 48543.69 || len(rps) != 2 {
		t.Fatalf("parsed %v; want SET 48076.92, GET 48543.69", rps)
	}
	for name, bad := range map[string]string{
		"empty":      "",
		"no header":  `"SET","1.0"` + "\n",
		"not a rate": `"test","rps"` + "\n" + `"SET","fast"` + "\n",
		"zero rate":  `"test","rps"` + "\n" + `"SET","0"` + "\n",
		"short row":  `"test","rps"` + "\n" + `"SET"` + "\n",
		"quiet mode": "SET: 48076.92 requests per second\n",
	} {
		if _, err := parseBenchmarkCSV([]byte(bad)); err == nil {
			t.Errorf("%s: parsed; want an error", name)
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{num(3.674), "3.67"}, {num(18.24), "18.2"}, {num(739.4), "739"}, {num(6394), "6,394"},
		{num(1234567), "1,234,567"}, {pct(0.554), "55%"}, {ratio(3.84), "3.8×"},
		{ms(271 * time.Microsecond), "0.271 ms"}, {ms(48300 * time.Microsecond), "48.3 ms"},
		{anchor("Table 4.4: pipelines over four kinds of network"), "table-44-pipelines-over-four-kinds-of-network"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median(3,1,2) = %v; want 2", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median(4,1,2,3) = %v; want 2.5", m)
	}
	for _, tc := range []struct{ got, want string }{
		{count(0), "0"}, {count(999), "999"}, {count(1047), "1,047"}, {count(int64(-1234567)), "-1,234,567"},
		{bytesIEC(512), "512 B"}, {bytesIEC(14384), "14.0 KiB"}, {bytesIEC(64 << 20), "64.0 MiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
	l := Latencies{5 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	if q := l.Quantile(0.5); q != 3*time.Millisecond {
		t.Errorf("median = %v; want 3ms", q)
	}
	if q := l.Quantile(0.99); q != 5*time.Millisecond {
		t.Errorf("p99 = %v; want 5ms", q)
	}
	if q := l.Quantile(0.2); q != time.Millisecond {
		t.Errorf("p20 = %v; want 1ms", q)
	}
	if m := l.Mean(); m != 3*time.Millisecond {
		t.Errorf("mean = %v; want 3ms", m)
	}
	if (Latencies{}).Quantile(0.5) != 0 || (Latencies{}).Mean() != 0 {
		t.Error("empty sample: want 0")
	}
	if a, b, ok := cutLast("item-1.L0", "."); !ok || a != "item-1" || b != "L0" {
		t.Errorf("cutLast = %q, %q, %v", a, b, ok)
	}
}

// Micro-benchmarks of Table 4.5's variants, one GET per op: go test -run '^$' -bench . ./benchmarks
// (-run '^$' skips the tests, TestSmokeRun's 20 s among them).
func BenchmarkGETOneConnection(b *testing.B)    { benchmarkGET(b, 0) }
func BenchmarkGETRegistryClient(b *testing.B)   { benchmarkGET(b, 1) }
func BenchmarkGETConnCall(b *testing.B)         { benchmarkGET(b, 2) }
func BenchmarkGETClientPerCommand(b *testing.B) { benchmarkGET(b, 3) }

func benchmarkGET(b *testing.B, variant int) {
	srv := redistest.RunT(b, nil)
	ctx := context.Background()
	opt := srv.Options()
	opt.MaxRetries = -1
	raw := redis.NewClient(opt)
	defer raw.Close()
	reg, err := conn.New(srv.Client(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	if err := reg.SetConfig(ctx, "bench", map[string]any{"host": "127.0.0.1", "port": srv.Port()}); err != nil {
		b.Fatal(err)
	}
	get := func(ctx context.Context, c redis.Cmdable) error { return c.Get(ctx, "k").Err() }
	call := []func() error{
		func() error { return get(ctx, raw) },
		func() error {
			c, err := reg.Client(ctx, "bench")
			if err != nil {
				return err
			}
			return get(ctx, c)
		},
		func() error {
			_, err := conn.Call(ctx, reg, "bench", func(ctx context.Context, c redis.Cmdable) (struct{}, error) {
				return struct{}{}, get(ctx, c)
			})
			return err
		},
		func() error {
			c := redis.NewClient(opt)
			defer c.Close()
			return get(ctx, c)
		},
	}[variant]
	if err := raw.Set(ctx, "k", "xxx", 0).Err(); err != nil {
		b.Fatal(err)
	}
	if err := call(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
}
