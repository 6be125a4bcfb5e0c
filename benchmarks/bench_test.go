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
		"# ria benchmarks", "go run ./benchmarks -smoke", "| CPU |", "| cores |", "| OS / kernel |", "| Go |",
		"| redis-server | 7.", "| go-redis | 9.", "## Summary",
		"## Table 4.4: pipelines over four kinds of network", "| Local machine, Unix domain socket |",
		"| Local machine, localhost |", "| Remote machine, shared switch |", "| Remote machine, connected through VPN |",
		"## Table 4.5: a client against redis-benchmark", "| go-redis, one connection reused |",
		"`reg.Client(ctx, component)` per call", "`conn.Call` per call", "new client (connection) per command",
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
	if len(charts) < 2 {
		t.Fatalf("report links %d charts; want at least 2", len(charts))
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
	if !strings.Contains(progress.String(), "table4.4") || !strings.Contains(progress.String(), "wrote "+out) {
		t.Errorf("progress output lacks the steps:\n%s", progress.String())
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
	ctx := context.Background()
	for _, args := range [][]string{
		{"-smoke", "-quick"},
		{"-only", "table9.9"},
		{"-quick", "extra"},
		{"-nosuchflag"},
	} {
		var stderr bytes.Buffer
		if err := cli(ctx, args, &stderr); err == nil {
			t.Errorf("cli(%q) succeeded; want an error", args)
		}
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
}

// Micro-benchmarks of Table 4.5's variants (go test -bench . ./benchmarks): one GET per op.
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
	reg := conn.New(srv.Client(b), nil)
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
