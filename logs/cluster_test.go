package logs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

// recordUnder is record with its keys under tag: "<tag>lines" (LIST of "file:offset:text") and
// "<tag>count" (STRING, one INCR a line), so a line counted twice shows in either.
func recordUnder(tag string) Callback {
	return func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		pipe.RPush(ctx, tag+"lines", fmt.Sprintf("%s:%d:%s", l.File, l.Offset, l.Text))
		pipe.Incr(ctx, tag+"count")
		return nil
	}
}

// checkOnce fails unless tag's records are exactly w, each counted once.
func checkOnce(t *testing.T, c redis.Cmdable, tag string, w []string) {
	t.Helper()
	ctx := context.Background()
	got, err := c.LRange(ctx, tag+"lines", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Get(ctx, tag+"count").Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if !slices.Equal(got, w) || n != len(w) {
		t.Fatalf("%s: count %d, records\n got %q\nwant %q", tag, n, got, w)
	}
}

// TestCluster runs the package's API on a Redis Cluster of 3 masters with a replica each, through
// a ClusterClient: hash-tagged progress and callback keys, resuming after ctx ends, the options
// that touch Redis, cross-slot keys refused before anything is committed, and the durable mode on
// the master of the progress keys' slot.
func TestCluster(t *testing.T) {
	cl := redistest.RunClusterT(t, nil)
	c := cl.Client(t)
	ctx := context.Background()

	t.Run("hash tag, resumed after ctx ends", func(t *testing.T) {
		const tag = "{proc1}"
		dir := t.TempDir()
		files := map[string]string{"a": "1\n2\n3\n", "b": "", "c": "4\r\n5\n6\n7\n", "d": "8\n9\npart"}
		writeFiles(t, dir, files)
		opt := &Options{Prefix: tag + "progress:", BatchLines: 2, MaxBatchBytes: 1 << 10, HoldPartial: true}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var seen []Result
		opt.OnCommit = func(r Result) {
			if seen = append(seen, r); len(seen) == 3 {
				cancel()
			}
		}
		res, err := ProcessLogs(cctx, c, dir, recordUnder(tag), opt)
		if !errors.Is(err, context.Canceled) || res.Commits != 3 || len(seen) != 3 || seen[2] != res {
			t.Fatalf("cancelled after the 3rd commit: %+v, %v (OnCommit saw %d)", res, err, len(seen))
		}
		if p := progress(t, c, opt.Prefix); p != (Progress{true, res.File, res.Position}) || res.Confirmed != p {
			t.Fatalf("ReadProgress on the cluster %+v; Result %+v", p, res)
		}

		opt.OnCommit = nil
		res, err = ProcessLogs(ctx, c, dir, recordUnder(tag), opt)
		if err != nil || res.File != "d" || res.Position != 4 {
			t.Fatalf("resumed: %+v, %v; want it held before d's partial line", res, err)
		}
		checkOnce(t, c, tag, want(files, "a", "b", "c", "d")[:9])

		// The held line, once finished, and a file named after a missing saved one (SkipMissing).
		appendFile(t, filepath.Join(dir, "d"), "\n")
		files["d"] += "\n"
		if _, err := ProcessLogs(ctx, c, dir, recordUnder(tag), opt); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "d")); err != nil {
			t.Fatal(err)
		}
		files["e"] = "10\n"
		writeFiles(t, dir, map[string]string{"e": files["e"]})
		if _, err := ProcessLogs(ctx, c, dir, recordUnder(tag), opt); !errors.Is(err, ErrFileMissing) {
			t.Fatalf("saved file gone: %v, want ErrFileMissing", err)
		}
		opt.SkipMissing = true
		if _, err := ProcessLogs(ctx, c, dir, recordUnder(tag), opt); err != nil {
			t.Fatal(err)
		}
		checkOnce(t, c, tag, want(files, "a", "b", "c", "d", "e"))

		// Another writer of the progress between two batches: ErrConcurrent, nothing applied twice.
		files["f"] = "11\n12\n13\n"
		writeFiles(t, dir, map[string]string{"f": files["f"]})
		opt.OnCommit = func(Result) { c.Set(ctx, opt.Prefix+"position", "0", 0) }
		if _, err := ProcessLogs(ctx, c, dir, recordUnder(tag), opt); !errors.Is(err, ErrConcurrent) {
			t.Fatalf("progress changed under the run: %v, want ErrConcurrent", err)
		}
		checkOnce(t, c, tag, append(want(files, "a", "b", "c", "d", "e"), want(files, "f")[:2]...))
	})

	t.Run("progress keys in two slots", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"a": "1\n"})
		for _, prefix := range []string{"", "proc:", "{}progress:"} {
			_, err := ProcessLogs(ctx, c, dir, recordUnder("{untagged}"), &Options{Prefix: prefix})
			if !errors.Is(err, ErrCrossSlot) || !errors.Is(err, ErrBadInput) {
				t.Fatalf("Prefix %q: %v, want ErrCrossSlot and ErrBadInput", prefix, err)
			}
			if _, err := ReadProgress(ctx, c, prefix); !errors.Is(err, ErrCrossSlot) {
				t.Fatalf("ReadProgress %q: %v, want ErrCrossSlot", prefix, err)
			}
		}
		if n, err := c.Exists(ctx, "{untagged}lines").Result(); err != nil || n != 0 {
			t.Fatalf("callback keys written: %d, %v", n, err)
		}
	})

	t.Run("callback keys in other slots", func(t *testing.T) {
		const tag = "{proc2}"
		prefix := tag + "progress:"
		owner, other := keysBeside(t, c, prefix+"file")
		dir := t.TempDir()
		files := map[string]string{"a": "1\n2\n", "b": "3\n4\n5\n"}
		writeFiles(t, dir, map[string]string{"a": files["a"]})
		if _, err := ProcessLogs(ctx, c, dir, recordUnder(tag), &Options{Prefix: prefix}); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string]string{"b": files["b"]})
		for _, key := range []string{owner, other} {
			stray := func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
				pipe.Incr(ctx, tag+"count")
				pipe.RPush(ctx, key, l.Text)
				return nil
			}
			res, err := ProcessLogs(ctx, c, dir, stray, &Options{Prefix: prefix, BatchLines: 2})
			var fe *FileError
			if !errors.Is(err, ErrCrossSlot) || !errors.As(err, &fe) || fe.File != "b" || fe.Offset != 0 || res.Commits != 0 {
				t.Fatalf("callback key %q: %+v, %v; want ErrCrossSlot at b's start, nothing committed", key, res, err)
			}
			if p := progress(t, c, prefix); p != (Progress{true, "a", 4}) {
				t.Fatalf("callback key %q: progress %+v moved", key, p)
			}
			if n, err := c.Exists(ctx, key).Result(); err != nil || n != 0 {
				t.Fatalf("callback key %q written: %d, %v", key, n, err)
			}
		}
		if _, err := ProcessLogs(ctx, c, dir, recordUnder(tag), &Options{Prefix: prefix}); err != nil {
			t.Fatal(err)
		}
		checkOnce(t, c, tag, want(files, "a", "b"))
	})

	t.Run("durable on the slot's master", func(t *testing.T) {
		const tag = "{proc3}"
		prefix := tag + "progress:"
		dir := t.TempDir()
		files := map[string]string{"a": "1\n2\n3\n", "b": "4\n5\n6\n"}
		writeFiles(t, dir, map[string]string{"a": files["a"]})
		opt := &Options{Prefix: prefix, BatchLines: 2, Durable: Durability{Replicas: 1, Timeout: 5 * time.Second}}
		res, err := ProcessLogs(ctx, c, dir, recordUnder(tag), opt)
		if err != nil || res.Confirmed != (Progress{true, "a", 6}) {
			t.Fatalf("durable: %+v, %v", res, err)
		}

		// Only the slot master's replica stops: a WAIT sent to any other master would confirm.
		replica := replicaOf(t, cl, prefix+"file")
		writeFiles(t, dir, map[string]string{"b": files["b"]})
		if err := replica.Pause(); err != nil {
			t.Fatal(err)
		}
		defer replica.Resume()
		opt.Durable.Timeout = 200 * time.Millisecond
		res, err = ProcessLogs(ctx, c, dir, recordUnder(tag), opt)
		var de *DurableError
		if !errors.Is(err, ErrNotDurable) || !errors.As(err, &de) || de.Replicas != 0 || res.Commits != 1 ||
			res.Position != 4 || res.Confirmed.Saved {
			t.Fatalf("slot master's replica paused: %+v, %v; want ErrNotDurable after one commit", res, err)
		}
		if err := replica.Resume(); err != nil {
			t.Fatal(err)
		}
		opt.Durable.Timeout = 5 * time.Second
		res, err = ProcessLogs(ctx, c, dir, recordUnder(tag), opt)
		if err != nil || res.Confirmed != (Progress{true, "b", 6}) {
			t.Fatalf("resumed: %+v, %v", res, err)
		}
		checkOnce(t, c, tag, want(files, "a", "b"))
	})
}

// TestClusterSlotMoving puts the progress keys' slot half way through a move by hand (MIGRATING on
// its master, IMPORTING on another, one callback key migrated), so the batch's INCR gets ASK while
// its progress MSET is queued: a refusal of the one slot, ErrSlotMoving, not ErrCrossSlot. A key of
// another slot in the same batch (RPUSH, or EVAL's) is still ErrCrossSlot. Once the move is
// finished a run resumes, every line counted once.
func TestClusterSlotMoving(t *testing.T) {
	cl := redistest.RunClusterT(t, &redistest.ClusterOptions{ReplicasPerMaster: -1})
	var red redistest.Redirects
	c := cl.ClientWith(t, red.Count)
	ctx := context.Background()
	const tag = "{p}"
	prefix := tag + "progress:"
	slot := shard.Slot(prefix)
	dir := t.TempDir()
	files := map[string]string{"a": "1\n2\n", "b": "3\n4\n5\n"}
	writeFiles(t, dir, map[string]string{"a": files["a"]})
	if _, err := ProcessLogs(ctx, c, dir, recordUnder(tag), &Options{Prefix: prefix}); err != nil {
		t.Fatal(err)
	}

	src, dst := moveEnds(t, cl, prefix+"file")
	sc, dc := src.Client(t), dst.Client(t)
	srcID, dstID := sc.ClusterMyID(ctx).Val(), dc.ClusterMyID(ctx).Val()
	host, port, err := net.SplitHostPort(dst.Addr())
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*redis.Cmd{
		dc.Do(ctx, "cluster", "setslot", slot, "importing", srcID),
		sc.Do(ctx, "cluster", "setslot", slot, "migrating", dstID),
		sc.Do(ctx, "migrate", host, port, "", 0, 5000, "keys", tag+"count"),
	} {
		if err := cmd.Err(); err != nil {
			t.Fatalf("%v: %v", cmd.Args(), err)
		}
	}

	writeFiles(t, dir, map[string]string{"b": files["b"]})
	_, other := keysBeside(t, c, prefix+"file")
	stray := func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		if err := recordUnder(tag)(ctx, pipe, l); err != nil {
			return err
		}
		pipe.RPush(ctx, other, l.Text)
		return nil
	}
	// EVAL's keys follow numkeys (COMMAND INFO gives no first key): COMMAND GETKEYS finds them.
	strayEval := func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		if err := recordUnder(tag)(ctx, pipe, l); err != nil {
			return err
		}
		pipe.Eval(ctx, "return redis.call('rpush', KEYS[1], ARGV[1])", []string{other}, l.Text)
		return nil
	}
	isAsk := func(err error) bool { _, ok := redis.IsAskError(err); return ok }
	isMoved := func(err error) bool { _, ok := redis.IsMovedError(err); return ok }
	for _, tc := range []struct {
		name        string
		cb          Callback
		want, wrong error
		reply       func(error) bool // the redirect the error wraps
		opt         Options
	}{
		{"one slot", recordUnder(tag), ErrSlotMoving, ErrCrossSlot, isAsk, Options{Prefix: prefix, BatchLines: 2}},
		{"one slot, durable", recordUnder(tag), ErrSlotMoving, ErrCrossSlot, isAsk,
			Options{Prefix: prefix, BatchLines: 2, Durable: Durability{Replicas: 1}}},
		{"a key of another slot too", stray, ErrCrossSlot, ErrSlotMoving, isMoved, Options{Prefix: prefix, BatchLines: 2}},
		{"a key of another slot in EVAL", strayEval, ErrCrossSlot, ErrSlotMoving, isMoved, Options{Prefix: prefix, BatchLines: 2}},
	} {
		before := red.Ask()
		res, err := ProcessLogs(ctx, c, dir, tc.cb, &tc.opt)
		var fe *FileError
		if !errors.Is(err, tc.want) || errors.Is(err, tc.wrong) || !tc.reply(err) || !errors.As(err, &fe) ||
			fe.File != "b" || fe.Offset != 0 || res.Commits != 0 {
			t.Fatalf("%s: %+v, %v; want %v at b's start wrapping the redirect, nothing committed", tc.name, res, err, tc.want)
		}
		// One ASK a line (its INCR): the refused batch was sent once, not again.
		if n := red.Ask() - before; n != 2 {
			t.Fatalf("%s: %d ASK replies; want 2", tc.name, n)
		}
		if p := progress(t, c, prefix); p != (Progress{true, "a", 4}) {
			t.Fatalf("%s: progress %+v moved", tc.name, p)
		}
		checkOnce(t, c, tag, want(files, "a"))
	}
	if n, err := c.Exists(ctx, other).Result(); err != nil || n != 0 {
		t.Fatalf("key of another slot written: %d, %v", n, err)
	}

	if err := cl.MoveSlot(ctx, slot, dst, nil); err != nil {
		t.Fatal(err)
	}
	res, err := ProcessLogs(ctx, c, dir, recordUnder(tag), &Options{Prefix: prefix, BatchLines: 2})
	if err != nil || res.Commits != 2 || res.File != "b" || res.Position != 6 {
		t.Fatalf("resumed after the move: %+v, %v", res, err)
	}
	checkOnce(t, c, tag, want(files, "a", "b"))
	if owner, err := cl.NodeForKey(ctx, prefix+"file"); err != nil || owner != dst {
		t.Fatalf("progress keys served by %v (%v); want the move's target %s", owner, err, dst.Addr())
	}
}

// moveEnds returns the master serving key and another master, to move key's slot to.
func moveEnds(t *testing.T, cl *redistest.Cluster, key string) (src, dst *redistest.Server) {
	t.Helper()
	src, dst, err := cl.MoveEnds(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return src, dst
}

// keysBeside returns two keys in slots other than key's: one served by key's master, one by another.
func keysBeside(t *testing.T, c *redis.ClusterClient, key string) (sameNode, otherNode string) {
	t.Helper()
	slots, err := c.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	master := func(k string) string {
		s := shard.Slot(k)
		for _, r := range slots {
			if r.Start <= s && s <= r.End {
				return r.Nodes[0].Addr
			}
		}
		t.Fatalf("no node serves slot %d", s)
		return ""
	}
	owner := master(key)
	for i := 0; sameNode == "" || otherNode == ""; i++ {
		k := fmt.Sprintf("stray:%d", i)
		switch {
		case shard.Slot(k) == shard.Slot(key):
		case master(k) == owner:
			sameNode = cmp.Or(sameNode, k)
		default:
			otherNode = cmp.Or(otherNode, k)
		}
	}
	return sameNode, otherNode
}

// replicaOf returns the replica of key's master: redistest lists the masters first, then replica i
// of master i (one replica each, no failover in these tests).
func replicaOf(t *testing.T, cl *redistest.Cluster, key string) *redistest.Server {
	t.Helper()
	ctx := context.Background()
	owner, err := cl.NodeForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cl.ReplicaOf(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// watchCount counts the WATCH commands a cluster client's nodes send.
type watchCount struct{ n atomic.Int64 }

func (w *watchCount) install(o *redis.ClusterOptions) {
	prev := o.NewClient
	o.NewClient = func(no *redis.Options) *redis.Client {
		cl := prev(no)
		cl.AddHook(w)
		return cl
	}
}

func (w *watchCount) DialHook(next redis.DialHook) redis.DialHook { return next }
func (w *watchCount) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (w *watchCount) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "watch" {
			w.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// While the progress keys' slot moves key by key, a run in either mode, in every half-moved state
// (keys split: TRYAGAIN; all moved, the slot still migrating: ASK to WATCH), stops with
// ErrSlotMoving in bounded time and WATCHes, nothing committed; once the move is done the run
// commits every line, once.
func TestClusterSlotMovingLive(t *testing.T) {
	cl := redistest.RunClusterT(t, &redistest.ClusterOptions{ReplicasPerMaster: -1})
	var red redistest.Redirects
	var watches watchCount
	c := cl.ClientWith(t, func(o *redis.ClusterOptions) { red.Count(o); watches.install(o) })
	ctx := context.Background()
	const tag = "{mv}"
	prefix := tag + "progress:"
	slot := shard.Slot(prefix)
	dir := t.TempDir()
	files := map[string]string{"a": "1\n2\n", "b": "3\n4\n5\n"}
	writeFiles(t, dir, map[string]string{"a": files["a"]})
	if _, err := ProcessLogs(ctx, c, dir, recordUnder(tag), &Options{Prefix: prefix}); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"b": files["b"]})
	_, dst := moveEnds(t, cl, prefix+"file")

	var states []string
	batched := func(ctx context.Context, keys []string) error {
		states = append(states, fmt.Sprint(keys))
		for _, mode := range []struct {
			name string
			opt  Options
		}{
			{"default", Options{Prefix: prefix, BatchLines: 2}},
			{"durable", Options{Prefix: prefix, BatchLines: 2, Durable: Durability{Replicas: 1}}},
		} {
			// Bounded: a run that loops on the moving slot ends here, not in the test's timeout.
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			w0, a0 := watches.n.Load(), red.Ask()
			res, err := ProcessLogs(rctx, c, dir, recordUnder(tag), &mode.opt)
			cancel()
			w, a := watches.n.Load()-w0, red.Ask()-a0
			if !errors.Is(err, ErrSlotMoving) || errors.Is(err, ErrCrossSlot) || res.Commits != 0 || res.Lines != 0 {
				return fmt.Errorf("%s mode, %d key(s) moved (%v): %+v, %v; want ErrSlotMoving, nothing committed",
					mode.name, len(states), keys, res, err)
			}
			// The first batch starts where the saved progress is, at a's end.
			if fe := (*FileError)(nil); errors.As(err, &fe) && (fe.File != "a" || fe.Offset != 4) {
				return fmt.Errorf("%s mode: %v names %s at %d; want the saved progress, a at 4", mode.name, err, fe.File, fe.Offset)
			}
			if w > 8 {
				return fmt.Errorf("%s mode, %d key(s) moved: %d WATCH, %d ASK for one run; want at most 8 WATCH",
					mode.name, len(states), w, a)
			}
			t.Logf("%s mode, %d key(s) moved: %v (%d WATCH, %d ASK)", mode.name, len(states), err, w, a)
			if _, err := ReadProgress(ctx, c, prefix); err != nil && !errors.Is(err, ErrSlotMoving) {
				return fmt.Errorf("ReadProgress, %d key(s) moved: %v; want the progress or ErrSlotMoving", len(states), err)
			}
		}
		return nil
	}
	// One key per MIGRATE: the two progress keys, "lines" and "count" pass one by one.
	if err := cl.MoveSlot(ctx, slot, dst, &redistest.MoveOptions{Batch: 1, Batched: batched}); err != nil {
		t.Fatal(err)
	}
	if len(states) != 4 {
		t.Fatalf("the move went in %d batches (%v); want one per key, 4", len(states), states)
	}
	if p := progress(t, c, prefix); p != (Progress{true, "a", 4}) {
		t.Fatalf("progress %+v moved during the move", p)
	}
	res, err := ProcessLogs(ctx, c, dir, recordUnder(tag), &Options{Prefix: prefix, BatchLines: 2})
	if err != nil || res.Commits != 2 || res.Lines != 3 || res.File != "b" || res.Position != 6 {
		t.Fatalf("after the move: %+v, %v; want b's 3 lines in 2 commits", res, err)
	}
	checkOnce(t, c, tag, want(files, "a", "b"))
}
