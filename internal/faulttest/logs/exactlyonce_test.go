package logs_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/faulttest"
	"github.com/ria-go/ria/logs"
	"github.com/ria-go/ria/redistest"
)

// The worker is this test binary run again with workerEnv set: TestMain makes it run ProcessLogs
// instead of the tests, so the parent can SIGKILL it like any crashing process.
const (
	workerEnv = "RIA_FAULTTEST_LOGS_WORKER"
	addrEnv   = "RIA_FAULTTEST_LOGS_ADDR"
	dirEnv    = "RIA_FAULTTEST_LOGS_DIR"
	holdEnv   = "RIA_FAULTTEST_LOGS_HOLD"
	batchEnv  = "RIA_FAULTTEST_LOGS_BATCH"

	prefix       = "xo:progress:"
	seenKey      = "xo:seen"      // SET of the ids of processed lines
	processedKey = "xo:processed" // STRING, incremented once per processed line

	exitConcurrent = 3 // ProcessLogs returned ErrConcurrent
	exitOther      = 4 // any other error
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(worker())
	}
	os.Exit(m.Run())
}

// count is the workers' callback: both writes ride the batch's MULTI/EXEC with the progress, so a
// line counted twice shows as processed > distinct, and a line skipped as distinct < total.
func count(ctx context.Context, p redis.Pipeliner, l logs.Line) error {
	id, _, _ := strings.Cut(l.Text, " ")
	p.SAdd(ctx, seenKey, id)
	p.Incr(ctx, processedKey)
	return nil
}

// worker runs ProcessLogs and reports on stdout: "start <file> <pos>" (the saved progress it finds),
// "commit <lines> <bytes> <file> <pos>" after each commit (the running Result), "held <file> <pos>"
// when it stops after a commit because the hold file exists (it goes on once the file is removed),
// and "done <lines>" at the end.
func worker() int {
	ctx := context.Background()
	// go-redis's default retries are left on: exactly once must not rest on the client's settings.
	c := redis.NewClient(&redis.Options{Addr: os.Getenv(addrEnv), ContextTimeoutEnabled: true, ReadTimeout: 10 * time.Second})
	defer c.Close()
	batch, err := strconv.Atoi(os.Getenv(batchEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return exitOther
	}
	p, err := logs.ReadProgress(ctx, c, prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return exitOther
	}
	fmt.Printf("start %s %d\n", orDash(p.File), p.Position)
	hold := os.Getenv(holdEnv)
	res, err := logs.ProcessLogs(ctx, c, os.Getenv(dirEnv), count, &logs.Options{
		Prefix:     prefix,
		BatchLines: batch,
		OnCommit: func(r logs.Result) {
			fmt.Printf("commit %d %d %s %d\n", r.Lines, r.Bytes, r.File, r.Position)
			if _, err := os.Stat(hold); err != nil {
				return
			}
			fmt.Printf("held %s %d\n", r.File, r.Position)
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if _, err := os.Stat(hold); err != nil {
					break
				}
			}
			// The server was replaced meanwhile: let the pool drop the dead connection.
			for i := 0; i < 500 && c.Ping(ctx).Err() != nil; i++ {
				time.Sleep(10 * time.Millisecond)
			}
		},
	})
	switch {
	case err == nil:
		fmt.Printf("done %d\n", res.Lines)
		return 0
	case errors.Is(err, logs.ErrConcurrent):
		fmt.Printf("concurrent %v\n", err)
		return exitConcurrent
	default:
		fmt.Fprintln(os.Stderr, "worker:", err)
		return exitOther
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plan sizes a run: the short form runs in CI, RIA_SOAK=1 runs the long one, RIA_SOAK_OPS=n a soak
// of about n lines (see package faulttest).
type plan struct {
	files, linesPerFile int
	kills               int // worker SIGKILLs, at random points
	batch               int // BatchLines
	limit               time.Duration
}

func choosePlan(t *testing.T) plan {
	p := plan{files: 8, linesPerFile: 12_500, kills: 25, batch: 200, limit: 80 * time.Second}
	if faulttest.Soak(t) {
		p = plan{files: 20, linesPerFile: 50_000, kills: 200, batch: 500, limit: 15 * time.Minute}
	}
	if n, ok := faulttest.Ops(t); ok {
		p.linesPerFile = max(1, int((n+int64(p.files)-1)/int64(p.files)))
		p.kills = max(10, int(int64(p.kills)*n/1_000_000)) // the soak's kills per line, at least 10
		// Batches small enough for about 20 commits per kill, so a small run still has room for them.
		p.batch = max(1, min(p.batch, int(n/int64(20*p.kills))))
		p.limit = max(p.limit, time.Duration(n)*time.Millisecond)
	}
	return p
}

// silence is how long a worker may say nothing before it is taken for hung and killed.
const silence = time.Minute

// corpus is the log directory the parent wrote: names in order, each line's end offset, every id.
type corpus struct {
	dir   string
	names []string
	ends  [][]int64
	ids   []string
}

func writeCorpus(t *testing.T, p plan) *corpus {
	t.Helper()
	c := &corpus{dir: t.TempDir()}
	rng := rand.New(rand.NewPCG(5, 17))
	for f := range p.files {
		name := fmt.Sprintf("app-%03d.log", f)
		var b strings.Builder
		var ends []int64
		for i := range p.linesPerFile {
			id := fmt.Sprintf("f%03d-%06d", f, i)
			c.ids = append(c.ids, id)
			fmt.Fprintf(&b, "%s GET /item/%d %d %s", id, rng.IntN(10_000), 200+100*rng.IntN(4), strings.Repeat("x", rng.IntN(60)))
			switch {
			case f == 1:
				b.WriteString("\r\n") // a file with CRLF line ends
			case f == p.files-1 && i == p.linesPerFile-1: // the last line has no newline
			default:
				b.WriteString("\n")
			}
			ends = append(ends, int64(b.Len()))
		}
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		c.names = append(c.names, name)
		c.ends = append(c.ends, ends)
	}
	return c
}

// linesBefore is the number of lines before a saved progress: all of the earlier files' and those
// of its file that end at or before its position, which must be a line end.
func (c *corpus) linesBefore(p logs.Progress) (int, error) {
	if !p.Saved {
		return 0, nil
	}
	i := slices.Index(c.names, p.File)
	if i < 0 {
		return 0, fmt.Errorf("progress names %q, not a log file", p.File)
	}
	n := 0
	for _, e := range c.ends[:i] {
		n += len(e)
	}
	k, found := slices.BinarySearch(c.ends[i], p.Position)
	if !found && p.Position != 0 {
		return 0, fmt.Errorf("progress %s at byte %d is not at a line end", p.File, p.Position)
	}
	if found {
		k++
	}
	return n + k, nil
}

func (c *corpus) total() int { return len(c.ids) }

// state reads the progress and the callback's effects, and checks that they moved together: the
// lines counted, counted once each, are exactly those before the saved progress.
func state(t *testing.T, rc *redis.Client, c *corpus) (logs.Progress, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := logs.ReadProgress(ctx, rc, prefix)
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.linesBefore(p)
	if err != nil {
		t.Fatal(err)
	}
	processed, err := rc.Get(ctx, processedKey).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	distinct, err := rc.SCard(ctx, seenKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if processed != before || int(distinct) != before {
		t.Fatalf("progress %s at %d covers %d lines, but processed = %d and distinct = %d: progress and effects diverged",
			p.File, p.Position, before, processed, distinct)
	}
	return p, before
}

// run is one worker process.
type run struct {
	t      *testing.T
	ctx    context.Context // the plan's deadline: the worker is killed when it passes
	cmd    *exec.Cmd
	events chan []string
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startWorker(t *testing.T, ctx context.Context, srv *redistest.Server, c *corpus, hold string, p plan) *run {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$") // SIGKILLed at the plan's deadline
	cmd.Env = append(os.Environ(), workerEnv+"=1", addrEnv+"="+srv.Addr(), dirEnv+"="+c.dir, holdEnv+"="+hold,
		batchEnv+"="+strconv.Itoa(p.batch),
		// Under -race a process sleeps 1 s before exiting by default.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	r := &run{t: t, ctx: ctx, cmd: cmd, events: make(chan []string, 4096), stderr: &syncBuffer{}}
	cmd.Stderr = r.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.events)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.events <- strings.Fields(sc.Text())
		}
	}()
	// A test that fails while a worker runs leaves no process behind.
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for range r.events {
		}
		_ = cmd.Wait()
	})
	return r
}

// next returns the worker's next event, or nil once it has exited. A worker silent for a minute, or
// still running at the plan's deadline, is SIGKILLed and fails the test: it hung.
func (r *run) next() []string {
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(silence):
		r.hung(fmt.Sprintf("worker silent for %v", silence))
	case <-r.ctx.Done():
		r.hung("worker still running at the plan's deadline")
	}
	return nil
}

func (r *run) hung(why string) {
	r.t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	r.t.Fatalf("%s; SIGKILLed it (stderr: %s)", why, r.stderr)
}

// wait reaps the worker (killing it first if kill) and returns its exit code, -1 for SIGKILL. Like
// next, it kills a worker that stays silent for a minute without exiting and fails the test.
func (r *run) wait(kill bool) int {
	if kill {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
	}
	for r.next() != nil { // drain, so the reader goroutine ends
	}
	err := r.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return -1
		}
		return ee.ExitCode()
	default:
		return -2
	}
}

// commitEvent parses "commit <lines> <bytes> <file> <pos>".
type commitEvent struct {
	lines, bytes int64
	file         string
	pos          int64
}

func parseCommit(ev []string) (commitEvent, bool) {
	if len(ev) != 5 || ev[0] != "commit" {
		return commitEvent{}, false
	}
	lines, err1 := strconv.ParseInt(ev[1], 10, 64)
	bytes, err2 := strconv.ParseInt(ev[2], 10, 64)
	pos, err3 := strconv.ParseInt(ev[4], 10, 64)
	return commitEvent{lines, bytes, ev[3], pos}, err1 == nil && err2 == nil && err3 == nil
}

// checkStart checks the worker's first events: it found the saved progress, and its first commit
// continued from exactly there (same file: the batch starts at the saved position; a later file:
// the saved file was finished).
func checkStart(t *testing.T, r *run, saved logs.Progress) (first commitEvent, ok bool) {
	t.Helper()
	ev := r.next()
	if len(ev) != 3 || ev[0] != "start" || ev[1] != orDash(saved.File) || ev[2] != strconv.FormatInt(saved.Position, 10) {
		t.Fatalf("worker started with %q; want the saved progress %s at %d (stderr: %s)", ev, saved.File, saved.Position, r.stderr)
	}
	ev = r.next()
	if ev == nil {
		return commitEvent{}, false
	}
	ce, ok := parseCommit(ev)
	if !ok {
		if ev[0] == "done" {
			return commitEvent{}, false
		}
		t.Fatalf("worker's first event %q; want a commit (stderr: %s)", ev, r.stderr)
	}
	resumedAt := ce.pos - ce.bytes
	sameFile := saved.Saved && ce.file == saved.File
	if sameFile && resumedAt != saved.Position || !sameFile && (resumedAt != 0 || saved.Saved && ce.file < saved.File) {
		t.Fatalf("first commit %+v does not continue the saved progress %+v: lines skipped or repeated", ce, saved)
	}
	return ce, true
}

// aofTail is the server's incremental AOF file (auto rewrites are off, so there is one).
func aofTail(t *testing.T, srv *redistest.Server) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(srv.Dir(), "appendonlydir", "*.incr.aof"))
	if err != nil || len(files) != 1 {
		t.Fatalf("incremental AOF files: %v, %v; want one", files, err)
	}
	return files[0]
}

// cleanCut returns the largest offset at most limit at which the AOF ends a command outside a
// MULTI/EXEC: the loss a crash can cause, cut at a command boundary.
//
// A crash may also tear the file mid-command. Redis 7.0 loads such a file (aof-load-truncated), but
// when the tear is inside a MULTI it truncates the file after the last whole queued command, leaving
// a MULTI without EXEC that the next writes are appended to: on 7.0.15, a transaction acknowledged
// after that restart was gone after the next one. That is Redis's to repair, not the client's, so
// the test cuts where a whole transaction ends.
func cleanCut(t *testing.T, path string, limit int64) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(io.LimitReader(f, limit))
	var off, clean int64
	inMulti := false
	readLine := func() (string, bool) {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", false
		}
		off += int64(len(line))
		return strings.TrimSuffix(line, "\r\n"), true
	}
	for {
		head, ok := readLine()
		if !ok {
			return clean
		}
		n, err := strconv.Atoi(strings.TrimPrefix(head, "*"))
		if !strings.HasPrefix(head, "*") || err != nil || n < 1 {
			t.Fatalf("AOF %s at byte %d: %q is not a command", path, off, head)
		}
		var name string
		for i := range n {
			l, ok := readLine()
			if !ok {
				return clean
			}
			size, err := strconv.Atoi(strings.TrimPrefix(l, "$"))
			if err != nil {
				t.Fatalf("AOF %s at byte %d: bad bulk length %q", path, off, l)
			}
			arg := make([]byte, size+2)
			if _, err := io.ReadFull(r, arg); err != nil {
				return clean
			}
			off += int64(size + 2)
			if i == 0 {
				name = strings.ToLower(string(arg[:size]))
			}
		}
		switch name {
		case "multi":
			inMulti = true
		case "exec":
			inMulti = false
		}
		if !inMulti {
			clean = off
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestProcessLogsExactlyOnce processes 100,000 lines in 8 files (1,000,000 in 20 with RIA_SOAK=1)
// with workers that are SIGKILLed at random points 25 times (200), and a redis-server (AOF, appendfsync
// everysec) that is SIGKILLed and restarted once mid-run having lost its last acknowledged commits.
// After every kill the saved progress and the callback's effects agree; each worker resumes from the
// saved progress; the worker that outlived the server's loss stops with ErrConcurrent instead of
// going on from where it believed it was; at the end processed == distinct == total lines.
//
// A SIGKILLed redis-server loses nothing it wrote to its AOF (the data is in the kernel's page cache),
// so the loss that appendfsync everysec allows, up to a second of acknowledged writes, happens when
// the machine itself crashes. The test reproduces that crash: it notes the AOF's size, lets the worker
// commit more, kills the server, cuts the AOF back to the noted size (what the last fsync would have
// left on disk) and restarts it.
func TestProcessLogsExactlyOnce(t *testing.T) {
	p := choosePlan(t)
	seed := faulttest.Seed(t) // the kill points; RIA_SEED reuses them
	began := time.Now()
	c := writeCorpus(t, p)
	srv := redistest.RunT(t, &redistest.Options{AOF: true, Config: []string{"auto-aof-rewrite-percentage 0"}})
	rc := srv.Client(t)
	hold := filepath.Join(t.TempDir(), "hold")
	rng := rand.New(rand.NewPCG(seed, 3))
	deadline := time.Now().Add(p.limit)
	// Workers are killed a little after the deadline, so the check below reports it first.
	wctx, cancel := context.WithDeadline(context.Background(), deadline.Add(10*time.Second))
	defer cancel()
	crashAfter := p.kills / 2 // the server crashes during the run after this many worker kills

	kills, runs, exits := 0, 0, 0
	var lost int       // acknowledged lines the server lost in its crash
	var killedAt []int // lines saved when each killed worker died
	crashed := false
	saved, _ := state(t, rc, c)
	for done := false; !done; runs++ {
		if time.Now().After(deadline) {
			t.Fatalf("not done after %v: %d runs, %d kills", p.limit, runs, kills)
		}
		r := startWorker(t, wctx, srv, c, hold, p)
		_, ok := checkStart(t, r, saved)
		switch {
		case !ok: // finished before its first commit: only possible when nothing was left
			if code := r.wait(false); code != 0 {
				t.Fatalf("worker exited with %d: %s", code, r.stderr)
			}
			done = true

		case kills == crashAfter && !crashed:
			lost = crashServer(t, srv, rc, r, c, hold)
			crashed = true

		case kills < p.kills:
			// Kill after a random number of commits, at a random moment of the next batch.
			before, err := c.linesBefore(saved) // read while no worker ran
			if err != nil {
				t.Fatal(err)
			}
			remaining := (c.total()-before)/p.batch + p.files
			n := 1 + rng.IntN(max(1, remaining/(p.kills-kills+1)))
			runStart := time.Now()
			finished := false
			for i := 1; i < n; i++ {
				ev := r.next()
				if _, ok := parseCommit(ev); !ok {
					finished = ev == nil || ev[0] == "done"
					if !finished {
						t.Fatalf("worker event %q (stderr: %s)", ev, r.stderr)
					}
					break
				}
			}
			if finished {
				if code := r.wait(false); code != 0 {
					t.Fatalf("worker exited with %d: %s", code, r.stderr)
				}
				t.Fatalf("the work ended after only %d kills (of %d planned)", kills, p.kills)
			}
			// Then up to about one batch's time more: the kill lands while reading lines, queueing
			// commands, waiting for EXEC or reporting a commit.
			perCommit := time.Since(runStart) / time.Duration(n)
			time.Sleep(time.Duration(rng.Int64N(int64(perCommit) + 1)))
			if code := r.wait(true); code != -1 {
				t.Fatalf("worker ended with %d before its kill: %s", code, r.stderr)
			}
			kills++
			killedAt = append(killedAt, -1) // filled in with the saved lines below

		default: // enough kills: let it finish
			if code := r.wait(false); code != 0 {
				t.Fatalf("last worker exited with %d: %s", code, r.stderr)
			}
			exits++
			done = true
		}
		var lines int
		saved, lines = state(t, rc, c) // checks that progress and effects agree
		if len(killedAt) > 0 && killedAt[len(killedAt)-1] == -1 {
			killedAt[len(killedAt)-1] = lines
		}
	}

	// Every line once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	last := len(c.names) - 1
	if want := (logs.Progress{Saved: true, File: c.names[last], Position: c.ends[last][len(c.ends[last])-1]}); saved != want {
		t.Fatalf("final progress %+v; want %+v", saved, want)
	}
	processed, err := rc.Get(ctx, processedKey).Int()
	if err != nil {
		t.Fatal(err)
	}
	distinct, err := rc.SCard(ctx, seenKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	for ids := c.ids; len(ids) > 0; {
		chunk := ids[:min(10_000, len(ids))]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in, err := rc.SMIsMember(ctx, seenKey, args...).Result()
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.Index(in, false); i >= 0 {
			t.Fatalf("line %s never processed", chunk[i])
		}
	}
	if processed != c.total() || int(distinct) != c.total() {
		t.Fatalf("processed %d, distinct %d, total %d: want all equal", processed, distinct, c.total())
	}
	if kills < p.kills || !crashed || lost == 0 {
		t.Fatalf("%d worker kills (want %d), server crashed %v, %d acknowledged lines lost: the faults did not happen",
			kills, p.kills, crashed, lost)
	}
	t.Logf("%d lines in %d files processed exactly once: %d worker runs, %d SIGKILLed at random points, 1 server crash "+
		"losing %d acknowledged lines (redone), in %v", c.total(), len(c.names), runs, kills, lost, time.Since(began).Round(time.Millisecond))
	t.Logf("lines saved at each worker kill: %v", killedAt)
}

// crashServer lets the worker r commit, notes the AOF's size, lets it commit more, holds it after a
// commit, kills the server, cuts the AOF back and restarts the server. The held worker must then stop
// with ErrConcurrent, committing nothing. It returns how many acknowledged lines were lost.
func crashServer(t *testing.T, srv *redistest.Server, rc *redis.Client, r *run, c *corpus, hold string) int {
	t.Helper()
	waitCommits := func(n int) {
		for range n {
			if _, ok := parseCommit(r.next()); !ok {
				t.Fatalf("worker stopped committing before the server crash (stderr: %s)", r.stderr)
			}
		}
	}
	waitCommits(2)
	aof := aofTail(t, srv)
	fsynced := fileSize(t, aof) // what the last fsync left on disk, say
	waitCommits(5)
	if err := os.WriteFile(hold, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var held logs.Progress
	for held.File == "" {
		ev := r.next()
		switch {
		case ev == nil:
			t.Fatalf("worker ended before holding (stderr: %s)", r.stderr)
		case ev[0] == "held" && len(ev) == 3:
			pos, err := strconv.ParseInt(ev[2], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			held = logs.Progress{Saved: true, File: ev[1], Position: pos}
		case ev[0] != "commit":
			t.Fatalf("worker event %q while holding", ev)
		}
	}
	acked, err := c.linesBefore(held)
	if err != nil {
		t.Fatal(err)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	written := fileSize(t, aof)
	synced := cleanCut(t, aof, fsynced) // the file only grew: its first fsynced bytes are as they were
	if err := os.Truncate(aof, synced); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restored, kept := state(t, rc, c) // progress and effects rolled back together
	if kept >= acked {
		t.Fatalf("the server kept %d lines of the %d acknowledged: no acknowledged commit was lost", kept, acked)
	}

	// The held worker believes it committed up to held; the server says restored. It must not go on.
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	for ev := r.next(); ev != nil; ev = r.next() {
		if ev[0] == "commit" {
			t.Fatalf("the worker committed %q after the server lost its commits: it skipped the lost lines", ev)
		}
	}
	if code := r.wait(false); code != exitConcurrent {
		t.Fatalf("held worker exited with %d; want ErrConcurrent (%d): %s", code, exitConcurrent, r.stderr)
	}
	if now, _ := state(t, rc, c); now != restored {
		t.Fatalf("progress moved from %+v to %+v after the crash", restored, now)
	}
	t.Logf("server crash: AOF cut from %d to %d bytes; acknowledged progress %s at %d (%d lines), restored %s at %d (%d lines): %d lines to redo",
		written, synced, held.File, held.Position, acked, restored.File, restored.Position, kept, acked-kept)
	return acked - kept
}
