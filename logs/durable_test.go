package logs

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// waitCounter counts the WAIT commands a client sends, alone or in a pipeline.
type waitCounter struct{ n atomic.Int64 }

func (w *waitCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (w *waitCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		w.count(cmd)
		return next(ctx, cmd)
	}
}

func (w *waitCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			w.count(cmd)
		}
		return next(ctx, cmds)
	}
}

func (w *waitCounter) count(cmd redis.Cmder) {
	if strings.EqualFold(cmd.Name(), "wait") {
		w.n.Add(1)
	}
}

// TestDurable runs the durable mode on a master and its replica: WAIT after every batch on the
// batch's own connection, none in the default mode, ErrNotDurable for a batch the replica lacks,
// and exactly once when a run resumes after it, on the master or on the replica promoted in its
// place.
func TestDurable(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
		t.Fatal(err)
	}
	c := r.Master.Client(t)
	waits := &waitCounter{}
	c.AddHook(waits)
	replica := r.Replica.Client(t)
	files := map[string]string{"a": "1\n2\n3\n4\n5\n", "b": "6\n7\n"}
	dir := t.TempDir()
	writeFiles(t, dir, files)
	all := want(files, "a", "b")

	t.Run("default mode sends no WAIT", func(t *testing.T) {
		res, err := ProcessLogs(ctx, c, dir, recordUnder("d0:"), &Options{Prefix: "d0:", BatchLines: 2})
		if err != nil || res.Commits != 4 {
			t.Fatalf("%+v, %v", res, err)
		}
		if n := waits.n.Swap(0); n != 0 {
			t.Fatalf("%d WAITs in the default mode; want none", n)
		}
	})

	t.Run("confirmed", func(t *testing.T) {
		commits := 0
		opt := &Options{Prefix: "d1:", BatchLines: 2, Durable: Durability{Replicas: 1, Timeout: 10 * time.Second},
			OnCommit: func(Result) { commits++ }}
		res, err := ProcessLogs(ctx, c, dir, recordUnder("d1:"), opt)
		if err != nil || res.Commits != 4 || commits != 4 || res.Confirmed != (Progress{true, "b", 4}) {
			t.Fatalf("%+v, %v (%d OnCommit calls)", res, err, commits)
		}
		// A round lasts at most half a second: a slow replica may take more than one per batch.
		if n := waits.n.Swap(0); n < int64(res.Commits) {
			t.Fatalf("%d WAITs for %d commits", n, res.Commits)
		}
		checkOnce(t, replica, "d1:", all) // confirmed: the replica has every batch
	})

	// The replica stops after the first confirmed batch: the second is on the master only.
	notDurable := func(t *testing.T, prefix string) {
		t.Helper()
		var calls []Result
		opt := &Options{Prefix: prefix, BatchLines: 2, Durable: Durability{Replicas: 1, Timeout: 200 * time.Millisecond}}
		opt.OnCommit = func(res Result) {
			if calls = append(calls, res); len(calls) == 1 {
				if err := r.Replica.Pause(); err != nil {
					t.Error(err)
				}
			}
		}
		res, err := ProcessLogs(ctx, c, dir, recordUnder(prefix), opt)
		var de *DurableError
		var fe *FileError
		if !errors.Is(err, ErrNotDurable) || !errors.As(err, &de) || de.Replicas != 0 || de.Wanted != 1 ||
			!errors.As(err, &fe) || fe.File != "a" || fe.Offset != 8 {
			t.Fatalf("err %v; want ErrNotDurable, 0 of 1 replicas, at a:8", err)
		}
		if res.Commits != 2 || res.File != "a" || res.Position != 8 || res.Confirmed != (Progress{true, "a", 4}) || len(calls) != 1 {
			t.Fatalf("%+v after %d OnCommit calls; want 2 commits, a:4 confirmed, a:8 applied, 1 call", res, len(calls))
		}
		if p := progress(t, c, prefix); p != (Progress{true, "a", 8}) {
			t.Fatalf("master's progress %+v; want a:8 (applied, not confirmed)", p)
		}
		checkOnce(t, c, prefix, all[:4])
	}

	t.Run("not durable, resumed on the master", func(t *testing.T) {
		notDurable(t, "d2:")
		if err := r.Replica.Resume(); err != nil {
			t.Fatal(err)
		}
		res, err := ProcessLogs(ctx, c, dir, recordUnder("d2:"), &Options{Prefix: "d2:", BatchLines: 2,
			Durable: Durability{Replicas: 1, Timeout: 10 * time.Second}})
		if err != nil || res.Lines != 3 || res.Confirmed != (Progress{true, "b", 4}) {
			t.Fatalf("resumed: %+v, %v", res, err)
		}
		checkOnce(t, c, "d2:", all)
		checkOnce(t, replica, "d2:", all)
	})

	// The master dies with a batch not confirmed; the replica takes over with or without it (the
	// batch may have reached the replica's socket before it stopped). Data and progress travel in
	// one transaction, so either way the resumed run counts each line once.
	t.Run("not durable, resumed on the promoted replica", func(t *testing.T) {
		notDurable(t, "d3:")
		if err := r.Master.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := r.Replica.Resume(); err != nil {
			t.Fatal(err)
		}
		if err := replica.Do(ctx, "replicaof", "no", "one").Err(); err != nil {
			t.Fatal(err)
		}
		p := progress(t, replica, "d3:")
		if p != (Progress{true, "a", 4}) && p != (Progress{true, "a", 8}) {
			t.Fatalf("promoted replica's progress %+v; want a:4 (batch lost) or a:8 (kept)", p)
		}
		checkOnce(t, replica, "d3:", all[:p.Position/2])
		t.Logf("the unconfirmed batch %s the failover", map[bool]string{true: "survived", false: "was lost in"}[p.Position == 8])
		if _, err := ProcessLogs(ctx, replica, dir, recordUnder("d3:"), &Options{Prefix: "d3:", BatchLines: 2}); err != nil {
			t.Fatal(err)
		}
		checkOnce(t, replica, "d3:", all)
	})
}

// TestDurableNeedsNode: a Ring gives no one connection for a batch and its WAIT; refused before any
// I/O, as in every mode (TestRingRefused).
func TestDurableNeedsNode(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": redistest.BlackHole(t)}})
	defer ring.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // any I/O would last until then
	defer cancel()
	_, err := ProcessLogs(ctx, ring, t.TempDir(), record, &Options{Durable: Durability{Replicas: 1}})
	if !errors.Is(err, ErrBadInput) {
		t.Fatalf("durable on a Ring: %v; want ErrBadInput", err)
	}
}
