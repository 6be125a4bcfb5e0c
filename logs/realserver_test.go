package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/redistest"
)

// The kill test re-executes this test binary as a child that runs ProcessLogs; TestMain turns the
// child into that processor instead of running tests.
const childEnv = "RIA_LOGS_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// countOnce is the child's callback: its effect tells duplicates (count > distinct) and losses
// (distinct < total) apart.
func countOnce(ctx context.Context, pipe redis.Pipeliner, l Line) error {
	pipe.SAdd(ctx, "lines:seen", l.File+":"+strconv.FormatInt(l.Offset, 10))
	pipe.Incr(ctx, "lines:count")
	return nil
}

func runChild() int {
	ctx := context.Background()
	// go-redis's default retries are left on: the WATCH guard must make them harmless.
	c := redis.NewClient(&redis.Options{Addr: os.Getenv("RIA_LOGS_ADDR"), ContextTimeoutEnabled: true})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("ready")
	if _, err := ProcessLogs(ctx, c, os.Getenv("RIA_LOGS_DIR"), countOnce, &Options{BatchLines: 25}); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// genLogs writes files of varied lines and returns the ids ("file:offset") of all lines.
func genLogs(t testing.TB, dir string, files, lines int) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for f := range files {
		name := fmt.Sprintf("access-%03d.log", f)
		var b strings.Builder
		n := lines
		if f == 2 {
			n = 0 // an empty file among the others
		}
		for i := range n {
			ids[name+":"+strconv.Itoa(b.Len())] = true
			fmt.Fprintf(&b, "10.0.%d.%d GET /page/%d %d %s", f, i%256, rng.IntN(1000), 200+rng.IntN(4)*100, strings.Repeat("x", rng.IntN(120)))
			switch {
			case f == 1:
				b.WriteString("\r\n")
			case f == files-1 && i == n-1: // the very last line has no newline
			default:
				b.WriteString("\n")
			}
		}
		writeFiles(t, dir, map[string]string{name: b.String()})
	}
	return ids
}

// TestKillAndResume runs ProcessLogs in a child process, kills it with SIGKILL at random moments
// and starts it again until it finishes: every line must be counted exactly once.
func TestKillAndResume(t *testing.T) {
	srv := redistest.RunT(t, nil)
	c := srv.Client(t)
	ctx := context.Background()
	dir := t.TempDir()
	ids := genLogs(t, dir, 6, 2500)

	kills, runs := 0, 0
	deadline := time.Now().Add(45 * time.Second)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for done := false; !done; runs++ {
		if runs >= 500 || time.Now().After(deadline) {
			t.Fatalf("not done after %d runs (%d kills)", runs, kills)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "RIA_LOGS_ADDR="+srv.Addr(), "RIA_LOGS_DIR="+dir,
			// Under -race a process sleeps 1 s before exiting; the kills would always land there.
			"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		go func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			ready <- line == "ready\n"
		}()
		select {
		case ok := <-ready:
			if !ok {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child did not start: %s", stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start in time: %s", stderr.String())
		}
		// Kill a little later each run, so the runs always end up finishing.
		time.Sleep(time.Duration(rng.IntN(10_000)+runs*300) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			done = true
		case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
			kills++
		default:
			t.Fatalf("child failed: %v: %s", err, stderr.String())
		}
	}

	count, err := c.Get(ctx, "lines:count").Int()
	if err != nil {
		t.Fatal(err)
	}
	seen, err := c.SMembers(ctx, "lines:seen").Result()
	if err != nil {
		t.Fatal(err)
	}
	if count != len(seen) || len(seen) != len(ids) {
		t.Fatalf("count %d, distinct %d, lines %d: want all equal", count, len(seen), len(ids))
	}
	for _, id := range seen {
		if !ids[id] {
			t.Fatalf("counted %q, not a line start", id)
		}
	}
	if kills < 3 {
		t.Fatalf("only %d runs were killed mid-way: the test did not exercise resuming", kills)
	}
	last := "access-005.log"
	fi, _ := os.Stat(filepath.Join(dir, last))
	if p := progress(t, c, ""); p != (Progress{true, last, fi.Size()}) {
		t.Fatalf("final progress %+v; want %s at %d", p, last, fi.Size())
	}
	t.Logf("%d lines counted once over %d runs, %d killed", len(ids), runs, kills)
}

// TestRealServer runs the main cases on redis-server itself, where WATCH/MULTI/EXEC and command
// errors inside EXEC are the real thing.
func TestRealServer(t *testing.T) {
	srv := redistest.RunT(t, nil)
	c := srv.Client(t)
	ctx := context.Background()
	dir := t.TempDir()
	files := map[string]string{"a": "1\n2\n3\n", "b": "4\n5"}
	writeFiles(t, dir, files)

	cb, _ := failAfter(3)
	if _, err := ProcessLogs(ctx, c, dir, cb, &Options{BatchLines: 2}); !errors.Is(err, ErrCallback) {
		t.Fatalf("err %v; want ErrCallback", err)
	}
	checkRecords(t, c, want(files, "a")[:2])
	c.HSet(ctx, "h", "f", "v")
	n := 0
	_, err := ProcessLogs(ctx, c, dir, func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		if n++; n == 1 {
			pipe.LPush(ctx, "h", "x") // WRONGTYPE inside EXEC
		}
		return record(ctx, pipe, l)
	}, &Options{BatchLines: 2})
	if !errors.Is(err, ErrCommandFailed) {
		t.Fatalf("err %v; want ErrCommandFailed", err)
	}
	if _, err := ProcessLogs(ctx, c, dir, record, nil); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, c, want(files, "a", "b"))
}

func BenchmarkProcessLogs(b *testing.B) {
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkProcessLogs(b, batch, 0) })
	}
}

// BenchmarkProcessLogsDurable is the durable mode's price: one WAIT for a replica per batch.
func BenchmarkProcessLogsDurable(b *testing.B) {
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkProcessLogs(b, batch, 1) })
	}
}

// benchmarkProcessLogs measures lines per second through a one-command callback on a real master
// with one replica, batches confirmed by replicas replicas (0: the default mode).
func benchmarkProcessLogs(b *testing.B, batch, replicas int) {
	r := redistest.RunReplicatedT(b, nil)
	if err := redistest.WaitLinkUp(context.Background(), r.Replica); err != nil {
		b.Fatal(err)
	}
	c := r.Master.Client(b)
	ctx := context.Background()
	dir := b.TempDir()
	const lines = 20_000
	ids := genLogs(b, dir, 1, lines)
	incr := func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		pipe.Incr(ctx, "count")
		return nil
	}
	opt := &Options{BatchLines: batch, Durable: Durability{Replicas: replicas}}
	total := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		c.Del(ctx, "progress:file", "progress:position")
		b.StartTimer()
		res, err := ProcessLogs(ctx, c, dir, incr, opt)
		if err != nil || res.Lines != int64(len(ids)) {
			b.Fatalf("got %+v, %v", res, err)
		}
		total += int(res.Lines)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "lines/s")
}

// TestThroughRegistry calls ProcessLogs the way the examples do: its client injected by component.
func TestThroughRegistry(t *testing.T) {
	ctx := context.Background()
	m, c := newMini(t)
	reg, _ := conntest.MiniRegistry(t)
	if err := reg.SetConfig(ctx, "logs", map[string]any{"addr": m.Addr()}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{"f": "x\ny\n"}
	writeFiles(t, dir, files)
	process := conn.Wrap3(reg, "logs", ProcessLogs)
	if _, err := process(ctx, dir, record, nil); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, c, want(files, "f"))
}

// A batch the server refuses as it is queued (EXECABORT) is ErrRefused, a *FileError at the batch's
// start wrapping the refused command's own reply, whatever the refusal; nothing is committed, and
// once the cause is gone the run commits every line once.
func TestQueuedRefusal(t *testing.T) {
	ctx := context.Background()
	rs := redistest.RunReplicatedT(t, nil)
	master, replica := rs.Master.Client(t), rs.Replica.Client(t)
	files := map[string]string{"a": "1\n2\n"}
	for _, tc := range []struct {
		name   string
		c      *redis.Client
		cb     Callback
		config [2]string // set on the master for the case, reset after it
		reply  string    // the refused command's reply starts so
	}{
		{"wrong arity", master, func(ctx context.Context, p redis.Pipeliner, l Line) error {
			p.Do(ctx, "set", "x")
			return record(ctx, p, l)
		}, [2]string{}, "ERR wrong number of arguments"},
		{"unknown command", master, func(ctx context.Context, p redis.Pipeliner, l Line) error {
			p.Do(ctx, "nosuchcommand", "x")
			return record(ctx, p, l)
		}, [2]string{}, "ERR unknown command"},
		{"a replica", replica, record, [2]string{}, "READONLY"},
		{"too few replicas", master, record, [2]string{"min-replicas-to-write", "2"}, "NOREPLICAS"},
		{"out of memory", master, record, [2]string{"maxmemory", "1"}, "OOM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := master.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeFiles(t, dir, files)
			if tc.config[0] != "" {
				old, err := master.ConfigGet(ctx, tc.config[0]).Result()
				if err != nil {
					t.Fatal(err)
				}
				if err := master.ConfigSet(ctx, tc.config[0], tc.config[1]).Err(); err != nil {
					t.Fatal(err)
				}
				defer master.ConfigSet(ctx, tc.config[0], old[tc.config[0]])
			}
			res, err := ProcessLogs(ctx, tc.c, dir, tc.cb, nil)
			var fe *FileError
			var reply redis.Error
			if !errors.Is(err, ErrRefused) || !errors.As(err, &fe) || fe.File != "a" || fe.Offset != 0 ||
				!errors.As(err, &reply) || !strings.HasPrefix(reply.Error(), tc.reply) || res.Commits != 0 {
				t.Fatalf("%+v, %v; want ErrRefused at a's start wrapping %s..., nothing committed", res, err, tc.reply)
			}
			if tc.config[0] != "" {
				if err := master.ConfigSet(ctx, tc.config[0], map[string]string{"min-replicas-to-write": "0", "maxmemory": "0"}[tc.config[0]]).Err(); err != nil {
					t.Fatal(err)
				}
			}
			if p := progress(t, master, ""); p.Saved {
				t.Fatalf("progress %+v saved by a refused batch", p)
			}
			if tc.c == master && tc.config[0] != "" {
				if res, err := ProcessLogs(ctx, master, dir, record, nil); err != nil || res.Lines != 2 {
					t.Fatalf("after the cause is gone: %+v, %v", res, err)
				}
				checkRecords(t, master, want(files, "a"))
			}
		})
	}
}

// A Ring is refused before any I/O: its shards share no transaction, and Ring.Watch would run every
// queued command on the progress keys' shard whatever its key.
func TestRingRefused(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{
		"a": redistest.BlackHole(t), "b": redistest.BlackHole(t)}})
	defer ring.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ProcessLogs(ctx, ring, t.TempDir(), record, &Options{Prefix: "{p}progress:"}); !errors.Is(err, ErrBadInput) {
		t.Errorf("ProcessLogs on a Ring: %v; want ErrBadInput", err)
	}
	if _, err := ReadProgress(ctx, ring, "{p}progress:"); !errors.Is(err, ErrBadInput) {
		t.Errorf("ReadProgress on a Ring: %v; want ErrBadInput", err)
	}
}
