package failover_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/logs"
)

// The logs workload tails a directory that a writer keeps appending to, as a log processor does:
// ProcessLogs is called again whenever it returns (caught up, or stopped by a failover). Its
// callback counts each line in a HASH (HINCRBY lines <id> 1) inside the batch's MULTI/EXEC, so the
// progress and the counters move together. An acknowledged batch is one OnCommit reported (in the
// durable mode only once both replicas confirmed it): after a failover the new master's progress
// must cover it, and every line before the progress must be counted exactly once, none after it.
const (
	logsLinesPerFile = 200
	logsLineEvery    = 2 * time.Millisecond // the writer's pace
	logsBatchLines   = 20
	logsCountKey     = "lines" // HASH: line id -> times counted
)

type logsWorkload struct {
	mode_ mode
	c     redis.UniversalClient
	dir   string

	mu           sync.Mutex
	ends         map[string][]int64 // file -> the end offset of each line written so far
	names        []string           // files in order
	acked        []logsBatch
	notConfirmed int
	unexpected   []error // errors no failover explains
}

// logsBatch is an acknowledged commit: the number of lines before its progress.
type logsBatch struct {
	end  int
	lost bool
}

func newLogsWorkload(t *testing.T, c redis.UniversalClient, m mode) *logsWorkload {
	return &logsWorkload{mode_: m, c: c, dir: t.TempDir(), ends: map[string][]int64{}}
}

func (w *logsWorkload) name() string { return "ProcessLogs" }
func (w *logsWorkload) mode() string { return w.mode_.name }

func (w *logsWorkload) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { w.write(ctx) })
	count := func(ctx context.Context, p redis.Pipeliner, l logs.Line) error {
		id, _, _ := strings.Cut(l.Text, " ")
		p.HIncrBy(ctx, logsCountKey, id, 1)
		return nil
	}
	opt := &logs.Options{
		BatchLines:  logsBatchLines,
		HoldPartial: true,
		Durable:     w.mode_.durable,
		OnCommit: func(r logs.Result) {
			p := r.Confirmed
			if !p.Saved {
				p = logs.Progress{Saved: true, File: r.File, Position: r.Position}
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			n, err := w.linesBeforeLocked(p)
			if err != nil {
				w.unexpected = append(w.unexpected, fmt.Errorf("OnCommit: %w", err))
				return
			}
			w.acked = append(w.acked, logsBatch{end: n})
		},
	}
	for ctx.Err() == nil {
		_, err := logs.ProcessLogs(ctx, w.c, w.dir, count, opt)
		switch {
		case err == nil: // caught up with the writer
			sleep(ctx, 20*time.Millisecond)
			continue
		case notConfirmed(err):
			w.mu.Lock()
			w.notConfirmed++
			w.mu.Unlock()
		case errors.Is(err, logs.ErrFileChanged), errors.Is(err, logs.ErrBadProgress),
			errors.Is(err, logs.ErrCommandFailed), errors.Is(err, logs.ErrCallback), errors.Is(err, logs.ErrFileMissing):
			w.mu.Lock()
			w.unexpected = append(w.unexpected, err)
			w.mu.Unlock()
		}
		// Connection errors, ErrConcurrent after the new master's progress moved back: start again
		// from what the new master has.
		sleep(ctx, errPause)
	}
	wg.Wait()
}

// write appends whole lines, one write each, and finishes a file before it starts the next, as the
// logs contract asks.
func (w *logsWorkload) write(ctx context.Context) {
	t := time.NewTicker(logsLineEvery)
	defer t.Stop()
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var off int64
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		name := fmt.Sprintf("app-%05d.log", n/logsLinesPerFile)
		if n%logsLinesPerFile == 0 {
			if f != nil {
				f.Close()
			}
			var err error
			if f, err = os.Create(filepath.Join(w.dir, name)); err != nil {
				w.fail(err)
				return
			}
			off = 0
			w.mu.Lock()
			w.names = append(w.names, name)
			w.mu.Unlock()
		}
		line := fmt.Sprintf("L%07d GET /item/%d 200\n", n, n%997)
		off += int64(len(line))
		w.mu.Lock() // before the write: ProcessLogs may commit the line at once
		w.ends[name] = append(w.ends[name], off)
		w.mu.Unlock()
		if _, err := f.WriteString(line); err != nil {
			w.fail(err)
			return
		}
	}
}

func (w *logsWorkload) fail(err error) {
	w.mu.Lock()
	w.unexpected = append(w.unexpected, err)
	w.mu.Unlock()
}

// linesBeforeLocked is the number of lines before a saved progress, which must be at a line end.
func (w *logsWorkload) linesBeforeLocked(p logs.Progress) (int, error) {
	if !p.Saved {
		return 0, nil
	}
	i := slices.Index(w.names, p.File)
	if i < 0 {
		return 0, fmt.Errorf("progress names %q, not a log file", p.File)
	}
	n := i * logsLinesPerFile
	if p.Position == 0 {
		return n, nil
	}
	j := slices.Index(w.ends[p.File], p.Position)
	if j < 0 {
		return 0, fmt.Errorf("progress %s:%d is not at the end of a line written", p.File, p.Position)
	}
	return n + j + 1, nil
}

func (w *logsWorkload) check(ctx context.Context, c *redis.Client) (tally, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// What was acknowledged before the snapshot was committed before it.
	w.mu.Lock()
	acked := len(w.acked)
	w.mu.Unlock()

	// One transaction reads progress and counters at one moment, while ProcessLogs goes on.
	var file, pos *redis.StringCmd
	var counts *redis.MapStringStringCmd
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		file, pos = p.Get(ctx, "progress:file"), p.Get(ctx, "progress:position")
		counts = p.HGetAll(ctx, logsCountKey)
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return tally{}, err
	}
	prog := logs.Progress{Saved: file.Err() == nil, File: file.Val()}
	if prog.Saved {
		var err error
		if prog.Position, err = strconv.ParseInt(pos.Val(), 10, 64); err != nil {
			return tally{}, fmt.Errorf("progress:position %q: %w", pos.Val(), err)
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	errs := slices.Clone(w.unexpected)
	w.unexpected = nil
	end, err := w.linesBeforeLocked(prog)
	if err != nil {
		return tally{}, errors.Join(append(errs, err)...)
	}
	got := counts.Val()
	for n := range end {
		id := fmt.Sprintf("L%07d", n)
		if got[id] != "1" {
			errs = append(errs, fmt.Errorf("line %s counted %q times before the progress %s:%d; want 1", id, got[id], prog.File, prog.Position))
			break
		}
	}
	if len(got) != end {
		errs = append(errs, fmt.Errorf("%d lines counted; want the %d before the progress", len(got), end))
	}
	t := tally{acked: len(w.acked), notConfirmed: w.notConfirmed}
	for i := range w.acked {
		b := &w.acked[i]
		if i < acked && !b.lost && b.end > end {
			b.lost = true
		}
		if b.lost {
			t.lost++
		}
	}
	return t, errors.Join(errs...)
}
