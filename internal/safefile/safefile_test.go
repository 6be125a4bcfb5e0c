package safefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// special makes one of each kind of non-regular file in a fresh directory.
func special(t *testing.T) (dir string, paths map[string]string) {
	t.Helper()
	dir = t.TempDir()
	paths = map[string]string{
		"fifo":     filepath.Join(dir, "fifo"),
		"dir":      filepath.Join(dir, "sub"),
		"dangling": filepath.Join(dir, "dangling"),
		"zero":     filepath.Join(dir, "zero"),
		"devlink":  filepath.Join(dir, "devnull"),
		"sock":     filepath.Join(dir, "sock"),
		"fifolink": filepath.Join(dir, "fifolink"),
	}
	must(t, syscall.Mkfifo(paths["fifo"], 0o600))
	must(t, os.Mkdir(paths["dir"], 0o700))
	must(t, os.Symlink(filepath.Join(dir, "nowhere"), paths["dangling"]))
	must(t, os.Symlink("/dev/zero", paths["zero"]))
	must(t, os.Symlink("/dev/null", paths["devlink"]))
	must(t, os.Symlink(paths["fifo"], paths["fifolink"]))
	l, err := net.Listen("unix", paths["sock"])
	must(t, err)
	t.Cleanup(func() { l.Close() })
	return dir, paths
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Every kind of non-regular file is refused, without blocking, by an error naming the path and
// saying what it is.
func TestOpenRefusesNonRegular(t *testing.T) {
	_, paths := special(t)
	paths["dev zero"] = "/dev/zero"
	paths["dev dir"] = "/dev"
	want := map[string]string{"fifo": "named pipe", "fifolink": "named pipe", "dir": "directory", "dev dir": "directory",
		"dangling": "dangling symbolic link", "zero": "character device", "dev zero": "character device",
		"devlink": "character device", "sock": "socket"}
	for name, p := range paths {
		t.Run(name, func(t *testing.T) {
			f, err := Open(p)
			if err == nil {
				f.Close()
				t.Fatalf("Open(%s) succeeded", p)
			}
			var e *Error
			if !errors.As(err, &e) || e.Path != p || !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), want[name]) {
				t.Fatalf("Open(%s) = %v; want an *Error naming it, ErrNotRegular, saying %q", p, err, want[name])
			}
			if _, err := ReadFile(context.Background(), p, 1<<20); !errors.Is(err, ErrNotRegular) {
				t.Fatalf("ReadFile(%s) = %v; want ErrNotRegular", p, err)
			}
		})
	}
}

func TestReadFileBounds(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 99, 100, 101, chunk, chunk + 1, 3*chunk + 7} {
		p := filepath.Join(dir, fmt.Sprint(n))
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i)
		}
		must(t, os.WriteFile(p, data, 0o600))
		for _, max := range []int64{0, 100, chunk, 1 << 20} {
			got, err := ReadFile(context.Background(), p, max)
			switch {
			case int64(n) > max && !errors.Is(err, ErrTooLarge):
				t.Fatalf("%d bytes, max %d: %v; want ErrTooLarge", n, max, err)
			case int64(n) <= max && (err != nil || string(got) != string(data)):
				t.Fatalf("%d bytes, max %d: got %d bytes, %v", n, max, len(got), err)
			}
		}
	}
	if _, err := ReadFile(context.Background(), filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v; want fs.ErrNotExist", err)
	}
}

func TestReadFileEndedContext(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	must(t, os.WriteFile(p, []byte("x"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadFile(ctx, p, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadFile with a cancelled ctx: %v; want context.Canceled", err)
	}
	if err := ReadDir(ctx, filepath.Dir(p), DirLimits{10, 10, 10}, func(string, []byte) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadDir with a cancelled ctx: %v; want context.Canceled", err)
	}
}

// ReadDir reads the regular files only (links followed), and /dev gives nothing without blocking.
func TestReadDirSkipsNonRegular(t *testing.T) {
	dir, _ := special(t)
	must(t, os.WriteFile(filepath.Join(dir, "a.pem"), []byte("A"), 0o600))
	must(t, os.Symlink(filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.0")))
	var got []string
	err := ReadDir(context.Background(), dir, DirLimits{100, 10, 100}, func(name string, data []byte) error {
		got = append(got, name+"="+string(data))
		return nil
	})
	if err != nil || strings.Join(got, ",") != "a.pem=A,b.0=A" {
		t.Fatalf("ReadDir = %v, %v; want a.pem=A,b.0=A", got, err)
	}
	err = ReadDir(context.Background(), "/dev", DirLimits{1 << 16, 1 << 20, 1 << 24}, func(name string, data []byte) error {
		return fmt.Errorf("read /dev/%s", name)
	})
	if err != nil {
		t.Fatalf("ReadDir(/dev) = %v; want every entry skipped", err)
	}
	if err := ReadDir(context.Background(), filepath.Join(dir, "a.pem"), DirLimits{1, 1, 1}, nil); !errors.Is(err, ErrNotDir) {
		t.Fatalf("ReadDir of a file: %v; want ErrNotDir", err)
	}
}

func TestReadDirLimits(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte("12345"), 0o600))
	}
	nop := func(string, []byte) error { return nil }
	for _, tc := range []struct {
		lim DirLimits
		ok  bool
	}{
		{DirLimits{5, 5, 25}, true},
		{DirLimits{4, 5, 25}, false},
		{DirLimits{5, 4, 25}, false},
		{DirLimits{5, 5, 24}, false},
	} {
		err := ReadDir(context.Background(), dir, tc.lim, nop)
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrTooLarge)) {
			t.Fatalf("limits %+v: %v; want ok=%v (else ErrTooLarge)", tc.lim, err, tc.ok)
		}
	}
}

// Property: over random mixes of entries, Open accepts exactly the regular files (and links to
// them) and ReadDir reads exactly those; neither ever blocks (a FIFO would hang the test).
func TestPropertyRandomDirectories(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 1))
		dir := t.TempDir()
		want := map[string]string{}
		names := []string{}
		for i := range 1 + r.IntN(12) {
			name := fmt.Sprintf("e%02d", i)
			p := filepath.Join(dir, name)
			names = append(names, name)
			switch r.IntN(7) {
			case 0, 1:
				must(t, os.WriteFile(p, []byte(name), 0o600))
				want[name] = name
			case 2:
				must(t, os.Mkdir(p, 0o700))
			case 3:
				must(t, syscall.Mkfifo(p, 0o600))
			case 4:
				must(t, os.Symlink("/dev/zero", p))
			case 5:
				must(t, os.Symlink(filepath.Join(dir, "missing"), p))
			case 6: // a link to an earlier entry, whatever it is
				if i == 0 {
					must(t, os.Symlink("/dev", p))
					break
				}
				target := names[r.IntN(i)]
				must(t, os.Symlink(target, p))
				if v, ok := want[target]; ok {
					want[name] = v
				}
			}
		}
		got := map[string]string{}
		err := ReadDir(context.Background(), dir, DirLimits{100, 1 << 10, 1 << 20}, func(name string, data []byte) error {
			got[name] = string(data)
			return nil
		})
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: ReadDir = %v, %v; want %v", seed, got, err, want)
		}
		for _, name := range names {
			f, err := Open(filepath.Join(dir, name))
			_, regular := want[name]
			if f != nil {
				f.Close()
			}
			if regular != (err == nil) || (err != nil && !errors.Is(err, ErrNotRegular)) {
				t.Fatalf("seed %d: Open(%s) = %v; regular %v", seed, name, err, regular)
			}
		}
	}
}

// OpenDir refuses, at once, anything that is not a directory, and follows links to one.
func TestOpenDir(t *testing.T) {
	dir, paths := special(t)
	if err := os.Symlink(dir, filepath.Join(dir, "self")); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{dir, filepath.Join(dir, "self"), paths["dir"], "/dev"} {
		d, err := OpenDir(ok)
		if err != nil {
			t.Fatalf("OpenDir(%s): %v", ok, err)
		}
		d.Close()
	}
	for name, p := range paths {
		if name == "dir" {
			continue
		}
		if d, err := OpenDir(p); err == nil {
			d.Close()
			t.Fatalf("OpenDir(%s) succeeded", p)
		} else if e := (*Error)(nil); !errors.As(err, &e) || e.Path != p {
			t.Fatalf("OpenDir(%s) = %v; want an *Error naming it", p, err)
		}
	}
}
