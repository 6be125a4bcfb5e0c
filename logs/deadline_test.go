package logs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

// Against a paused server, every call whose ctx expires says so: errors.Is(err,
// context.DeadlineExceeded), whether go-redis saw the deadline itself or as an i/o timeout on the
// socket, on the first call and on the next ones, with a fresh ctx or the same expired one.
func TestDeadlineErrorsPausedServer(t *testing.T) {
	srv := redistest.RunT(t, nil)
	c := srv.Client(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "1\n2\n3\n", "b": "4\n"})
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Resume() })
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: %v; want context.DeadlineExceeded", what, err)
		}
	}
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := ProcessLogs(ctx, c, dir, record, nil)
		check("ProcessLogs, fresh ctx", err)
		_, err = ReadProgress(ctx, c, "")
		check("ReadProgress, the expired ctx", err)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for range 3 {
		_, err := ProcessLogs(ctx, c, dir, record, nil)
		check("ProcessLogs, the same ctx", err)
	}

	// Paused between two commits: the second batch's WATCH runs into the deadline.
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		paused := false
		res, err := ProcessLogs(ctx, c, dir, record, &Options{BatchLines: 1, Prefix: "mid:", OnCommit: func(Result) {
			if !paused {
				paused = true
				srv.Pause()
			}
		}})
		cancel()
		srv.Resume()
		check("ProcessLogs paused mid-run", err)
		if res.Commits != 1 {
			t.Fatalf("run %d: %d commits; want 1 before the pause", i, res.Commits)
		}
		if err := c.Del(context.Background(), "mid:file", "mid:position").Err(); err != nil {
			t.Fatal(err)
		}
	}
}
