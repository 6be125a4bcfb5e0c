// Command benchmarks reproduces Redis in Action's performance tables side by side with the book's
// figures, on redis-servers it starts itself, and writes benchmarks/RESULTS.md with PNG charts.
//
//	cd benchmarks && go run .                    # full run, under 10 minutes on 2 cores
//	cd benchmarks && go run . -quick             # under 2 minutes
//	cd benchmarks && go run . -only table4.5 -quick
//	cd benchmarks && go run . -readme ../README.md  # also rewrite README's summary (what `make bench` runs)
//
// Only a full run of everything writes benchmarks/RESULTS.md by default: -quick, -smoke and -only write
// to a new temporary directory unless -out is given, so a partial run never replaces the committed report.
//
// All figures of a run come from the same run, so ratios between them are meaningful even on a shared,
// noisy machine; absolute rates are this machine's.
//
// Adding a measurement is adding a file: a type implementing Bench, registered from init() with
// register(order, b). Its Run starts servers with env.Server (closed after it), sizes its work with
// Pick(env, full, quick, smoke), times loops with env.Loop, reports with env.Progress, draws with
// barChart and env.SaveChart, and returns a Section (title, one summary line, text, tables, charts).
// Keep its smoke budget to a few seconds: the package test runs every measurement in smoke mode.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Bench is one measurement: it starts what it needs through env (servers are closed after it) and
// returns a section of the report.
type Bench interface {
	// Name is a short identifier, used by -only and in progress lines ("table4.4").
	Name() string
	// Run measures. It returns when ctx is done, with ctx's error.
	Run(ctx context.Context, env *Env) (Section, error)
}

// benches holds every registered measurement, in report order.
var benches []registered

type registered struct {
	order int
	b     Bench
}

// register adds a measurement; order places it in the report (Table 4.4 is 44, 4.5 is 45, ...).
func register(order int, b Bench) {
	benches = append(benches, registered{order, b})
	slices.SortStableFunc(benches, func(a, b registered) int { return a.order - b.order })
}

type config struct {
	mode   Mode
	out    string   // RESULTS.md path; charts go to charts/ beside it
	only   []string // bench names; empty means all
	readme string   // README to rewrite between the bench markers; empty: leave it alone
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := cli(ctx, os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "benchmarks:", err)
		}
		os.Exit(1)
	}
}

func cli(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchmarks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "short run: under 2 minutes on 2 cores")
	smoke := fs.Bool("smoke", false, "tiny run that only proves the program works end to end (figures meaningless)")
	out := fs.String("out", defaultOut, "report path; charts are written to charts/ beside it "+
		"(with -quick, -smoke or -only the default is a new temporary directory)")
	only := fs.String("only", "", "comma-separated measurements to run ("+strings.Join(names(), ", ")+"); default all")
	readme := fs.String("readme", "", "also rewrite this README's summary between "+readmeStart+" and "+readmeEnd+
		" (make bench passes README.md); not with -smoke or -only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := config{mode: Full, out: *out, readme: *readme}
	switch {
	case *smoke && *quick:
		return errors.New("-smoke and -quick exclude each other")
	case *smoke:
		cfg.mode = Smoke
	case *quick:
		cfg.mode = Quick
	}
	if cfg.readme != "" && (*smoke || *quick || *only != "") {
		return errors.New("-readme takes a full run of everything: not with -smoke, -quick or -only")
	}
	if cfg.readme != "" {
		if err := checkReadme(cfg.readme); err != nil { // before minutes of measuring
			return err
		}
	}
	if *only != "" {
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if !slices.Contains(names(), n) {
				return fmt.Errorf("-only: no measurement %q (have %s)", n, strings.Join(names(), ", "))
			}
			cfg.only = append(cfg.only, n)
		}
	}
	outSet := false
	fs.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
	if !outSet && (cfg.mode != Full || len(cfg.only) > 0) {
		dir, err := os.MkdirTemp("", "ria-bench-")
		if err != nil {
			return err
		}
		cfg.out = filepath.Join(dir, "RESULTS.md")
		fmt.Fprintf(stderr, "partial run: writing to %s, not %s (give -out to choose)\n", cfg.out, defaultOut)
	}
	return run(ctx, cfg, stderr)
}

// defaultOut is the committed report, written by a full run.
var defaultOut = filepath.Join("benchmarks", "RESULTS.md")

func names() []string {
	var ns []string
	for _, r := range benches {
		ns = append(ns, r.b.Name())
	}
	return ns
}

// run runs the selected measurements and writes the report, also when some of them failed (their
// sections say so); it returns their errors joined.
func run(ctx context.Context, cfg config, stderr io.Writer) error {
	dir := filepath.Dir(cfg.out)
	if err := os.MkdirAll(filepath.Join(dir, chartDir), 0o755); err != nil {
		return err
	}
	env := newEnv(cfg.mode, dir, newProgress(stderr))
	defer env.progress.Done()
	env.Machine = detectMachine(ctx)

	var sel []Bench
	for _, r := range benches {
		if len(cfg.only) == 0 || slices.Contains(cfg.only, r.b.Name()) {
			sel = append(sel, r.b)
		}
	}
	start := time.Now()
	var sections []Section
	var errs []error
	for i, b := range sel {
		env.step = fmt.Sprintf("[%d/%d] %s", i+1, len(sel), b.Name())
		env.Machine.LoadAvgSteps = append(env.Machine.LoadAvgSteps, b.Name()+" "+firstField(loadAvg()))
		env.Progress("starting")
		sec, err := b.Run(ctx, env)
		env.closeServers()
		if err != nil {
			err = fmt.Errorf("%s: %w", b.Name(), err)
			errs = append(errs, err)
			if sec.Title == "" {
				sec.Title = b.Name()
			}
			sec.Failed = err.Error()
		}
		sections = append(sections, sec)
		if ctx.Err() != nil {
			break
		}
	}
	env.progress.Done()
	env.Machine.LoadAvgEnd = loadAvg()
	rep := Report{Mode: cfg.mode, Machine: env.Machine, Took: time.Since(start), Sections: sections}
	if err := writeReport(cfg.out, rep); err != nil {
		errs = append(errs, err)
	} else {
		fmt.Fprintf(stderr, "wrote %s (%s, %v)\n", cfg.out, cfg.mode, rep.Took.Round(time.Second))
	}
	if cfg.readme != "" && ctx.Err() == nil {
		if err := writeReadme(cfg.readme, cfg.out, rep); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(stderr, "rewrote the benchmark section of %s\n", cfg.readme)
		}
	}
	return errors.Join(errs...)
}
