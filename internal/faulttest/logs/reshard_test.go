package logs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/faulttest"
	"github.com/ria-go/ria/internal/faulttest/cluster"
	"github.com/ria-go/ria/logs"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// ProcessLogs on a Redis Cluster whose progress slot moves and whose master dies mid-run.
const (
	reshardPrefix    = "{p}progress:"
	reshardSeen      = "{p}seen"      // SET of the ids of processed lines
	reshardProcessed = "{p}processed" // STRING, incremented once per processed line
)

func reshardCount(ctx context.Context, p redis.Pipeliner, l logs.Line) error {
	id, _, _ := strings.Cut(l.Text, " ")
	p.SAdd(ctx, reshardSeen, id)
	p.Incr(ctx, reshardProcessed)
	return nil
}

// TestReshardLogs appends log files to a directory while ProcessLogs runs again and again on a
// 3+3 cluster, resuming after each error, as the {p} slot (progress and callback keys) is moved
// to another master one key per MIGRATE and its master is killed. At the end every line must
// have been counted exactly once: SCARD seen and processed both equal the lines written. Short
// form: 2 moves and 1 kill, about 10 s. The soak:
//
//	RIA_SOAK=1 go test -timeout 1h -run TestReshardLogs -v ./internal/faulttest/logs/
func TestReshardLogs(t *testing.T) {
	p := cluster.Plan{Moves: 2, Kills: 1, Gap: 300 * time.Millisecond}
	minLines := 1000
	if faulttest.Soak(t) {
		p, minLines = cluster.Plan{Moves: 8, Kills: 4, Gap: time.Second}, 50_000
		if n, ok := faulttest.Ops(t); ok {
			minLines = int(n)
		}
	}
	p.Move = redistest.MoveOptions{Batch: 1, Pause: 20 * time.Millisecond}
	p.Slots = []int{shard.Slot(reshardPrefix)}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	c := redistest.RunClusterT(t, &redistest.ClusterOptions{NodeTimeout: time.Second})
	var red redistest.Redirects
	cl := c.NewClientWith(red.Count)
	defer cl.Close()
	p.Clients = []*redis.ClusterClient{cl}

	sched := cluster.Start(ctx, c, p)

	// The producer adds a file of 40 lines every 30 ms until the schedule is over and minLines are
	// written; a file appears whole (renamed from a dot name, which ProcessLogs skips).
	dir := t.TempDir()
	var written atomic.Int64
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for f := 0; ; f++ {
			select {
			case <-sched.Done():
				if written.Load() >= int64(minLines) {
					return
				}
			default:
			}
			var b strings.Builder
			for i := range 40 {
				fmt.Fprintf(&b, "f%d-%d GET /item/%d 200\n", f, i, i)
			}
			name := fmt.Sprintf("%06d.log", f)
			if err := os.WriteFile(filepath.Join(dir, "."+name), []byte(b.String()), 0o600); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(filepath.Join(dir, "."+name), filepath.Join(dir, name)); err != nil {
				t.Error(err)
				return
			}
			written.Add(40)
			time.Sleep(30 * time.Millisecond)
		}
	}()

	opt := logs.Options{Prefix: reshardPrefix, BatchLines: 10,
		Durable: logs.Durability{Replicas: 1, Timeout: 250 * time.Millisecond}}
	var runs, commits int
	errs := map[string]int{}
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("not done after %d runs: %v", runs, ctx.Err())
		default:
		}
		last := false
		select {
		case <-produced:
			last = true // this run lists every file
		default:
		}
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		res, err := logs.ProcessLogs(rctx, cl, dir, reshardCount, &opt)
		rcancel()
		runs++
		commits += res.Commits
		if err == nil && last {
			break
		}
		if err != nil {
			kind := reshardKind(err)
			errs[kind]++
			if kind == "" {
				t.Fatalf("run %d: %v", runs, err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	rep := sched.End(ctx, t, c, &red, cl)

	ac := c.Client(t)
	seen, err := ac.SCard(ctx, reshardSeen).Result()
	if err != nil {
		t.Fatal(err)
	}
	processed, err := ac.Get(ctx, reshardProcessed).Int64()
	if err != nil {
		t.Fatal(err)
	}
	total := written.Load()
	t.Logf("%d lines in %d runs, %d commits, %v; %v; redirections: %v; errors by kind: %v",
		total, runs, commits, sched.Since().Round(time.Millisecond), rep, &red, errs)
	if seen != total || processed != total {
		t.Errorf("%d distinct lines processed, %d counted; want both %d (exactly once)", seen, processed, total)
	}
}

// reshardKind names the errors a run may end with while slots move and masters die, or "" for one
// it never should.
func reshardKind(err error) string {
	// Every key has the tag {p}: a move splitting the slot's keys is ErrSlotMoving, never ErrCrossSlot.
	for _, never := range []error{logs.ErrBadInput, logs.ErrCrossSlot, logs.ErrCommandFailed, logs.ErrBadProgress,
		logs.ErrFileChanged, logs.ErrFileMissing, logs.ErrCallback, logs.ErrLineTooLong, logs.ErrUnreadable} {
		if errors.Is(err, never) {
			return ""
		}
	}
	if errors.Is(err, logs.ErrSlotMoving) {
		return "slot moving" // the batch was refused whole: the next run goes on
	}
	if errors.Is(err, logs.ErrConcurrent) {
		return "progress changed" // a batch lost with its master: the progress went back
	}
	if k := cluster.Kind(err); k != "other" {
		return k
	}
	return ""
}
