// Package chapters holds the runnable example of each book chapter. The tour (examples/tour) runs them
// all in order; examples/chNN runs one. Each chapter registers itself from an init function.
//
// By default every "server" a chapter asks for is an embedded miniredis, so the tour needs nothing
// installed. With -addr (or RIA_REDIS_ADDR) the servers are databases on real Redis servers instead.
package chapters

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// Chapter is one part of a chapter's example. A chapter may register several parts (say, one per
// section); the tour runs them ordered by Name, then Order.
type Chapter struct {
	Name  string // "ch04": the directory under examples/ and the -chapter flag's value
	Order int    // position among the chapter's parts
	Title string // "4.4 Transactions: the marketplace"
	Run   func(ctx context.Context, env *Env) error
}

var (
	regMu    sync.Mutex
	chapters []Chapter
)

// Register adds a chapter; call it from an init function.
func Register(c Chapter) {
	regMu.Lock()
	defer regMu.Unlock()
	chapters = append(chapters, c)
}

// All returns the registered chapters in order.
func All() []Chapter {
	regMu.Lock()
	defer regMu.Unlock()
	out := append([]Chapter(nil), chapters...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Order < out[j].Order
	})
	return out
}

// Env is what a chapter runs against.
type Env struct {
	Out io.Writer

	// Config is the client of the server holding config:redis:* keys, and Registry reads them.
	Config   redis.UniversalClient
	Registry *conn.Registry

	addrs  []string // real servers; empty: embedded miniredis
	flush  bool
	strict bool // parts that start real servers fail, instead of printing a notice, without redis-server
	mu     sync.Mutex
	nextDB int
	minis  []*miniredis.Miniredis
}

// Real reports whether the env talks to real Redis servers (-addr / RIA_REDIS_ADDR).
func (e *Env) Real() bool { return len(e.addrs) > 0 }

// CanStartServers reports whether redistest finds redis-server ($RIA_REDIS_SERVER, else PATH), so a
// chapter can start real servers for what miniredis cannot do (replication, persistence, MEMORY USAGE).
func (e *Env) CanStartServers() bool { return redistest.Installed() == nil }

// missingServers is how a part that starts real servers checks for redis-server. Without it, the part
// is left out (true) after printing a notice naming what it would show and how to install it; in a
// strict run (the tests, which never skip) the missing binary is an error instead.
func (e *Env) missingServers(what string) (bool, error) {
	err := redistest.Installed()
	if err == nil {
		return false, nil
	}
	if e.strict {
		return true, fmt.Errorf("%s: %w", what, err)
	}
	e.Printf("this part (%s) needs redis-server, which is not installed:\n", what)
	e.Printf("install it (`make deps`, or apt-get install redis-server), or set RIA_REDIS_SERVER to the binary\n")
	return true, nil
}

// Printf writes to the tour's output.
func (e *Env) Printf(format string, args ...any) { fmt.Fprintf(e.Out, format, args...) }

// Section prints a heading.
func (e *Env) Section(title string) { fmt.Fprintf(e.Out, "\n-- %s\n", title) }

// Server returns the JSON config (redis-py keyword form) of a fresh, empty server: a new embedded
// miniredis, or the next database on the real servers (databases 1 to 15, round robin over the
// addresses; database 0 holds the configs). A real database that is not empty is an error unless -flush.
func (e *Env) Server(ctx context.Context) (map[string]any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.Real() {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return nil, err
		}
		e.minis = append(e.minis, m)
		return map[string]any{"host": m.Host(), "port": atoi(m.Port())}, nil
	}
	n := e.nextDB
	e.nextDB++
	addr := e.addrs[n%len(e.addrs)]
	db := 1 + (n/len(e.addrs))%15
	cfg, err := conn.ParseConfig([]byte(fmt.Sprintf(`{"addr": %q, "db": %d}`, addr, db)))
	if err != nil {
		return nil, err
	}
	if n < 15*len(e.addrs) { // first use of this database in this run: it must be empty
		c, err := cfg.NewClient()
		if err != nil {
			return nil, err
		}
		defer c.Close()
		size, err := c.DBSize(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("server %s db %d: %w", addr, db, err)
		}
		if size > 0 && !e.flush {
			return nil, fmt.Errorf("server %s db %d holds %d keys: the tour only uses empty databases (pass -flush to empty them)", addr, db, size)
		}
		if err := c.FlushDB(ctx).Err(); err != nil {
			return nil, err
		}
	}
	return map[string]any{"addr": addr, "db": db}, nil
}

// Client returns a client for a server config from Server; the caller closes it.
func (e *Env) Client(cfg map[string]any) (redis.UniversalClient, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	c, err := conn.ParseConfig(b)
	if err != nil {
		return nil, err
	}
	return c.NewClient()
}

func (e *Env) close() {
	e.Registry.Close()
	e.Config.Close()
	for _, m := range e.minis {
		m.Close()
	}
}

// Main parses flags and runs the named chapters (all when none are named and -chapter is empty).
func Main(names ...string) {
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	addr := fs.String("addr", os.Getenv("RIA_REDIS_ADDR"), "comma-separated real Redis servers (host:port); default: embedded miniredis")
	only := fs.String("chapter", strings.Join(names, ","), "comma-separated chapters to run (ch04,ch05,...); default: all")
	flush := fs.Bool("flush", false, "with -addr: empty non-empty databases 1-15 instead of refusing")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := run(ctx, os.Stdout, runOptions{addr: *addr, only: *only, flush: *flush}); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// runOptions are Main's flags, and what the tests set.
type runOptions struct {
	addr   string // comma-separated real servers; empty: embedded miniredis
	only   string // comma-separated chapters; empty: all
	flush  bool   // with addr: empty non-empty databases
	strict bool   // fail, rather than leave out, the parts that need redis-server when it is missing
}

// newEnv makes the config client (database 0 of the first real server, or an embedded miniredis) and
// the registry over it.
func newEnv(out io.Writer, o runOptions) (*Env, error) {
	env := &Env{Out: out, flush: o.flush, strict: o.strict}
	addr := o.addr
	if addr != "" {
		env.addrs = strings.Split(addr, ",")
	} else {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return nil, err
		}
		env.minis = append(env.minis, m)
		addr = m.Addr()
	}
	// Through conn's config, as every registry client: ContextTimeoutEnabled (go-redis ignores ctx
	// deadlines on reads without it) and no retries.
	cfg, err := conn.ParseConfig([]byte(fmt.Sprintf(`{"addr": %q}`, strings.Split(addr, ",")[0])))
	if err == nil {
		env.Config, err = cfg.NewClient()
	}
	if err != nil {
		for _, m := range env.minis {
			m.Close()
		}
		if o.addr != "" {
			err = fmt.Errorf("-addr: %w", err)
		}
		return nil, err
	}
	env.Registry = conn.New(env.Config, nil)
	return env, nil
}

// run runs chapters against a fresh env; Main and the tests call it.
func run(ctx context.Context, out io.Writer, o runOptions) error {
	env, err := newEnv(out, o)
	if err != nil {
		return err
	}
	defer env.close()

	want := map[string]bool{}
	for _, n := range strings.Split(o.only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	where := "embedded miniredis servers"
	if env.Real() {
		where = "real servers " + o.addr
	}
	fmt.Fprintf(out, "ria tour on %s\n", where)
	ran := 0
	for _, c := range All() {
		if len(want) > 0 && !want[c.Name] {
			continue
		}
		ran++
		fmt.Fprintf(out, "\n== %s: %s\n", c.Name, c.Title)
		start := time.Now()
		if err := c.Run(ctx, env); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		fmt.Fprintf(out, "(%s done in %v)\n", c.Name, time.Since(start).Round(time.Millisecond))
	}
	if ran == 0 {
		return errors.New("no chapter matched " + o.only)
	}
	return nil
}
