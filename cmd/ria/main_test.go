package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// Every test runs the command (run, not a process) against real servers: one config server and one
// data server shared by the package (each test has its own config prefix and databases), and the
// servers a test needs beyond those.
var shared struct {
	cfg, data *redistest.Server
	prefixes  atomic.Int64
	dbs       atomic.Int64
}

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var err error
	shared.cfg, err = redistest.Run(ctx, nil)
	if err == nil {
		shared.data, err = redistest.Run(ctx, &redistest.Options{Config: []string{"databases 64"}})
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cmd/ria tests need redis-server:", err)
		os.Exit(1)
	}
	code := m.Run()
	shared.cfg.Close()
	shared.data.Close()
	os.Exit(code)
}

// harness runs ria with its own config prefix, and keeps every output for the secret checks.
type harness struct {
	t       *testing.T
	prefix  string
	env     map[string]string
	cfg     *redis.Client
	outputs []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, prefix: fmt.Sprintf("t%d:config:", shared.prefixes.Add(1)),
		env: map[string]string{"RIA_CONFIG_URL": "redis://" + shared.cfg.Addr()}}
	h.cfg = shared.cfg.Client(t)
	return h
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs ria with the harness's prefix (a global flag, before the command) and stdin.
func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--prefix", h.prefix}, args...)
	getenv := func(k string) string { return h.env[k] }
	code := run(context.Background(), full, getenv, strings.NewReader(stdin), &out, &errb)
	r := result{code, out.String(), errb.String()}
	h.outputs = append(h.outputs, r.stdout, r.stderr)
	return r
}

// want runs ria and fails the test unless it exits with code.
func (h *harness) want(code int, args ...string) result {
	h.t.Helper()
	r := h.run("", args...)
	if r.code != code {
		h.t.Fatalf("ria %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// store writes a component's config exactly as given, bypassing every check.
func (h *harness) store(component, raw string) {
	h.t.Helper()
	if err := h.cfg.Set(context.Background(), h.prefix+component, raw, 0).Err(); err != nil {
		h.t.Fatal(err)
	}
}

// stored reads a component's config bytes; "" with ok false when none.
func (h *harness) stored(component string) (string, bool) {
	h.t.Helper()
	s, err := h.cfg.Get(context.Background(), h.prefix+component).Result()
	if err == redis.Nil {
		return "", false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return s, true
}

// registry is a conn.Registry over the harness's configs, for writing test data through the library.
func (h *harness) registry() *conn.Registry {
	h.t.Helper()
	reg, err := conn.New(h.cfg, &conn.Options{Prefix: h.prefix})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { reg.Close() })
	return reg
}

// dataDB returns a fresh database of the shared data server, as a config and a client.
func dataDB(t *testing.T) (string, *redis.Client) {
	t.Helper()
	db := int(shared.dbs.Add(1))
	if db >= 64 {
		t.Fatal("out of databases")
	}
	opt := shared.data.Options()
	opt.DB = db
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return fmt.Sprintf(`{"addr": %q, "db": %d}`, shared.data.Addr(), db), c
}

// decode parses out as exactly one JSON document into v.
func decode(t *testing.T, out string, v any) {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(out))
	if err := d.Decode(v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if d.More() {
		t.Fatalf("more than one JSON document:\n%s", out)
	}
}

func contains(t *testing.T, r result, parts ...string) {
	t.Helper()
	all := r.stdout + r.stderr
	for _, p := range parts {
		if !strings.Contains(all, p) {
			t.Fatalf("output lacks %q:\n%s", p, r)
		}
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	s := redistest.RunT(t, nil)
	addr := s.Addr()
	s.Close()
	return addr
}
