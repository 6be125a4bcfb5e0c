package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPU, OS, Kernel, Go, RedisServer, RedisBenchmark, GoRedis string
	Toxiproxy, GonumPlot                                      string // module versions this binary was built with
	Cores                                                     int
	LoadAvg                                                   string   // at the start: other work on a shared machine
	LoadAvgEnd                                                string   // at the end
	LoadAvgSteps                                              []string // "<bench> <1-minute load>" as each began
	Date                                                      time.Time
}

func detectMachine(ctx context.Context) Machine {
	m := Machine{
		CPU:       cpuModel(),
		Cores:     runtime.NumCPU(),
		OS:        osName(),
		Kernel:    firstLine("/proc/sys/kernel/osrelease", runtime.GOOS),
		Go:        runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		GoRedis:   redis.Version(),
		Toxiproxy: moduleVersion("github.com/Shopify/toxiproxy/v2"),
		GonumPlot: moduleVersion("gonum.org/v1/plot"),
		LoadAvg:   loadAvg(),
		Date:      time.Now().UTC(),
	}
	server := os.Getenv("RIA_REDIS_SERVER") // as redistest finds it
	if server == "" {
		server = "redis-server"
	}
	m.RedisServer = toolVersion(ctx, server, `v=(\S+)`)
	m.RedisBenchmark = toolVersion(ctx, "redis-benchmark", `redis-benchmark (\S+)`)
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func osName() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func loadAvg() string {
	f := strings.Fields(firstLine("/proc/loadavg", ""))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func firstLine(path, fallback string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fallback
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

func toolVersion(ctx context.Context, tool, pattern string) string {
	path, err := exec.LookPath(tool)
	if err != nil {
		return "not installed"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "unknown"
	}
	if m := regexp.MustCompile(pattern).FindStringSubmatch(string(out)); m != nil {
		return m[1]
	}
	return strings.TrimSpace(string(out))
}

// moduleVersion is the version of module path linked into this binary, from its build info; a
// replaced module reports its replacement.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range bi.Deps {
		if m.Path != path {
			continue
		}
		if m.Replace != nil {
			return m.Version + " => " + m.Replace.Path + " " + m.Replace.Version
		}
		return m.Version
	}
	return "not linked"
}
