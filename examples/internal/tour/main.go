package tour

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/noretry"
)

// Main parses the command line, runs the parts (those of the chapters named by -chapter, all by
// default) and exits with the code documented in the package doc.
func Main(parts ...Part) {
	os.Exit(MainArgs(filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr, parts...))
}

// MainArgs is Main without the exit: it returns the exit code.
func MainArgs(name string, args []string, stdout, stderr io.Writer, parts ...Part) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", os.Getenv("RIA_REDIS_ADDR"), "comma-separated real Redis servers (host:port); the tour uses their databases 1 to 15\n(default: $RIA_REDIS_ADDR, else embedded miniredis)")
	only := fs.String("chapter", "", "comma-separated chapters to run (ch04,ch05,...); default: all")
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
	err := Run(ctx, stdout, Options{Addr: *addr, Only: *only, Flush: *flush}, parts...)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
	}
	return ExitCode(err)
}

// Options are Main's flags.
type Options struct {
	Addr  string // comma-separated real servers; empty: embedded miniredis
	Only  string // comma-separated chapters; empty: all
	Flush bool   // with Addr: empty the databases that hold keys instead of refusing

	// Strict makes NeedServers fail, instead of printing a notice, without redis-server: the
	// tests never leave a part out.
	Strict bool
}

// NewEnv makes the config client (database 1 of the first real server, after checking them all, or
// an embedded miniredis) and the registry over it. The caller closes the env.
func NewEnv(ctx context.Context, out io.Writer, o Options) (env *Env, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	env = &Env{Out: out, flush: o.Flush, strict: o.Strict, part: 1}
	var cfgJSON string
	if o.Addr != "" {
		if env.addrs, err = parseAddrs(o.Addr); err != nil {
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
	if err == nil {
		if env.Registry, err = conn.New(env.Config, nil); err != nil {
			env.Config.Close()
		}
	}
	if err != nil {
		for _, m := range env.minis {
			m.Close()
		}
		return nil, err
	}
	return env, nil
}

// chapterNames parses -chapter: the set of names, each a chapter of parts; empty means all.
func chapterNames(only string, parts []Part) (map[string]bool, error) {
	known := map[string]bool{}
	var list []string
	for _, p := range parts {
		if !known[p.Chapter] {
			known[p.Chapter] = true
			list = append(list, p.Chapter)
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

// Run runs the parts of the chapters o.Only names (all when empty), in order, against a fresh env.
func Run(ctx context.Context, out io.Writer, o Options, parts ...Part) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	want, err := chapterNames(o.Only, parts)
	if err != nil {
		return err
	}
	env, err := NewEnv(ctx, out, o)
	if err != nil {
		return err
	}
	defer env.Close()

	if env.Real() {
		fmt.Fprintf(out, "ria tour on real servers %s: databases %d to %d (the configs in %s)\n",
			strings.Join(env.addrs, ", "), firstDB, lastDB, env.layout.config)
		for _, d := range env.flushed {
			fmt.Fprintf(out, "-flush: emptied %s db %d (%s)\n", d.Addr, d.DB, keys(d.Keys))
		}
	} else {
		fmt.Fprintf(out, "ria tour on embedded miniredis servers\n")
	}
	for i, p := range parts {
		if len(want) > 0 && !want[p.Chapter] {
			continue
		}
		env.setPart(i + 1)
		fmt.Fprintf(out, "\n== %s: %s\n", p.Chapter, p.Title)
		start := time.Now()
		if err := p.Run(ctx, env); err != nil {
			return fmt.Errorf("%s: %w", p.Chapter, err)
		}
		fmt.Fprintf(out, "(%s done in %v)\n", p.Chapter, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
