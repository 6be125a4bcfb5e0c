package logs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/safefile"
)

// runBounded runs ProcessLogs under ctx and fails the test, instead of hanging it, if the call does
// not return once ctx has ended (an open blocked on a FIFO ignores ctx). The grace period is a
// watchdog against a hang, not a measure of speed.
func runBounded(t *testing.T, ctx context.Context, c redis.UniversalClient, dir string, opt *Options) (Result, error) {
	t.Helper()
	type out struct {
		res Result
		err error
	}
	ch := make(chan out, 1)
	go func() {
		res, err := ProcessLogs(ctx, c, dir, record, opt)
		ch <- out{res, err}
	}()
	select {
	case o := <-ch:
		return o.res, o.err
	case <-ctx.Done():
	}
	select {
	case o := <-ch:
		return o.res, o.err
	case <-time.After(20 * time.Second):
		t.Fatalf("ProcessLogs(%s) did not return after its ctx ended", dir)
		return Result{}, nil
	}
}

// unblockFIFOs opens every FIFO under dir for writing when the test ends, so that a reader a
// failing test left blocked in open wakes up.
func unblockFIFOs(t *testing.T, dir string) {
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeNamedPipe != 0 {
				if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			}
			return nil
		})
	})
}

func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Each kind of entry that is not a regular file: "a" sorts before it and "c" after. A bad one stops
// the run at its turn with a FileError naming it and saying what it is, a, not c, committed; a link
// to a directory is skipped like a directory; a link to a file is read as the file. Nothing blocks.
func TestSpecialFiles(t *testing.T) {
	outside := t.TempDir()
	fifo := filepath.Join(outside, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	unblockFIFOs(t, outside)
	if err := os.WriteFile(filepath.Join(outside, "file"), []byte("linked\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		make func(path string) error
		say  string // "": processed or skipped, no error
		want []string
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "named pipe", nil},
		{"link to fifo", func(p string) error { return os.Symlink(fifo, p) }, "named pipe", nil},
		{"dangling link", func(p string) error { return os.Symlink(filepath.Join(outside, "nowhere"), p) }, "dangling symbolic link", nil},
		{"link to dev zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "character device", nil},
		{"socket", func(p string) error { _, err := net.Listen("unix", p); return err }, "socket", nil},
		{"link to dir", func(p string) error { return os.Symlink(outside, p) }, "", []string{"a:0:1", "c:0:3"}},
		{"dir", func(p string) error { return os.Mkdir(p, 0o700) }, "", []string{"a:0:1", "c:0:3"}},
		{"link to file", func(p string) error { return os.Symlink(filepath.Join(outside, "file"), p) }, "", []string{"a:0:1", "b:0:linked", "c:0:3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newMini(t)
			dir, err := os.MkdirTemp("", "lg") // short: a socket path has a length limit
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			unblockFIFOs(t, dir)
			writeFiles(t, dir, map[string]string{"a": "1\n", "c": "3\n"})
			if err := tc.make(filepath.Join(dir, "b")); err != nil {
				t.Fatal(err)
			}
			for run := range 2 { // a second run stops at the same place, progress unchanged
				res, err := runBounded(t, shortCtx(t), c, dir, nil)
				if tc.say == "" {
					if err != nil {
						t.Fatalf("run %d: %v; want no error", run, err)
					}
					checkRecords(t, c, tc.want)
					continue
				}
				var fe *FileError
				if !errors.As(err, &fe) || fe.File != "b" || !errors.Is(err, ErrUnreadable) ||
					!errors.Is(err, safefile.ErrNotRegular) || !strings.Contains(err.Error(), tc.say) {
					t.Fatalf("run %d: err %v; want a FileError naming b, ErrUnreadable, saying %q", run, err, tc.say)
				}
				if p := progress(t, c, ""); p != (Progress{true, "a", 2}) || res.File != "a" || res.Position != 2 {
					t.Fatalf("run %d: progress %+v, result %+v; want a at 2", run, p, res)
				}
				checkRecords(t, c, []string{"a:0:1"})
			}
		})
	}
}

// The directory itself: a FIFO, a file or a dangling link is ErrUnreadable naming it, at once; a
// link to a directory is followed.
func TestDirectoryNotADirectory(t *testing.T) {
	_, c := newMini(t)
	base := t.TempDir()
	unblockFIFOs(t, base)
	logDir := filepath.Join(base, "logs")
	if err := os.Mkdir(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, logDir, map[string]string{"a": "1\n"})
	fifo, file, dangling, link := filepath.Join(base, "fifo"), filepath.Join(base, "file"), filepath.Join(base, "dangling"), filepath.Join(base, "link")
	for _, err := range []error{syscall.Mkfifo(fifo, 0o600), os.WriteFile(file, nil, 0o600),
		os.Symlink(filepath.Join(base, "nowhere"), dangling), os.Symlink(logDir, link)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{fifo, file, dangling} {
		_, err := runBounded(t, shortCtx(t), c, bad, nil)
		if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), bad) {
			t.Fatalf("directory %s: %v; want ErrUnreadable naming it", bad, err)
		}
	}
	if _, err := runBounded(t, shortCtx(t), c, link, nil); err != nil {
		t.Fatalf("directory through a link: %v", err)
	}
	checkRecords(t, c, []string{"a:0:1"})
}

// A bad entry sorting before the saved file is never reached: it fails nothing.
func TestSpecialFileBeforeSavedProgress(t *testing.T) {
	m, c := newMini(t)
	dir := t.TempDir()
	unblockFIFOs(t, dir)
	writeFiles(t, dir, map[string]string{"a": "1\n", "c": "3\n4\n"})
	if err := syscall.Mkfifo(filepath.Join(dir, "b"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Set("progress:file", "c")
	m.Set("progress:position", "2")
	if _, err := runBounded(t, shortCtx(t), c, dir, nil); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, c, []string{"c:2:4"})
}

// Property: over random directories mixing regular files, directories, links (to files, to
// directories, to /dev/zero, dangling) and FIFOs, ProcessLogs returns under a short ctx, processes
// exactly the regular files (a link counting as its target) in name order up to the first entry that
// is not one, stops there with a FileError naming it, and saves the progress of the last file it read.
func TestPropertyDirectoryContents(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 7))
		_, c := newMini(t)
		dir := t.TempDir()
		unblockFIFOs(t, dir)
		bodies := map[string]string{} // regular files and links to them, by name
		var names []string
		bad := map[string]bool{}
		for i := range 1 + r.IntN(10) {
			name := fmt.Sprintf("f%02d", i)
			if r.IntN(8) == 0 {
				name = "." + name // hidden: skipped whatever it is
			}
			p := filepath.Join(dir, name)
			var err error
			switch k := r.IntN(8); k {
			case 0, 1, 2:
				var b strings.Builder
				for j := range r.IntN(4) {
					fmt.Fprintf(&b, "%s-%d\n", name, j)
				}
				bodies[name] = b.String()
				err = os.WriteFile(p, []byte(bodies[name]), 0o600)
			case 3:
				err = os.Mkdir(p, 0o700)
			case 4:
				err = syscall.Mkfifo(p, 0o600)
				bad[name] = true
			case 5:
				err = os.Symlink("/dev/zero", p)
				bad[name] = true
			case 6:
				err = os.Symlink(filepath.Join(dir, "missing"), p)
				bad[name] = true
			case 7: // a link to an earlier entry, whatever it is
				if len(names) == 0 {
					err = os.Symlink(t.TempDir(), p)
					break
				}
				target := names[r.IntN(len(names))]
				err = os.Symlink(target, p)
				if body, ok := bodies[target]; ok {
					bodies[name] = body
				} else if bad[target] {
					bad[name] = true
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		slices.Sort(names)
		var want []string
		var wantProgress Progress
		stop := ""
		for _, n := range names {
			if strings.HasPrefix(n, ".") {
				continue
			}
			if bad[n] {
				stop = n
				break
			}
			if body, ok := bodies[n]; ok {
				want = append(want, wantRecords(n, body)...)
				wantProgress = Progress{true, n, int64(len(body))}
			}
		}
		res, err := runBounded(t, shortCtx(t), c, dir, &Options{BatchLines: 2})
		var fe *FileError
		switch {
		case stop == "" && err != nil:
			t.Fatalf("seed %d: %v; want no error", seed, err)
		case stop != "" && (!errors.As(err, &fe) || fe.File != stop || !errors.Is(err, ErrUnreadable)):
			t.Fatalf("seed %d: %v; want ErrUnreadable naming %s", seed, err, stop)
		}
		if got := recorded(t, c); !slices.Equal(got, want) {
			t.Fatalf("seed %d: records\n got %q\nwant %q", seed, got, want)
		}
		if p := progress(t, c, ""); p != wantProgress || res.File != p.File || res.Position != p.Position {
			t.Fatalf("seed %d: progress %+v, result %+v; want %+v", seed, p, res, wantProgress)
		}
	}
}

func wantRecords(name, body string) []string {
	return want(map[string]string{name: body}, name)
}
