package ch04

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/logs"
)

// Logs processes generated access logs through the registry, is interrupted half-way, resumes
// without losing or repeating a line, picks up appended lines, and shows a typed error.
func Logs(ctx context.Context, env *tour.Env) error {
	reg := env.Registry
	cfg, err := env.Server(ctx)
	if err != nil {
		return err
	}
	if err := reg.SetConfig(ctx, "logs", cfg); err != nil {
		return err
	}
	// The book's @redis_connection: ProcessLogs bound to the "logs" component.
	process := conn.Wrap3(reg, "logs", logs.ProcessLogs)
	c, release, err := reg.Acquire(ctx, "logs") // held for the chapter: a config change cannot close it
	if err != nil {
		return err
	}
	defer release()
	dir, err := os.MkdirTemp("", "ria-ch04-logs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	total, err := generateLogs(dir, []int{6000, 0, 6000, 6000}) // an empty file among them
	if err != nil {
		return err
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	env.Printf("generated %d lines in %d files (one of them empty)\n", total, len(names))

	env.Section("listing 4.2 process_logs: a crash half-way (here: ctx cancelled at line 7500)")
	crashCtx, crash := context.WithCancel(ctx)
	seen := 0
	countThenCrash := func(ctx context.Context, pipe redis.Pipeliner, l logs.Line) error {
		if seen++; seen == 7500 {
			crash()
		}
		return countStatus(ctx, pipe, l)
	}
	live, liveDone := liveLine(env)
	res, err := process(crashCtx, dir, countThenCrash, &logs.Options{OnCommit: live})
	crash()
	liveDone()
	if !errors.Is(err, context.Canceled) {
		return fmt.Errorf("expected the simulated crash, got %v", err)
	}
	p, err := logs.ReadProgress(ctx, c, "")
	if err != nil {
		return err
	}
	env.Printf("stopped: the callback saw %d lines, %d were committed in %d transactions\n", seen, res.Lines, res.Commits)
	env.Printf("saved progress: progress:file=%s progress:position=%d\n", p.File, p.Position)
	env.Printf("the batch in progress was discarded: its writes and its progress commit together or not at all\n")

	env.Section("started again: it resumes at the saved position")
	live, liveDone = liveLine(env)
	res, err = process(ctx, dir, countStatus, &logs.Options{OnCommit: live})
	liveDone()
	if err != nil {
		return err
	}
	env.Printf("resumed: %d more lines, %d files opened\n", res.Lines, res.Files)
	counted, err := showStatus(ctx, env, c)
	if err != nil {
		return err
	}
	env.Printf("counted %d of %d lines: each exactly once\n", counted, total)
	if counted != int64(total) {
		return fmt.Errorf("counted %d lines, generated %d", counted, total)
	}

	env.Section("files that grow: the last file and new files are read on, finished files are not")
	rng := rand.New(rand.NewPCG(7, 7))
	last := names[len(names)-1]
	if err := appendLines(last, logLine(rng, 1, 503), logLine(rng, 2, 503)); err != nil {
		return err
	}
	if err := appendLines(names[0], logLine(rng, 3, 503)); err != nil { // sorts before the saved file
		return err
	}
	next := filepath.Join(dir, "access-20240104.log")
	if err := os.WriteFile(next, []byte(logLine(rng, 4, 503)+"\n"), 0o644); err != nil {
		return err
	}
	res, err = process(ctx, dir, countStatus, nil)
	if err != nil {
		return err
	}
	env.Printf("2 lines appended to %s, 1 to %s, 1 in new %s: %d read (503 counted %s times)\n",
		filepath.Base(last), filepath.Base(names[0]), filepath.Base(next), res.Lines, c.HGet(ctx, "status:", "503").Val())
	env.Printf("name log files so that new ones sort last; see the logs package doc for the full contract\n")

	env.Section("bad input: a line longer than MaxLineBytes is an error naming the file and offset")
	bad := filepath.Join(dir, "bad")
	if err := os.Mkdir(bad, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bad, "huge.log"), []byte("short\n"+strings.Repeat("x", 5000)+"\n"), 0o644); err != nil {
		return err
	}
	_, err = process(ctx, bad, countStatus, &logs.Options{Prefix: "progress:bad:", MaxLineBytes: 4096})
	var fe *logs.FileError
	if !errors.As(err, &fe) || !errors.Is(err, logs.ErrLineTooLong) {
		return fmt.Errorf("expected ErrLineTooLong, got %v", err)
	}
	env.Printf("%v\n", err)
	return nil
}

// countStatus is the example callback: it counts each line's HTTP status in the HASH status:.
func countStatus(ctx context.Context, pipe redis.Pipeliner, l logs.Line) error {
	f := strings.Fields(l.Text)
	if len(f) < 2 {
		return nil
	}
	pipe.HIncrBy(ctx, "status:", f[len(f)-2], 1)
	return nil
}

// showStatus prints the HASH status: and returns the sum of its counts.
func showStatus(ctx context.Context, env *tour.Env, c redis.Cmdable) (int64, error) {
	m, err := c.HGetAll(ctx, "status:").Result()
	if err != nil {
		return 0, err
	}
	codes := make([]string, 0, len(m))
	for k := range m {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	var sum int64
	var b strings.Builder
	for _, k := range codes {
		var n int64
		fmt.Sscan(m[k], &n)
		sum += n
		fmt.Fprintf(&b, " %s:%s", k, m[k])
	}
	env.Printf("status: (HASH)%s\n", b.String())
	return sum, nil
}
