package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

func TestParseBenchmarkLatencies(t *testing.T) {
	good := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","48076.92","0.021","0.016","0.023","0.023","0.039","0.135"
"GET","48543.69","0.020","0.016","0.025","0.023","0.031","0.135"
`
	header := `"test","rps","p50_latency_ms","p99_latency_ms"` + "\n"
	res, err := parseBenchmarkLatencies([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []benchmarkResult{
		{"SET", 48076.92, 23 * time.Microsecond, 39 * time.Microsecond},
		{"GET", 48543.69, 25 * time.Microsecond, 31 * time.Microsecond},
	}
	inf, err := parseBenchmarkLatencies([]byte(header + `"SET","inf","0.1","0.2"` + "\n"))
	if err != nil || !math.IsInf(inf[0].rps, 1) {
		t.Errorf("rps inf: %v, %v; want +Inf", inf, err)
	}
	if len(res) != len(want) {
		t.Fatalf("parsed %d rows; want %d", len(res), len(want))
	}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("row %d: got %+v; want %+v", i, res[i], want[i])
		}
	}
	for name, bad := range map[string]string{
		"empty":        "",
		"header only":  header,
		"no p99":       `"test","rps","p50_latency_ms"` + "\n" + `"SET","1","0.1"` + "\n",
		"short row":    header + `"SET","1","0.1"` + "\n",
		"zero rate":    header + `"SET","0","0.1","0.2"` + "\n",
		"nan rate":     header + `"SET","nan","0.1","0.2"` + "\n",
		"-inf rate":    header + `"SET","-inf","0.1","0.2"` + "\n",
		"bad latency":  header + `"SET","1","fast","0.2"` + "\n",
		"neg latency":  header + `"SET","1","-1","0.2"` + "\n",
		"quiet output": "SET: 48076.92 requests per second, p50=0.023 msec\n",
	} {
		if _, err := parseBenchmarkLatencies([]byte(bad)); err == nil {
			t.Errorf("%s: parsed; want an error", name)
		}
	}
}

// A row's shares are each Go run over the mean of the redis-benchmark runs around it; the summary and
// the goal's reading follow from them.
func TestConcurrencySection(t *testing.T) {
	run := func(perSec float64) concSide {
		return concSide{calls: 1000, elapsed: time.Duration(1000 / perSec * float64(time.Second)),
			p50: time.Millisecond, p99: 2 * time.Millisecond, lat: Latencies{time.Millisecond},
			cpu: 10 * time.Millisecond, serverCPU: 10 * time.Millisecond}
	}
	var rows []concRow
	for _, op := range concOps("sha") {
		levels := op.levels
		if levels == nil {
			levels = concurrencyLevels
		}
		for _, g := range levels {
			goRate := 1000.0
			if op.name == "GET" && g == 8 {
				goRate = 500
			}
			rows = append(rows, concRow{op: op, goroutines: g, calls: 1000,
				goRuns: []concSide{run(goRate), run(goRate)}, refRuns: []concSide{run(1000), run(1000), run(1000)}})
		}
	}
	rows[0].refRuns = []concSide{run(500), run(1500), run(1000)}
	if got := rows[0].shares(); len(got) != 2 || math.Abs(got[0]-1) > 1e-6 || math.Abs(got[1]-0.8) > 1e-6 {
		t.Fatalf("shares = %v; want [1 0.8] (1000 over the means 1000 and 1250)", got)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, chartDir), 0o755); err != nil {
		t.Fatal(err)
	}
	env := newEnv(Smoke, dir, newProgress(&bytes.Buffer{}))
	s, err := concurrencyBench{}.section(env, rows, 128, [2]string{"1.00", "2.00"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SET/GET/INCR (median): -c 1 90%/100%/100%, -c 8 100%/50%/100%, -c 64 100%/100%/100%",
		fmt.Sprintf("GET through go-redis's default pool of %d instead of the registry's 128: -c 64 100%%, -c 256 100%%",
			10*runtime.GOMAXPROCS(0))} {
		if !strings.Contains(s.Summary, want) {
			t.Errorf("summary %q lacks %q", s.Summary, want)
		}
	}
	if text := strings.Join(s.Text, " "); !strings.Contains(text, "Each row is 2 rounds:") ||
		!strings.Contains(text, "A run of GET, SET or INCR is 1,000 calls") {
		t.Errorf("text does not give the rounds and the run's calls:\n%s", text)
	}
	if notes := strings.Join(s.Notes, " "); !strings.Contains(notes, "below 90% of redis-benchmark (median): GET at -c 8 (50%).") ||
		!strings.Contains(notes, "load average 1.00 as the measurement began, 2.00 as it ended") {
		t.Errorf("notes do not name the row below the goal, or the load:\n%s", notes)
	}
	if len(s.Tables) != 1 || len(s.Tables[0].Rows) != len(rows) || len(s.Charts) != 1 {
		t.Fatalf("%d tables, %d charts; want one of each, a row per row", len(s.Tables), len(s.Charts))
	}
	for _, r := range s.Tables[0].Rows {
		if len(r) != len(s.Tables[0].Header) {
			t.Errorf("row %q has %d cells; header %d", r, len(r), len(s.Tables[0].Header))
		}
	}
}

// Profiles of the concurrency measurement's Go side, GET through one registry client:
//
//	cd benchmarks && go test -run '^$' -bench ConcurrencyGET -cpuprofile cpu.out
func BenchmarkConcurrencyGET1(b *testing.B)   { benchmarkConcurrencyGET(b, 1) }
func BenchmarkConcurrencyGET8(b *testing.B)   { benchmarkConcurrencyGET(b, 8) }
func BenchmarkConcurrencyGET64(b *testing.B)  { benchmarkConcurrencyGET(b, 64) }
func BenchmarkConcurrencyGET256(b *testing.B) { benchmarkConcurrencyGET(b, 256) }

func benchmarkConcurrencyGET(b *testing.B, goroutines int) {
	ctx := context.Background()
	srv, cfg := redistest.RunT(b, nil), redistest.RunT(b, nil)
	reg, err := conn.New(cfg.Client(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	if err := reg.SetConfig(ctx, "bench", map[string]any{"host": "127.0.0.1", "port": srv.Port()}); err != nil {
		b.Fatal(err)
	}
	var get concOp
	for _, op := range concOps("") {
		if op.name == "GET" {
			get = op
		}
	}
	b.ResetTimer()
	s, err := concurrencyBench{}.goSide(ctx, srv.Client(b), reg, get, goroutines, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
