package logs

import (
	"bufio"
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

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn/conntest"
)

// newMini starts a miniredis server and a client on it, both closed when the test ends.
var newMini = conntest.MiniClient

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// record pushes "file:offset:text" for each line, so a test sees order, content and duplicates.
func record(ctx context.Context, pipe redis.Pipeliner, l Line) error {
	pipe.RPush(ctx, "lines", fmt.Sprintf("%s:%d:%s", l.File, l.Offset, l.Text))
	return nil
}

func recorded(t *testing.T, c *redis.Client) []string {
	t.Helper()
	got, err := c.LRange(context.Background(), "lines", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// want builds the expected records of files processed in order, from byte 0.
func want(files map[string]string, names ...string) []string {
	var out []string
	for _, n := range names {
		body := files[n]
		off := 0
		for len(body) > 0 {
			i := strings.IndexByte(body, '\n')
			line, size := body, len(body)
			if i >= 0 {
				line, size = body[:i], i+1
			}
			out = append(out, fmt.Sprintf("%s:%d:%s", n, off, strings.TrimSuffix(line, "\r")))
			off += size
			body = body[size:]
		}
	}
	return out
}

func progress(t *testing.T, c redis.Cmdable, prefix string) Progress {
	t.Helper()
	p, err := ReadProgress(context.Background(), c, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkRecords(t *testing.T, c *redis.Client, want []string) {
	t.Helper()
	if got := recorded(t, c); !slices.Equal(got, want) {
		t.Fatalf("records:\n got %q\nwant %q", got, want)
	}
}

func TestProcessAll(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	dir := t.TempDir()
	files := map[string]string{
		"a.log": "one\ntwo\r\nthree\n",
		"b.log": "",                  // empty
		"c.log": "four\n\nsix-no-nl", // an empty line, and a last line without newline
	}
	writeFiles(t, dir, files)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil { // skipped
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{".tmp.part": "ignored\n"}) // skipped

	res, err := ProcessLogs(ctx, c, dir, record, &Options{BatchLines: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, c, want(files, "a.log", "b.log", "c.log"))
	wantRes := Result{Files: 3, Lines: 6, Bytes: int64(len(files["a.log"]) + len(files["c.log"])),
		Commits: 2 + 1 + 2, File: "c.log", Position: int64(len(files["c.log"]))}
	wantRes.Confirmed = Progress{Saved: true, File: wantRes.File, Position: wantRes.Position} // the master's acknowledgement
	if res != wantRes {
		t.Fatalf("result %+v; want %+v", res, wantRes)
	}
	if p := progress(t, c, ""); p != (Progress{Saved: true, File: "c.log", Position: int64(len(files["c.log"]))}) {
		t.Fatalf("progress %+v", p)
	}
	// The book's keys, in the book's format.
	if v, _ := c.Get(ctx, "progress:position").Result(); v != strconv.Itoa(len(files["c.log"])) {
		t.Fatalf("progress:position %q", v)
	}

	// A second run finds nothing new and commits nothing.
	res, err = ProcessLogs(ctx, c, dir, record, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 0 || res.Commits != 0 || res.Files != 1 {
		t.Fatalf("second run %+v; want nothing committed, 1 file opened", res)
	}
	checkRecords(t, c, want(files, "a.log", "b.log", "c.log"))
}

func TestEmptyDirectory(t *testing.T) {
	_, c := newMini(t)
	res, err := ProcessLogs(context.Background(), c, t.TempDir(), record, nil)
	if err != nil || res != (Result{}) {
		t.Fatalf("got %+v, %v; want nothing", res, err)
	}
	if p := progress(t, c, ""); p.Saved {
		t.Fatalf("progress saved: %+v", p)
	}
}

func TestBatchCommits(t *testing.T) {
	for _, tc := range []struct {
		lines, batch, commits int
	}{
		{5, 2, 3}, {4, 2, 2}, {1000, 1000, 1}, {2500, 0, 3}, {3, 1, 3},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.lines, tc.batch), func(t *testing.T) {
			_, c := newMini(t)
			dir := t.TempDir()
			var b strings.Builder
			for i := range tc.lines {
				fmt.Fprintf(&b, "line %d\n", i)
			}
			files := map[string]string{"x": b.String()}
			writeFiles(t, dir, files)
			var seen []Result
			res, err := ProcessLogs(context.Background(), c, dir, record, &Options{BatchLines: tc.batch,
				OnCommit: func(r Result) { seen = append(seen, r) }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Commits != tc.commits || len(seen) != tc.commits {
				t.Fatalf("commits %d, OnCommit calls %d; want %d", res.Commits, len(seen), tc.commits)
			}
			if seen[len(seen)-1] != res {
				t.Fatalf("last OnCommit %+v; result %+v", seen[len(seen)-1], res)
			}
			checkRecords(t, c, want(files, "x"))
		})
	}
}

// failAfter returns a callback that records lines and fails on the n-th call (1-based).
func failAfter(n int) (Callback, error) {
	boom := errors.New("boom")
	calls := 0
	return func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		calls++
		if calls == n {
			return boom
		}
		return record(ctx, pipe, l)
	}, boom
}

func TestResumeAfterCallbackError(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{"1.log": "a\nb\nc\nd\ne\n", "2.log": "f\ng\nh\n"}
	all := want(files, "1.log", "2.log")
	for fail := 1; fail <= len(all); fail++ {
		t.Run(strconv.Itoa(fail), func(t *testing.T) {
			_, c := newMini(t)
			dir := t.TempDir()
			writeFiles(t, dir, files)
			cb, boom := failAfter(fail)
			res, err := ProcessLogs(ctx, c, dir, cb, &Options{BatchLines: 2})
			if !errors.Is(err, ErrCallback) || !errors.Is(err, boom) {
				t.Fatalf("err %v; want ErrCallback wrapping boom", err)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Offset < 0 {
				t.Fatalf("err %v is not a *FileError", err)
			}
			if failed := all[fail-1]; !strings.HasPrefix(failed, fmt.Sprintf("%s:%d:", fe.File, fe.Offset)) {
				t.Fatalf("FileError names %s at %d; failing line is %s", fe.File, fe.Offset, failed)
			}
			// Committed: whole batches of 2 before the failing line, or whole files.
			got := recorded(t, c)
			if int64(len(got)) != res.Lines || !slices.Equal(got, all[:len(got)]) || len(got) >= fail {
				t.Fatalf("after failure at line %d: records %q, result %+v", fail, got, res)
			}
			p := progress(t, c, "")
			if p.File != res.File || p.Position != res.Position {
				t.Fatalf("progress %+v; result %+v", p, res)
			}
			if _, err := ProcessLogs(ctx, c, dir, record, &Options{BatchLines: 2}); err != nil {
				t.Fatal(err)
			}
			checkRecords(t, c, all)
		})
	}
}

func TestCancelledContext(t *testing.T) {
	_, c := newMini(t)
	dir := t.TempDir()
	files := map[string]string{"f": "1\n2\n3\n4\n5\n6\n7\n"}
	writeFiles(t, dir, files)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := ProcessLogs(ctx, c, dir, func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		if n++; n == 4 {
			cancel()
		}
		return record(ctx, pipe, l)
	}, &Options{BatchLines: 3})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v; want context.Canceled", err)
	}
	checkRecords(t, c, want(files, "f")[:3])
	if _, err := ProcessLogs(context.Background(), c, dir, record, &Options{BatchLines: 3}); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, c, want(files, "f"))
}

func TestAppendedFiles(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"20240101.log": "a\n", "20240102.log": "b\n"})
	if _, err := ProcessLogs(ctx, c, dir, record, nil); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "20240101.log"), "late\n")     // finished file: never read again
	appendFile(t, filepath.Join(dir, "20240102.log"), "c\n")        // saved file: read from the position
	writeFiles(t, dir, map[string]string{"20231231.log": "old\n"})  // sorts before: never read
	writeFiles(t, dir, map[string]string{"20240103.log": "d\ne\n"}) // sorts after: read
	if _, err := ProcessLogs(ctx, c, dir, record, nil); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, c, []string{"20240101.log:0:a", "20240102.log:0:b", "20240102.log:2:c",
		"20240103.log:0:d", "20240103.log:2:e"})
}

func TestPartialLastLine(t *testing.T) {
	ctx := context.Background()

	t.Run("processed", func(t *testing.T) {
		_, c := newMini(t)
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"f": "a\nhalf"})
		if _, err := ProcessLogs(ctx, c, dir, record, nil); err != nil {
			t.Fatal(err)
		}
		checkRecords(t, c, []string{"f:0:a", "f:2:half"})
		// Extending the processed line breaks the contract: refused, not half-counted.
		appendFile(t, filepath.Join(dir, "f"), "-rest\nnext\n")
		_, err := ProcessLogs(ctx, c, dir, record, nil)
		var fe *FileError
		if !errors.Is(err, ErrFileChanged) || !errors.As(err, &fe) || fe.File != "f" || fe.Offset != 6 {
			t.Fatalf("err %v; want ErrFileChanged for f at 6", err)
		}
		checkRecords(t, c, []string{"f:0:a", "f:2:half"})
	})

	t.Run("held", func(t *testing.T) {
		_, c := newMini(t)
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"e": "x\ny", "f": "a\nhalf"})
		res, err := ProcessLogs(ctx, c, dir, record, &Options{HoldPartial: true})
		if err != nil {
			t.Fatal(err)
		}
		// Only the last file's partial line is held: "e" is finished since "f" exists.
		checkRecords(t, c, []string{"e:0:x", "e:2:y", "f:0:a"})
		if res.File != "f" || res.Position != 2 {
			t.Fatalf("result %+v; want f at 2", res)
		}
		appendFile(t, filepath.Join(dir, "f"), "-rest\n")
		if _, err := ProcessLogs(ctx, c, dir, record, &Options{HoldPartial: true}); err != nil {
			t.Fatal(err)
		}
		checkRecords(t, c, []string{"e:0:x", "e:2:y", "f:0:a", "f:2:half-rest"})
	})
}

func TestMissingResumedFile(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "1\n", "b": "2\n3\n"})
	if err := c.MSet(ctx, "progress:file", "a0", "progress:position", "7").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := ProcessLogs(ctx, c, dir, record, nil)
	var fe *FileError
	if !errors.Is(err, ErrFileMissing) || !errors.As(err, &fe) || fe.File != "a0" || fe.Offset != 7 {
		t.Fatalf("err %v; want ErrFileMissing naming a0 at 7", err)
	}
	if p := progress(t, c, ""); p != (Progress{true, "a0", 7}) {
		t.Fatalf("progress changed: %+v", p)
	}
	checkRecords(t, c, nil)

	// SkipMissing continues after it in sorted order: "a" < "a0" is done, "b" is next.
	if _, err := ProcessLogs(ctx, c, dir, record, &Options{SkipMissing: true}); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, c, []string{"b:0:2", "b:2:3"})

	// The last file gone: nothing after it, a no-op with SkipMissing.
	if err := os.Remove(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := ProcessLogs(ctx, c, dir, record, nil); !errors.Is(err, ErrFileMissing) {
		t.Fatalf("err %v; want ErrFileMissing", err)
	}
	if res, err := ProcessLogs(ctx, c, dir, record, &Options{SkipMissing: true}); err != nil || res.Lines != 0 {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestFileChanged(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		pos  string
	}{
		{"past end", "100"},
		{"mid line", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newMini(t)
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"f": "aaaa\nbbbb\n"})
			c.MSet(ctx, "progress:file", "f", "progress:position", tc.pos)
			_, err := ProcessLogs(ctx, c, dir, record, nil)
			if !errors.Is(err, ErrFileChanged) {
				t.Fatalf("err %v; want ErrFileChanged", err)
			}
			if p := progress(t, c, ""); p.Position != int64(atoi(tc.pos)) {
				t.Fatalf("progress changed: %+v", p)
			}
		})
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func TestBadProgress(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		kv   []string
	}{
		{"file without position", []string{"progress:file", "f"}},
		{"position without file", []string{"progress:position", "0"}},
		{"not a number", []string{"progress:file", "f", "progress:position", "ten"}},
		{"negative", []string{"progress:file", "f", "progress:position", "-1"}},
		{"empty file name", []string{"progress:file", "", "progress:position", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newMini(t)
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"f": "x\n"})
			if err := c.MSet(ctx, tc.kv).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := ProcessLogs(ctx, c, dir, record, nil); !errors.Is(err, ErrBadProgress) {
				t.Fatalf("err %v; want ErrBadProgress", err)
			}
			checkRecords(t, c, nil)
		})
	}
}

func TestLineTooLong(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("x", 200_000) // longer than the read buffer: spans several fragments
	for _, tc := range []struct {
		name, body string
		max        int
		wantOff    int64 // -1: no error
	}{
		{"exactly max", "ok\n" + strings.Repeat("y", 10) + "\n", 10, -1},
		{"exactly max crlf", strings.Repeat("y", 10) + "\r\n", 10, -1},
		{"one over", "ok\n" + strings.Repeat("y", 11) + "\nafter\n", 10, 3},
		{"one over, no newline", "ok\n" + strings.Repeat("y", 11), 10, 3},
		{"long", "ok\n" + long + "\n", 100_000, 3},
		{"long fits", "ok\n" + long + "\n", 200_000, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newMini(t)
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"big": tc.body})
			_, err := ProcessLogs(ctx, c, dir, record, &Options{MaxLineBytes: tc.max})
			if tc.wantOff < 0 {
				if err != nil {
					t.Fatal(err)
				}
				checkRecords(t, c, want(map[string]string{"big": tc.body}, "big"))
				return
			}
			var fe *FileError
			if !errors.Is(err, ErrLineTooLong) || !errors.As(err, &fe) || fe.File != "big" || fe.Offset != tc.wantOff {
				t.Fatalf("err %v; want ErrLineTooLong for big at %d", err, tc.wantOff)
			}
			checkRecords(t, c, nil) // the batch holding "ok" was discarded with the error
			if p := progress(t, c, ""); p.Saved {
				t.Fatalf("progress saved: %+v", p)
			}
		})
	}
}

func TestUnreadable(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "1\n", "c": "3\n"})
	// A dangling symlink cannot be opened, whoever runs the test (root ignores file modes).
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	_, err := ProcessLogs(ctx, c, dir, record, nil)
	var fe *FileError
	if !errors.Is(err, ErrUnreadable) || !errors.Is(err, os.ErrNotExist) || !errors.As(err, &fe) || fe.File != "b" {
		t.Fatalf("err %v; want ErrUnreadable naming b", err)
	}
	if p := progress(t, c, ""); p != (Progress{true, "a", 2}) {
		t.Fatalf("progress %+v; want a at 2 (b not started)", p)
	}
	checkRecords(t, c, []string{"a:0:1"})

	// A symlink to a directory is skipped, as a directory is: the run goes on to c.
	os.Remove(filepath.Join(dir, "b"))
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := ProcessLogs(ctx, c, dir, record, nil); err != nil {
		t.Fatalf("err %v; want the link to a directory skipped", err)
	}
	checkRecords(t, c, []string{"a:0:1", "c:0:3"})

	_, err = ProcessLogs(ctx, c, filepath.Join(dir, "no-such-dir"), record, nil)
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "no-such-dir") {
		t.Fatalf("err %v; want ErrUnreadable naming the directory", err)
	}
}

func TestPrefixes(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	writeFiles(t, dirA, map[string]string{"f": "a1\na2\n"})
	writeFiles(t, dirB, map[string]string{"f": "b1\n"})
	count := func(key string) Callback {
		return func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
			pipe.Incr(ctx, key)
			return nil
		}
	}
	if _, err := ProcessLogs(ctx, c, dirA, count("a"), &Options{Prefix: "progress:a:"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ProcessLogs(ctx, c, dirB, count("b"), &Options{Prefix: "progress:b:"}); err != nil {
		t.Fatal(err)
	}
	if a, b := c.Get(ctx, "a").Val(), c.Get(ctx, "b").Val(); a != "2" || b != "1" {
		t.Fatalf("a=%s b=%s; want 2 and 1", a, b)
	}
	if p := progress(t, c, "progress:a:"); p != (Progress{true, "f", 6}) {
		t.Fatalf("progress a %+v", p)
	}
	if n := c.Exists(ctx, "progress:file").Val(); n != 0 {
		t.Fatal("default progress keys written")
	}
}

func TestCommandFailedInExec(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "1\n2\n3\n"})
	c.HSet(ctx, "h", "x", "y")
	n := 0
	_, err := ProcessLogs(ctx, c, dir, func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		if n++; n == 2 {
			pipe.Incr(ctx, "h") // WRONGTYPE at EXEC time
		}
		return record(ctx, pipe, l)
	}, &Options{BatchLines: 2})
	if !errors.Is(err, ErrCommandFailed) {
		t.Fatalf("err %v; want ErrCommandFailed", err)
	}
	// Redis committed the batch anyway, progress included: a rerun does not repeat it.
	if p := progress(t, c, ""); p != (Progress{true, "f", 4}) {
		t.Fatalf("progress %+v; want f at 4", p)
	}
	if _, err := ProcessLogs(ctx, c, dir, record, nil); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, c, []string{"f:0:1", "f:2:2", "f:4:3"})
}

func TestConcurrentProcessorsCountOnce(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	dir := t.TempDir()
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	files := map[string]string{"a": b.String(), "b": b.String()}
	writeFiles(t, dir, files)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ProcessLogs(ctx, c, dir, record, &Options{BatchLines: 50})
		}()
	}
	wg.Wait()
	finished := 0
	for _, err := range errs {
		if err == nil {
			finished++
		} else if !errors.Is(err, ErrConcurrent) {
			t.Fatalf("err %v; want nil or ErrConcurrent", err)
		}
	}
	if finished == 0 {
		t.Fatalf("no processor finished: %v", errs)
	}
	checkRecords(t, c, want(files, "a", "b"))
}

func TestProgressChangedBetweenBatches(t *testing.T) {
	ctx := context.Background()
	_, c := newMini(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "1\n2\n3\n4\n"})
	n := 0
	other := redis.NewClient(&redis.Options{Addr: c.Options().Addr})
	defer other.Close()
	_, err := ProcessLogs(ctx, c, dir, func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
		if n++; n == 3 { // after the first commit, someone else moves the progress
			other.Set(ctx, "progress:position", "0", 0)
		}
		return record(ctx, pipe, l)
	}, &Options{BatchLines: 2})
	if !errors.Is(err, ErrConcurrent) {
		t.Fatalf("err %v; want ErrConcurrent", err)
	}
	checkRecords(t, c, []string{"f:0:1", "f:2:2"})
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	m, c := newMini(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "x\n"})
	for _, tc := range []struct {
		name string
		c    redis.UniversalClient
		dir  string
		cb   Callback
		opt  *Options
	}{
		{"nil client", nil, dir, record, nil},
		{"nil callback", c, dir, nil, nil},
		{"empty dir", c, "", record, nil},
		{"negative batch", c, dir, record, &Options{BatchLines: -2}},
		{"negative max line", c, dir, record, &Options{MaxLineBytes: -5}},
		{"negative max batch bytes", c, dir, record, &Options{MaxBatchBytes: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ProcessLogs(ctx, tc.c, tc.dir, tc.cb, tc.opt); !errors.Is(err, ErrBadInput) {
				t.Fatalf("err %v; want ErrBadInput", err)
			}
		})
	}
	if keys := m.Keys(); len(keys) != 0 {
		t.Fatalf("bad input wrote %v", keys)
	}
	if _, err := ReadProgress(ctx, nil, ""); !errors.Is(err, ErrBadInput) {
		t.Fatalf("ReadProgress(nil) err %v", err)
	}
}

func TestServerDown(t *testing.T) {
	m, c := newMini(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "x\n"})
	m.Close()
	if _, err := ProcessLogs(context.Background(), c, dir, record, nil); err == nil {
		t.Fatal("no error with the server down")
	}
}

func TestLineReaderBoundedMemory(t *testing.T) {
	// A 20 MiB line: the reader fails once past the cap, without buffering the line whole.
	const max = 1 << 20
	huge := strings.NewReader(strings.Repeat("z", 20<<20) + "\nafter\n")
	lr := &lineReader{r: bufio.NewReaderSize(huge, readBufferSize), max: max}
	if _, _, _, err := lr.next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err %v; want ErrLineTooLong", err)
	}
	if c := cap(lr.buf); c > 2*(max+readBufferSize) {
		t.Fatalf("line buffer grew to %d bytes for a cap of %d", c, max)
	}
	if read := int64(20<<20+7) - int64(huge.Len()); read > max+2*readBufferSize {
		t.Fatalf("read %d bytes before giving up; cap %d", read, max)
	}
}

// TestBatchBytesBound: long lines commit early, so a batch's text (what the callback's queued
// commands hold until EXEC) stays under MaxBatchBytes plus one line, not BatchLines lines.
func TestBatchBytesBound(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		opt                     Options
		lines, lineBytes        int
		maxBatch, maxLine       int
		wantCommits, firstLines int
	}{
		// 10 lines of 1001 bytes reach 10000: commit; 100 lines make 10 batches.
		{"option", Options{MaxBatchBytes: 10000}, 100, 1000, 10000, defaultMaxLineBytes, 10, 10},
		// The defaults: 16 KiB lines, 8 MiB per batch is reached at line 512, before BatchLines 1000.
		{"default", Options{}, 1000, 16 << 10, 8 << 20, defaultMaxLineBytes, 2, 512},
		// A batch limit below the line length still commits one line per batch.
		{"tiny", Options{MaxBatchBytes: 1}, 5, 100, 1, defaultMaxLineBytes, 5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newMini(t)
			dir := t.TempDir()
			line := strings.Repeat("x", tc.lineBytes) + "\n"
			writeFiles(t, dir, map[string]string{"big.log": strings.Repeat(line, tc.lines)})
			var queued, lines int // since the last commit
			var batches []int
			opt := tc.opt
			opt.OnCommit = func(Result) {
				if queued >= tc.maxBatch+tc.maxLine+1 {
					t.Errorf("batch %d held %d bytes of lines; bound %d + one line", len(batches), queued, tc.maxBatch)
				}
				batches = append(batches, lines)
				queued, lines = 0, 0
			}
			count := func(ctx context.Context, pipe redis.Pipeliner, l Line) error {
				queued += len(l.Text) + 1
				lines++
				pipe.IncrBy(ctx, "bytes", int64(len(l.Text)+1))
				return nil
			}
			res, err := ProcessLogs(context.Background(), c, dir, count, &opt)
			if err != nil {
				t.Fatal(err)
			}
			total := int64(tc.lines * (tc.lineBytes + 1))
			if res.Commits != tc.wantCommits || len(batches) != tc.wantCommits || batches[0] != tc.firstLines ||
				res.Lines != int64(tc.lines) || res.Bytes != total {
				t.Fatalf("result %+v, lines per batch %v; want %d commits, %d lines in the first", res, batches, tc.wantCommits, tc.firstLines)
			}
			if n, _ := c.Get(context.Background(), "bytes").Int64(); n != total {
				t.Fatalf("callback counted %d bytes; want %d, each line once", n, total)
			}
		})
	}
}
