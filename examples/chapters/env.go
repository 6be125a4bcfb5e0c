// Package chapters holds the runnable example of each book chapter. The tour (examples/tour) runs them
// all in order; examples/chNN runs one. Each chapter registers itself from an init function.
//
// By default every "server" a chapter asks for is an embedded miniredis, so the tour needs nothing
// installed. With -addr (or RIA_REDIS_ADDR) the servers are databases on real Redis servers instead:
// databases 1 to 15 of every address, never database 0. Database 1 of the first address holds the
// configs (config:redis:*); the others are handed out round robin over the addresses, each to one
// component, except that a part asking for more servers than there are databases (chapter 10's 17,
// with one address) gets some twice, where its keys cannot collide. A database an earlier part used
// is emptied before another part gets it. Before writing anything the tour checks that all of them
// are empty, and refuses (NotEmptyError) unless -flush.
//
// Exit codes: 0 when every chapter ran, 1 when one failed or the servers were refused, 2 for bad
// usage (an unknown flag or chapter, an -addr entry that is not host:port, two addresses of one server).
package chapters

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/noretry"
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

	addrs   []string // real servers; empty: embedded miniredis
	flush   bool
	strict  bool // parts that start real servers fail, instead of printing a notice, without redis-server
	flushed []Database

	mu     sync.Mutex
	layout *layout // real servers only
	part   int     // the part running: 1, 2, ... (the layout's owner)
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

// Server returns the JSON config (redis-py keyword form) of a fresh, empty server for one component:
// a new embedded miniredis, or the next database on the real servers. ErrTooFewDatabases when the
// running part already has every database.
func (e *Env) Server(ctx context.Context) (map[string]any, error) {
	cfgs, err := e.servers(ctx, 1, false)
	if err != nil {
		return nil, err
	}
	return cfgs[0], nil
}

// SharedServers returns n server configs for the components of one part. On real servers with fewer
// databases left than n, some configs name the same database (round robin over the ones handed out):
// ask for them only for components whose keys cannot collide, read by code that counts a database
// once (uniquevisits.Counter.Recount does).
func (e *Env) SharedServers(ctx context.Context, n int) ([]map[string]any, error) {
	return e.servers(ctx, n, true)
}

func (e *Env) servers(ctx context.Context, n int, share bool) (cfgs []map[string]any, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if n < 1 {
		return nil, fmt.Errorf("chapters: %d servers asked for", n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.Real() {
		for range n {
			m := miniredis.NewMiniRedis()
			if err := m.Start(); err != nil {
				return nil, err
			}
			e.minis = append(e.minis, m)
			cfgs = append(cfgs, map[string]any{"host": m.Host(), "port": atoi(m.Port())})
		}
		return cfgs, nil
	}
	got, reused, err := e.layout.claim(e.part, n, share)
	if err != nil {
		return nil, err
	}
	for _, s := range reused { // an earlier part's keys: this run's own, so emptied without asking
		if err := flushDB(ctx, s); err != nil {
			return nil, err
		}
	}
	for _, s := range got {
		cfgs = append(cfgs, map[string]any{"addr": s.addr, "db": s.db})
	}
	return cfgs, nil
}

// setPart marks the start of the tour's next part: the databases earlier parts had may be reused.
func (e *Env) setPart(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.part = n
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

// slotClient is a client of one database, through conn's config as every registry client:
// ContextTimeoutEnabled (go-redis ignores ctx deadlines on reads without it) and no retries.
func slotClient(s slot) (redis.UniversalClient, error) {
	cfg, err := conn.ParseConfig([]byte(fmt.Sprintf(`{"addr": %q, "db": %d}`, s.addr, s.db)))
	if err != nil {
		return nil, err
	}
	return cfg.NewClient()
}

func flushDB(ctx context.Context, s slot) error {
	c, err := slotClient(s)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("%s: FLUSHDB: %w", s, err)
	}
	return nil
}

// inspect reads a server's run_id ("" when INFO is refused) and the sizes of databases 1 to 15, on
// one connection that only reads: INFO, then SELECT and DBSIZE for each.
func inspect(ctx context.Context, addr string) (runID string, sizes map[int]int64, err error) {
	c, err := slotClient(slot{addr, 0}) // db 0: no SELECT at connect; nothing here writes
	if err != nil {
		return "", nil, err
	}
	defer c.Close()
	rc, ok := c.(*redis.Client)
	if !ok {
		return "", nil, fmt.Errorf("server %s: client is %T", addr, c)
	}
	cn := rc.Conn()
	defer cn.Close()
	info, err := cn.Info(ctx, "server").Result()
	switch {
	case err == nil:
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
				runID = v
			}
		}
	case !noretry.IsErrorReply(err): // an error reply: INFO renamed or denied, go on without run_id
		return "", nil, fmt.Errorf("server %s: %w", addr, err)
	}
	sel := map[int]*redis.StatusCmd{}
	size := map[int]*redis.IntCmd{}
	_, err = cn.Pipelined(ctx, func(p redis.Pipeliner) error {
		for db := firstDB; db <= lastDB; db++ {
			sel[db] = p.Select(ctx, db)
			size[db] = p.DBSize(ctx)
		}
		return nil
	})
	if err != nil && !noretry.IsErrorReply(err) {
		return "", nil, fmt.Errorf("server %s: %w", addr, err)
	}
	sizes = map[int]int64{}
	for db := firstDB; db <= lastDB; db++ {
		if err := sel[db].Err(); err != nil {
			return "", nil, fmt.Errorf("%w: server %s refuses SELECT %d (%v): the tour uses databases %d to %d", ErrNoDatabase, addr, db, err, firstDB, lastDB)
		}
		if sizes[db], err = size[db].Result(); err != nil {
			return "", nil, fmt.Errorf("server %s db %d: DBSIZE: %w", addr, db, err)
		}
	}
	return runID, sizes, nil
}

// prepare checks the real servers before the tour writes anything: distinct servers, each with
// databases 1 to 15, all empty; with -flush, it empties those that are not.
func (e *Env) prepare(ctx context.Context) error {
	byID := map[string]string{}
	var full []Database
	for _, a := range e.addrs {
		id, sizes, err := inspect(ctx, a)
		if err != nil {
			return err
		}
		if other, ok := byID[id]; ok && id != "" {
			return fmt.Errorf("%w: %s and %s (run_id %s)", ErrSameServer, other, a, id)
		}
		byID[id] = a
		for db := firstDB; db <= lastDB; db++ {
			if sizes[db] > 0 {
				full = append(full, Database{Addr: a, DB: db, Keys: sizes[db]})
			}
		}
	}
	if len(full) > 0 && !e.flush {
		return &NotEmptyError{Databases: full}
	}
	for _, d := range full {
		if err := flushDB(ctx, slot{d.Addr, d.DB}); err != nil {
			return err
		}
	}
	e.flushed = full
	return nil
}

// parseAddrs splits -addr's comma-separated host:port list. A list with an '@' (a URL's user and
// password, which may hold commas) is refused without echoing any of it.
func parseAddrs(s string) ([]string, error) {
	if strings.Contains(s, "@") {
		return nil, fmt.Errorf("%w: it names a user or password (an '@'): give host:port only", ErrBadAddr)
	}
	parts := strings.Split(s, ",")
	seen := map[string]bool{}
	var addrs []string
	for i, a := range parts {
		a = strings.TrimSpace(a)
		where := fmt.Sprintf("entry %d of %d", i+1, len(parts))
		if a == "" {
			return nil, fmt.Errorf("%w: %s is empty", ErrBadAddr, where)
		}
		if err := checkAddr(a); err != nil {
			return nil, fmt.Errorf("%w: %s, %q: %v", ErrBadAddr, where, a, err)
		}
		if seen[a] {
			return nil, fmt.Errorf("%w: %q given twice", ErrSameServer, a)
		}
		seen[a] = true
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// checkAddr accepts host:port with a port from 1 to 65535, as conn's config does.
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return errors.New("not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return errors.New("the port is not a number from 1 to 65535")
	}
	if _, err := conn.ParseConfig([]byte(fmt.Sprintf(`{"addr": %q, "db": %d}`, a, configDB))); err != nil {
		return errors.New("not host:port")
	}
	return nil
}

// Main parses flags and runs the named chapters (all when none are named and -chapter is empty),
// and exits with the code documented in the package doc.
func Main(names ...string) {
	os.Exit(mainArgs(filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr, names...))
}

// mainArgs is Main without the exit: it returns the exit code.
func mainArgs(name string, args []string, stdout, stderr io.Writer, names ...string) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", os.Getenv("RIA_REDIS_ADDR"), "comma-separated real Redis servers (host:port); the tour uses their databases 1 to 15\n(default: $RIA_REDIS_ADDR, else embedded miniredis)")
	only := fs.String("chapter", strings.Join(names, ","), "comma-separated chapters to run (ch04,ch05,...); default: all")
	flush := fs.Bool("flush", false, "with -addr: empty databases 1 to 15 that hold keys, instead of refusing")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n", name)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "exit status: 0 done; 1 a chapter failed, or the servers were refused; 2 bad usage\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "error: unexpected argument %q: the tour takes flags only\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "error: -timeout %v: must be positive\n", *timeout)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err := run(ctx, stdout, runOptions{addr: *addr, only: *only, flush: *flush})
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
	}
	return exitCode(err)
}

// runOptions are Main's flags, and what the tests set.
type runOptions struct {
	addr   string // comma-separated real servers; empty: embedded miniredis
	only   string // comma-separated chapters; empty: all
	flush  bool   // with addr: empty non-empty databases
	strict bool   // fail, rather than leave out, the parts that need redis-server when it is missing
}

// newEnv makes the config client (database 1 of the first real server, after checking them all, or an
// embedded miniredis) and the registry over it.
func newEnv(ctx context.Context, out io.Writer, o runOptions) (env *Env, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	env = &Env{Out: out, flush: o.flush, strict: o.strict, part: 1}
	var cfgJSON string
	if o.addr != "" {
		if env.addrs, err = parseAddrs(o.addr); err != nil {
			return nil, err
		}
		env.layout = newLayout(env.addrs)
		if err := env.prepare(ctx); err != nil {
			return nil, err
		}
		cfgJSON = fmt.Sprintf(`{"addr": %q, "db": %d}`, env.layout.config.addr, env.layout.config.db)
	} else {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return nil, err
		}
		env.minis = append(env.minis, m)
		cfgJSON = fmt.Sprintf(`{"addr": %q}`, m.Addr())
	}
	cfg, err := conn.ParseConfig([]byte(cfgJSON))
	if err == nil {
		env.Config, err = cfg.NewClient()
	}
	if err != nil {
		for _, m := range env.minis {
			m.Close()
		}
		return nil, err
	}
	env.Registry = conn.New(env.Config, nil)
	return env, nil
}

// chapterNames parses -chapter: the set of names, each a registered chapter's; empty means all.
func chapterNames(only string) (map[string]bool, error) {
	known := map[string]bool{}
	var list []string
	for _, c := range All() {
		if !known[c.Name] {
			known[c.Name] = true
			list = append(list, c.Name)
		}
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !known[n] {
			return nil, fmt.Errorf("%w: %q (the chapters are %s)", ErrUnknownChapter, n, strings.Join(list, ", "))
		}
		want[n] = true
	}
	return want, nil
}

// run runs chapters against a fresh env; Main and the tests call it.
func run(ctx context.Context, out io.Writer, o runOptions) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	want, err := chapterNames(o.only)
	if err != nil {
		return err
	}
	env, err := newEnv(ctx, out, o)
	if err != nil {
		return err
	}
	defer env.close()

	if env.Real() {
		fmt.Fprintf(out, "ria tour on real servers %s: databases %d to %d (the configs in %s)\n",
			strings.Join(env.addrs, ", "), firstDB, lastDB, env.layout.config)
		for _, d := range env.flushed {
			fmt.Fprintf(out, "-flush: emptied %s db %d (%s)\n", d.Addr, d.DB, keys(d.Keys))
		}
	} else {
		fmt.Fprintf(out, "ria tour on embedded miniredis servers\n")
	}
	for i, c := range All() {
		if len(want) > 0 && !want[c.Name] {
			continue
		}
		env.setPart(i + 1)
		fmt.Fprintf(out, "\n== %s: %s\n", c.Name, c.Title)
		start := time.Now()
		if err := c.Run(ctx, env); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		fmt.Fprintf(out, "(%s done in %v)\n", c.Name, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
