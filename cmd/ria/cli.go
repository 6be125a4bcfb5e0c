package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // a check failed, or the command could not do its work
	exitUsage = 2 // the command line is wrong
)

const defaultConfigURL = "redis://localhost:6379"

// globals are the flags every command takes, before or after its name.
type globals struct {
	configURL   string
	prefix      string
	json        bool
	showSecrets bool
	timeout     time.Duration
}

func (g *globals) register(fs *flag.FlagSet, skip ...string) {
	add := func(name string, fn func()) {
		if !slices.Contains(skip, name) {
			fn()
		}
	}
	add("config", func() {
		fs.StringVar(&g.configURL, "config", g.configURL,
			"the config Redis: a redis:// or rediss:// URL, or host:port (else $RIA_CONFIG_URL, else "+defaultConfigURL+")")
	})
	add("prefix", func() {
		fs.StringVar(&g.prefix, "prefix", g.prefix, "key prefix of the configs, as conn.Options.Prefix")
	})
	add("json", func() { fs.BoolVar(&g.json, "json", g.json, "print one JSON document instead of a table") })
	add("show-secrets", func() {
		fs.BoolVar(&g.showSecrets, "show-secrets", g.showSecrets, "show passwords and user names instead of masking them")
	})
	add("timeout", func() {
		fs.DurationVar(&g.timeout, "timeout", g.timeout,
			"bound on the command's I/O (network, files, standard input), except the wait for config rm's answer (its --answer-timeout)")
	})
}

func defaultGlobals() globals {
	return globals{prefix: conn.DefaultPrefix, timeout: 5 * time.Second}
}

// action runs a command with its positional arguments; its flags are bound when it is made.
type action func(ctx context.Context, e *env, args []string) error

// command is one subcommand.
type command struct {
	path     string // "config set"
	args     string // "C JSON|@file|@-"
	summary  string
	detail   string
	min, max int      // positional arguments; max -1: any number
	shadow   []string // global flags the command's own flags of the same name replace
	setup    func(fs *flag.FlagSet) action
}

func commands() []*command {
	return []*command{
		configListCmd(), configGetCmd(), configSetCmd(), configCheckCmd(), configRmCmd(),
		routeCmd(), shardsStatusCmd(),
		visitsCountCmd(), visitsRecountCmd(), marketLsCmd(), marketUserCmd(), logsProgressCmd(), syncStatusCmd(),
	}
}

// The bounds of the count flags, each in its help: beyond any deployment the patterns serve, and
// small enough that what a count sizes (a ring of 160 points a host, a row and a config read a
// shard) stays well within memory and --timeout.
const (
	maxHosts  = 10000         // route --hosts
	maxShards = 10000         // route, shards status and visits --shards
	maxTotal  = 1_000_000_000 // route --total
	maxSize   = 1_000_000_000 // route and visits --size
)

// inRange is a count flag's check: a usage error naming the flag, its value and its bounds.
func inRange(name string, v, lo, hi int) error {
	switch {
	case v < lo:
		return usagef(nil, "--%s %d: must be at least %d (want %d to %d)", name, v, lo, lo, hi)
	case v > hi:
		return usagef(nil, "--%s %d: must be at most %d (want %d to %d)", name, v, hi, lo, hi)
	}
	return nil
}

// usageError is a command line that cannot run: exit status 2.
type usageError struct {
	msg string
	cmd *command // the command whose help to point at, if known
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd *command, format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...), cmd: cmd}
}

// reported is a failure already shown in the command's output (a row that failed a check): exit
// status 1, with msg as the closing line.
type reported struct {
	msg   string
	cause error // what made the rows fail, when one error did
}

func (e *reported) Error() string { return e.msg }
func (e *reported) Unwrap() error { return e.cause }

// hinted adds what to do to an error.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }

func hint(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	return &hinted{err: err, hint: fmt.Sprintf(format, a...)}
}

// quiet drops go-redis's log lines: a command reports its errors itself, and a log line would
// escape the masking.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

// run is the command line: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	g := defaultGlobals()
	e := &env{g: &g, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	defer e.close()
	code := e.run(ctx, args)
	return code
}

func (e *env) run(ctx context.Context, args []string) int {
	top := flag.NewFlagSet("ria", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	e.g.register(top)
	help := top.Bool("help", false, "")
	top.BoolVar(help, "h", false, "")
	if err := top.Parse(args); err != nil {
		return e.fail(usagef(nil, "%s", flagMessage(err)))
	}
	rest := top.Args()
	if *help || len(rest) == 0 {
		if len(rest) > 0 {
			return e.help(rest)
		}
		if *help {
			e.usage(e.stdout)
			return exitOK
		}
		e.usage(e.stderr)
		return exitUsage
	}
	if rest[0] == "help" {
		return e.help(rest[1:])
	}
	cmd, n := lookup(rest)
	if cmd == nil {
		return e.fail(e.unknown(rest))
	}
	fs := flag.NewFlagSet("ria "+cmd.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e.g.register(fs, cmd.shadow...)
	act := cmd.setup(fs)
	cmdHelp := fs.Bool("help", false, "")
	fs.BoolVar(cmdHelp, "h", false, "")
	pos, err := parseInterleaved(fs, rest[n:])
	if err != nil {
		return e.fail(usagef(cmd, "%s", flagMessage(err)))
	}
	if *cmdHelp {
		e.commandHelp(e.stdout, cmd)
		return exitOK
	}
	if len(pos) < cmd.min || (cmd.max >= 0 && len(pos) > cmd.max) {
		return e.fail(usagef(cmd, "%s takes %s, got %d argument(s)", cmd.path, argCount(cmd), len(pos)))
	}
	if e.g.timeout <= 0 {
		return e.fail(usagef(cmd, "--timeout %v: must be more than 0", e.g.timeout))
	}
	e.base = ctx
	e.color = isTerminal(e.stdout) && e.getenv("NO_COLOR") == "" && e.getenv("TERM") != "dumb"
	ctx, cancel := context.WithTimeout(ctx, e.g.timeout)
	defer cancel()
	e.deadline = e.g.timeout
	if err := act(ctx, e, pos); err != nil {
		return e.fail(err)
	}
	return exitOK
}

func argCount(cmd *command) string {
	switch {
	case cmd.max < 0:
		return fmt.Sprintf("at least %d argument(s) (%s)", cmd.min, cmd.args)
	case cmd.min == cmd.max && cmd.min == 0:
		return "no arguments"
	case cmd.min == cmd.max:
		return fmt.Sprintf("%d argument(s) (%s)", cmd.min, cmd.args)
	}
	return fmt.Sprintf("%d to %d arguments (%s)", cmd.min, cmd.max, cmd.args)
}

// flagMessage is the flag package's error, which names the flag but never echoes a value.
func flagMessage(err error) string { return strings.TrimPrefix(err.Error(), "flag: ") }

// lookup finds the command named by the first words of args, and how many words it took.
func lookup(args []string) (*command, int) {
	for _, c := range commands() {
		words := strings.Fields(c.path)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c, len(words)
		}
	}
	return nil, 0
}

// unknown explains a command line that names no command: a group without its subcommand, or a word
// that is no command at all (which is not echoed: it may be a pasted secret).
func (e *env) unknown(args []string) error {
	var subs []string
	for _, c := range commands() {
		if w := strings.Fields(c.path); len(w) > 1 && w[0] == args[0] {
			subs = append(subs, w[1])
		}
	}
	if len(subs) > 0 {
		if len(args) == 1 {
			return usagef(nil, "%s needs a subcommand: %s", args[0], strings.Join(subs, ", "))
		}
		return usagef(nil, "%s has no such subcommand; it has: %s", args[0], strings.Join(subs, ", "))
	}
	return usagef(nil, "no such command; the commands are: %s", strings.Join(groups(), ", "))
}

func groups() []string {
	var out []string
	for _, c := range commands() {
		if w := strings.Fields(c.path)[0]; !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// parseInterleaved parses flags anywhere among the positional arguments (ria config set C JSON
// --dry-run); after "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// fail reports err and returns its exit status.
func (e *env) fail(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "ria: %s\n", ue.msg)
		if ue.cmd != nil {
			fmt.Fprintf(e.stderr, "Run 'ria help %s' for its arguments and flags.\n", ue.cmd.path)
		} else {
			fmt.Fprintln(e.stderr, "Run 'ria help' for the commands and flags.")
		}
		return exitUsage
	}
	msg := err.Error()
	var h *hinted
	if errors.As(err, &h) {
		msg += "\n  " + h.hint
	}
	if errors.Is(err, context.DeadlineExceeded) && e.deadline > 0 {
		msg += fmt.Sprintf("\n  the command ran out of time (--timeout %v): pass a longer --timeout, or check the servers answer", e.deadline)
	}
	fmt.Fprintf(e.stderr, "ria: %s\n", msg)
	if e.g.json && !e.emitted {
		e.emit(map[string]string{"error": err.Error()})
	}
	return exitFail
}

// help prints the help of the command named by args, or of all.
func (e *env) help(args []string) int {
	if len(args) == 0 {
		e.usage(e.stdout)
		return exitOK
	}
	cmd, n := lookup(args)
	if cmd == nil || n != len(args) {
		var subs []string
		for _, c := range commands() {
			if w := strings.Fields(c.path); w[0] == args[0] && len(args) == 1 {
				subs = append(subs, c.path)
			}
		}
		if len(subs) > 0 {
			for _, p := range subs {
				c, _ := lookup(strings.Fields(p))
				e.commandHelp(e.stdout, c)
				fmt.Fprintln(e.stdout)
			}
			return exitOK
		}
		return e.fail(usagef(nil, "no such command; the commands are: %s", strings.Join(groups(), ", ")))
	}
	e.commandHelp(e.stdout, cmd)
	return exitOK
}

func (e *env) usage(w io.Writer) {
	fmt.Fprint(w, `ria: the operator's tool for ria's patterns (Redis in Action): validated configs,
key routes, shard health, the patterns' state.

Usage: ria [global flags] COMMAND [flags] [args]

Global flags (before or after the command):
`)
	fs := flag.NewFlagSet("ria", flag.ContinueOnError)
	g := defaultGlobals()
	g.register(fs)
	printFlags(w, fs, nil)
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-36s %s\n", c.path+" "+c.args, c.summary)
		fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
		c.setup(fs)
		printFlags(w, fs, func(s string) string { return "      " + s })
	}
	fmt.Fprint(w, `
Environment: RIA_CONFIG_URL (the config Redis when --config is not given), NO_COLOR (no color;
color is used only on a terminal).

Exit status: 0 success; 1 a check failed or the command could not do its work; 2 bad usage.
'ria config rm' without --yes asks on standard input and waits up to its --answer-timeout (a
minute), which --timeout does not shorten: anything but y or yes (in any case), or no input,
refuses (status 1, nothing removed).

Run 'ria help COMMAND' for one command.
`)
}

func (e *env) commandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: ria %s [flags] %s\n\n%s\n", c.path, c.args, c.summary)
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.detail))
	}
	fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
	c.setup(fs)
	var own bytes.Buffer
	printFlags(&own, fs, nil)
	if own.Len() > 0 {
		fmt.Fprintln(w, "\nFlags:")
		w.Write(own.Bytes())
	}
	fmt.Fprintln(w, "\nGlobal flags:")
	g := defaultGlobals()
	gs := flag.NewFlagSet("ria", flag.ContinueOnError)
	g.register(gs, c.shadow...)
	printFlags(w, gs, nil)
	if len(c.shadow) > 0 {
		fmt.Fprintf(w, "  (--%s here is the command's own; give the global one before the command name)\n",
			strings.Join(c.shadow, ", --"))
	}
}

// printFlags lists every flag with its default, even a zero one.
func printFlags(w io.Writer, fs *flag.FlagSet, indent func(string) string) {
	if indent == nil {
		indent = func(s string) string { return "  " + s }
	}
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if typ != "" {
			name += " " + typ
		}
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintln(w, indent(fmt.Sprintf("%-26s %s (default: %s)", name, usage, def)))
	})
}

// env is what a command runs with.
type env struct {
	g        *globals
	getenv   func(string) string
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	color    bool
	deadline time.Duration
	base     context.Context // the command's context before --timeout: steps with a timeout of their own
	emitted  bool            // a JSON document was written

	cfg     *configStore // opened on first use
	closers []func()
}

func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// emit writes v as the command's one JSON document, its strings through jsonSafe.
func (e *env) emit(v any) error {
	e.emitted = true
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonSafe(v))
}

// isTerminal reports whether w is a terminal (a character device); tests replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// parallel calls fn(0) .. fn(n-1) on at most workers goroutines, and returns when all have returned.
func parallel(n, workers int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// readInput reads all of r (up to max bytes) within ctx.
func readInput(ctx context.Context, r io.Reader, max int64) ([]byte, error) {
	if r == nil {
		return nil, io.EOF
	}
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(r, max+1))
		ch <- result{b, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("reading standard input: %w", ctx.Err())
	case res := <-ch:
		if res.err != nil {
			return nil, fmt.Errorf("reading standard input: %w", res.err)
		}
		if int64(len(res.b)) > max {
			return nil, fmt.Errorf("standard input is over %d bytes", max)
		}
		return res.b, nil
	}
}

// readLine reads one line from r within ctx; io.EOF when r has none.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	if r == nil {
		return "", io.EOF
	}
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
		if err == io.EOF && s != "" {
			err = nil
		}
		ch <- result{s, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case res := <-ch:
		return strings.TrimSpace(res.s), res.err
	}
}
