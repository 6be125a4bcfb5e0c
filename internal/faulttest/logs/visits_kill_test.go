package logs_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/examples/ch10/ch10"
	"github.com/ria-go/ria/internal/faulttest"
	"github.com/ria-go/ria/logs"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/uniquevisits"
)

// Access logs to unique visitors (examples/ch10's CountLogVisits: process_logs whose batches are
// counted with one CountVisits each, the batch's ids kept in its transaction until counted) under
// SIGKILL. The worker is this test binary run again with visitsWorkerEnv set; init runs it before
// TestMain.
const (
	visitsWorkerEnv = "RIA_FAULTTEST_VISITS_WORKER"
	visitsKillEnv   = "RIA_FAULTTEST_VISITS_KILLAT" // "before:k" / "after:k": die at the k-th INCR(BY)
	visitsPrefix    = "vk:progress:"
)

// visitsDay is the day the worker counts.
var visitsDay = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func init() {
	if os.Getenv(visitsWorkerEnv) == "1" {
		os.Exit(visitsWorker())
	}
}

// killHook SIGKILLs the process at the k-th INCR or INCRBY it sends: before sending it (the batch's
// SADDs done, its count not), or once the server has run it, before CountVisits sees the reply.
type killHook struct {
	after bool
	k, n  int
}

func (h *killHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *killHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); h.k == 0 || name != "incr" && name != "incrby" {
			return next(ctx, cmd)
		}
		if h.n++; h.n == h.k && !h.after {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		err := next(ctx, cmd)
		if h.n == h.k {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		return err
	}
}

func (h *killHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// visitsWorker runs CountLogVisits and reports on stdout "counted <replay> <lines> <new> <repeat>
// <bad>" after each CountVisits, "commit <lines> <bytes> <file> <pos>" after each batch, and "done".
func visitsWorker() int {
	ctx := context.Background()
	addr, dir := os.Getenv(addrEnv), os.Getenv(dirEnv)
	batch, err := strconv.Atoi(os.Getenv(batchEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return exitOther
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	counts := redis.NewClient(&redis.Options{Addr: addr})
	defer counts.Close()
	if mode, k, ok := strings.Cut(os.Getenv(visitsKillEnv), ":"); ok {
		n, _ := strconv.Atoi(k)
		counts.AddHook(&killHook{after: mode == "after", k: n})
	}
	counter, err := uniquevisits.NewOnClient(counts, &uniquevisits.Options{Now: func() time.Time { return visitsDay }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return exitOther
	}
	_, _, err = ch10.CountLogVisits(ctx, c, dir, counter, &ch10.LogVisitsOptions{
		Logs: &logs.Options{Prefix: visitsPrefix, BatchLines: batch, OnCommit: func(r logs.Result) {
			fmt.Printf("commit %d %d %s %d\n", r.Lines, r.Bytes, r.File, r.Position)
		}},
		OnCount: func(b ch10.BatchCount) {
			replay := 0
			if b.Replay {
				replay = 1
			}
			fmt.Printf("counted %d %d %d %d %d\n", replay, b.Lines, b.New, b.Repeat, b.Bad)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return exitOther
	}
	fmt.Println("done")
	return 0
}

// visitCorpus writes files access log files of perFile lines, each line's session drawn from a pool
// (so visitors repeat), every 997th one malformed. ids are the lines' session fields; unique[k] is
// the number of distinct visitors among the first k lines.
func visitCorpus(t *testing.T, seed uint64, files, perFile int) (*corpus, []int64) {
	t.Helper()
	c := &corpus{dir: t.TempDir()}
	rng := rand.New(rand.NewPCG(seed, 11))
	pool := make([]string, files*perFile*2/5)
	for i := range pool {
		id, err := uuid.NewRandomFromReader(randSource{rng})
		if err != nil {
			t.Fatal(err)
		}
		pool[i] = id.String()
	}
	seen := map[int64]bool{}
	unique := []int64{0}
	for f := range files {
		var b strings.Builder
		var ends []int64
		for i := range perFile {
			sid := pool[rng.IntN(len(pool))]
			if len(c.ids)%997 == 996 {
				sid = fmt.Sprintf("malformed-%d", len(c.ids))
			}
			c.ids = append(c.ids, sid)
			if id, err := uniquevisits.ParseSessionID(sid); err == nil {
				seen[id] = true
			}
			unique = append(unique, int64(len(seen)))
			fmt.Fprintf(&b, "10.1.%d.%d - - [01/Mar/2024:12:00:00 +0000] \"GET /item/%d HTTP/1.1\" 200 %d session=%s\n",
				f, i%250, rng.IntN(10_000), rng.IntN(5000), sid)
			ends = append(ends, int64(b.Len()))
		}
		name := fmt.Sprintf("access-%03d.log", f)
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		c.names = append(c.names, name)
		c.ends = append(c.ends, ends)
	}
	return c, unique
}

type randSource struct{ r *rand.Rand }

func (s randSource) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

// visitState is what the server holds between workers.
type visitState struct {
	progress logs.Progress
	before   int      // lines committed
	pending  []string // the last committed batch's ids, kept until counted
	count    int64    // the INCRed count
	recount  int64    // the visitors in the sets
}

func readVisits(t *testing.T, rc *redis.Client, counter *uniquevisits.Counter, c *corpus) visitState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s visitState
	var err error
	if s.progress, err = logs.ReadProgress(ctx, rc, visitsPrefix); err != nil {
		t.Fatal(err)
	}
	if s.before, err = c.linesBefore(s.progress); err != nil {
		t.Fatal(err)
	}
	if s.pending, err = rc.LRange(ctx, visitsPrefix+"visits", 0, -1).Result(); err != nil {
		t.Fatal(err)
	}
	if s.count, err = counter.Count(ctx, visitsDay); err != nil {
		t.Fatal(err)
	}
	if s.recount, err = counter.Recount(ctx, visitsDay); err != nil {
		t.Fatal(err)
	}
	return s
}

func startVisitsWorker(t *testing.T, ctx context.Context, srv *redistest.Server, c *corpus, batch int, killAt string) *run {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), visitsWorkerEnv+"=1", addrEnv+"="+srv.Addr(), dirEnv+"="+c.dir,
		batchEnv+"="+strconv.Itoa(batch), visitsKillEnv+"="+killAt,
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
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for range r.events {
		}
		_ = cmd.Wait()
	})
	return r
}

// TestLogVisitsKill counts the visitors of 20,000 access-log lines with workers SIGKILLed 10 times:
// at random moments, just before a batch's INCRBY (its SADDs done), and just after sending it (its
// reply lost). After every worker it checks, against the visitors recomputed from the corpus:
//   - the pending ids are exactly the last committed batch's lines;
//   - the sets hold every visitor of the lines before that batch and none after it;
//   - a replay adds exactly the batch's visitors its SADDs had not reached, so no one counts twice:
//     count <= Recount <= distinct visitors of the committed lines;
//   - the count fell short only at a kill between a batch's SADDs and its INCRBY, by that batch's
//     new visitors (the INCRBY ran whole or not at all), and Recount - count is the sum of those.
//
// At the end Recount is the number of distinct visitors, and writing it back restores the count.
func TestLogVisitsKill(t *testing.T) {
	const files, perFile, batch = 4, 5_000, 250
	seed := faulttest.Seed(t)
	began := time.Now()
	c, unique := visitCorpus(t, seed, files, perFile)
	srv := redistest.RunT(t, nil)
	rc := srv.Client(t)
	counter, err := uniquevisits.NewOnClient(rc, &uniquevisits.Options{Now: func() time.Time { return visitsDay }})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	modes := []string{"random", "random", "random", "random", "before", "before", "before", "after", "after", "after"}
	rng.Shuffle(len(modes), func(i, j int) { modes[i], modes[j] = modes[j], modes[i] })
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var deficit int64 // Recount - count: the visits whose batch died between SADD and INCRBY
	var shortAt []int64
	s0 := readVisits(t, rc, counter, c)
	for runs := 0; ; runs++ {
		if time.Since(began) > 90*time.Second {
			t.Fatalf("not done after %v: %d runs", time.Since(began), runs)
		}
		mode := ""
		if runs < len(modes) {
			mode = modes[runs]
		}
		killAt := ""
		if mode == "before" || mode == "after" {
			killAt = fmt.Sprintf("%s:%d", mode, 1+rng.IntN(3))
		}
		r := startVisitsWorker(t, wctx, srv, c, batch, killAt)
		var incred int64 // the new visitors of every CountVisits the worker saw return
		replayed := false
		done := false
		events, stopAfter := 0, 1+rng.IntN(6)
		start := time.Now()
		for {
			if mode == "random" && events == stopAfter {
				time.Sleep(time.Duration(rng.Int64N(int64(time.Since(start)/time.Duration(events)) + 1)))
				_ = r.cmd.Process.Signal(syscall.SIGKILL)
			}
			ev := r.next()
			if ev == nil {
				break
			}
			events++
			switch ev[0] {
			case "counted":
				n := make([]int64, 5)
				for i := range n {
					n[i], _ = strconv.ParseInt(ev[1+i], 10, 64)
				}
				if n[0] == 1 {
					// The replay adds exactly the pending visitors the last run's SADDs had not reached.
					if want := unique[s0.before] - s0.recount; replayed || incred != 0 || n[2] != want {
						t.Fatalf("replay of %d pending ids counted %d new; want %d (the ones not yet in the sets)", n[1], n[2], want)
					}
					replayed = true
				}
				incred += n[2]
			case "commit":
			case "done":
				done = true
			default:
				t.Fatalf("worker event %q (stderr: %s)", ev, r.stderr)
			}
		}
		code := r.wait(false)
		switch {
		case mode == "" && (code != 0 || !done):
			t.Fatalf("last worker exited with %d: %s", code, r.stderr)
		case mode != "" && code != -1:
			t.Fatalf("worker (%s kill) exited with %d before its kill: %s", mode, code, r.stderr)
		}

		s := readVisits(t, rc, counter, c)
		pendingStart := s.before - len(s.pending)
		if pendingStart < 0 || !slices.Equal(s.pending, c.ids[pendingStart:s.before]) {
			t.Fatalf("pending ids (%d) are not the last committed batch's lines, up to line %d", len(s.pending), s.before)
		}
		if s.recount < unique[pendingStart] || s.recount > unique[s.before] {
			t.Fatalf("the sets hold %d visitors; want between %d (lines before the pending batch) and %d (committed lines)",
				s.recount, unique[pendingStart], unique[s.before])
		}
		if s.count > s.recount || s.count > unique[s.before] {
			t.Fatalf("count %d exceeds Recount %d or the %d distinct visitors: a visitor counted twice", s.count, s.recount, unique[s.before])
		}
		// x: what the INCRBY in flight at the kill added; y: the visitors its batch's SADDs added.
		x, y := s.count-s0.count-incred, s.recount-s0.recount-incred
		if y < 0 || x != 0 && x != y {
			t.Fatalf("after a %q kill the count grew %d and the sets %d beyond the %d seen counted: the INCRBY in flight added %d, its SADDs %d",
				mode, s.count-s0.count, s.recount-s0.recount, incred, x, y)
		}
		switch mode {
		case "before":
			if x != 0 || y == 0 || s.recount != unique[s.before] {
				t.Fatalf("killed before an INCRBY: it added %d, the SADDs %d, the sets hold %d of %d", x, y, s.recount, unique[s.before])
			}
		case "after":
			if x != y || y == 0 {
				t.Fatalf("killed after sending an INCRBY: it added %d, the SADDs %d", x, y)
			}
		case "":
			if x != 0 || y != 0 || s.recount != unique[len(c.ids)] || s.before != len(c.ids) {
				t.Fatalf("a run without a kill left %d of %d lines, %d of %d visitors, x=%d y=%d", s.before, len(c.ids), s.recount, unique[len(c.ids)], x, y)
			}
		}
		if y > x {
			shortAt = append(shortAt, y-x)
		}
		deficit += y - x
		if s.recount-s.count != deficit {
			t.Fatalf("Recount %d - count %d = %d; want %d, the visits whose batch died between SADD and INCRBY", s.recount, s.count, s.recount-s.count, deficit)
		}
		s0 = s
		if mode == "" {
			break
		}
	}
	if deficit == 0 {
		t.Fatal("no kill fell between a batch's SADDs and its INCRBY: the shortfall was not exercised")
	}
	// Recount restores the count: written back, it is the number of distinct visitors.
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := rc.Set(ctx, "unique:"+uniquevisits.Day(visitsDay), s0.recount, 0).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := counter.Count(ctx, visitsDay)
	if err != nil || n != unique[len(c.ids)] {
		t.Fatalf("count after writing Recount back: %d, %v; want %d", n, err, unique[len(c.ids)])
	}
	t.Logf("%d lines, %d distinct visitors: %d kills (%v); short by %v at the kills between SADD and INCRBY (%d in all), restored by Recount; %v",
		len(c.ids), unique[len(c.ids)], len(modes), modes, shortAt, deficit, time.Since(began).Round(time.Millisecond))
}
