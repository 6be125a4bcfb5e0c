// Package safefile reads files named by configuration or found in a directory without ever blocking
// on them: a named pipe, a device or a socket is refused before anything reads it, and every read is
// bounded and ends when its context does.
//
// os.Open of a FIFO blocks until a writer appears, and reading /dev/zero never ends, so a path that
// names one of them would hang or exhaust a caller that trusts it to be a file. Open checks the type
// with stat (which never opens the file), opens with O_NONBLOCK, then checks again with fstat on the
// descriptor it got, so a file swapped in between is refused too.
package safefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ria-go/ria/internal/noretry"
)

var (
	// ErrNotRegular: the path is not a regular file (a directory, FIFO, socket, device, dangling
	// symbolic link, ...).
	ErrNotRegular = errors.New("not a regular file")
	// ErrNotDir: the path given to ReadDir is not a directory.
	ErrNotDir = errors.New("not a directory")
	// ErrTooLarge: the file, or the directory's entries or bytes, exceed the caller's limit.
	ErrTooLarge = errors.New("over the size limit")
)

// Error names the file and what was wrong with it. Err wraps ErrNotRegular, ErrNotDir, ErrTooLarge,
// the context's error, or the operating system's (so errors.Is(err, fs.ErrNotExist) works).
type Error struct {
	Path string
	What string // what the path is ("named pipe (FIFO)", "dangling symbolic link", ...), or the limit passed
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Reason() }

func (e *Error) Unwrap() error { return e.Err }

// Reason is the message without the path: what was wrong with the file.
func (e *Error) Reason() string {
	if e.What == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v: %s", e.Err, e.What)
}

// HidePath returns err with no path in its message or chain, for a caller whose paths come from
// configuration that errors must not quote (a path may hold anything a config's author pasted). An
// error holding an *Error becomes that Error's Reason, unwrapping to its Err (ErrNotRegular,
// fs.ErrNotExist, ctx.Err(), ...); any other error is returned as is.
func HidePath(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	return &pathless{e.Reason(), e.Err}
}

type pathless struct {
	msg string
	err error
}

func (p *pathless) Error() string { return p.msg }
func (p *pathless) Unwrap() error { return p.err }

// Describe names the type of file mode m, as the errors do.
func Describe(m fs.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "regular file"
	case t&fs.ModeDir != 0:
		return "directory"
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	}
	return "irregular file"
}

// Stat is os.Stat (following symbolic links, opening nothing), except that a dangling link is an
// *Error saying so, with ErrNotRegular and the not-exist error both matching.
func Stat(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err == nil {
		return fi, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		if li, lerr := os.Lstat(path); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
			return nil, &Error{Path: path, What: "dangling symbolic link", Err: fmt.Errorf("%w: %w", ErrNotRegular, unwrapPath(err))}
		}
	}
	return nil, &Error{Path: path, Err: unwrapPath(err)}
}

// unwrapPath drops *fs.PathError's own copy of the path, which Error already shows.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Open opens path for reading if it is a regular file (following symbolic links), without blocking
// whatever it is. Anything else is an *Error wrapping ErrNotRegular that says what the path is.
func Open(path string) (*os.File, error) {
	fi, err := Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Path: path, What: Describe(fi.Mode()), Err: ErrNotRegular}
	}
	// O_NONBLOCK: if the path was swapped for a FIFO since Stat, open still returns at once.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, &Error{Path: path, Err: unwrapPath(err)}
	}
	fi, err = f.Stat() // fstat: the file actually opened
	if err != nil {
		f.Close()
		return nil, &Error{Path: path, Err: unwrapPath(err)}
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &Error{Path: path, What: Describe(fi.Mode()), Err: ErrNotRegular}
	}
	return f, nil
}

// OpenDir opens the directory at path (following symbolic links) without blocking, whatever path is:
// anything but a directory is an *Error wrapping ErrNotDir that says what it is. os.ReadDir would
// block on a FIFO.
func OpenDir(path string) (*os.File, error) {
	fi, err := Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &Error{Path: path, What: Describe(fi.Mode()), Err: ErrNotDir}
	}
	// O_DIRECTORY: a FIFO swapped in since Stat fails the open instead of blocking it.
	d, err := os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, &Error{Path: path, Err: unwrapPath(err)}
	}
	if fi, err = d.Stat(); err != nil || !fi.IsDir() {
		d.Close()
		if err != nil {
			return nil, &Error{Path: path, Err: unwrapPath(err)}
		}
		return nil, &Error{Path: path, What: Describe(fi.Mode()), Err: ErrNotDir}
	}
	return d, nil
}

// chunk is how much ReadFile reads between checks of its context.
const chunk = 64 << 10

// ReadFile reads the regular file at path, refusing it with ErrTooLarge once it passes max bytes.
// It reads in chunks and stops when ctx ends, returning an error that wraps ctx.Err().
func ReadFile(ctx context.Context, path string, max int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(ctx, f, path, max)
}

// Bound makes f's reads end when ctx does, for a file the poller can interrupt: one that says it is
// regular yet blocks on read (/proc/kmsg). A plain file on disk never blocks and ignores it. Call the
// returned stop once done reading.
func Bound(ctx context.Context, f *os.File) (stop func()) {
	if d, ok := ctx.Deadline(); ok {
		_ = f.SetReadDeadline(d) // os.ErrNoDeadline for a file the poller does not handle
	}
	cancel := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	return func() { cancel() }
}

func readAll(ctx context.Context, f *os.File, path string, max int64) ([]byte, error) {
	defer Bound(ctx, f)()
	var buf []byte
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size() <= max {
		buf = make([]byte, 0, fi.Size()+1) // +1: EOF is seen without growing
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, &Error{Path: path, Err: err}
		}
		if int64(len(buf)) > max {
			return nil, &Error{Path: path, What: fmt.Sprintf("larger than %d bytes", max), Err: ErrTooLarge}
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, chunk)
		}
		// Never read past max+1 bytes: enough to tell the file is too large.
		end := min(int64(cap(buf)), max+1, int64(len(buf))+chunk)
		n, err := f.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, &Error{Path: path, Err: noretry.CtxErr(ctx, unwrapPath(err))}
		}
	}
}

// DirLimits bound ReadDir. A zero field means no files at all may be read, so set all three.
type DirLimits struct {
	MaxEntries   int   // entries in the directory, whatever their type
	MaxFileBytes int64 // bytes of one file
	MaxBytes     int64 // bytes of all the files read
}

// ReadDir calls fn, in name order, with the name and contents of each regular file in dir (a
// symbolic link counts as what it points to). Other entries (directories, FIFOs, devices, sockets,
// dangling links) are skipped without being opened, and so are files that cannot be opened. Passing
// a limit is an *Error wrapping ErrTooLarge; so is ctx ending, wrapping ctx.Err(). An error from fn
// stops the walk and is returned as is.
func ReadDir(ctx context.Context, dir string, lim DirLimits, fn func(name string, data []byte) error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Path: dir, Err: err}
	}
	d, err := OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	ents, err := d.ReadDir(lim.MaxEntries + 1)
	if err != nil && err != io.EOF {
		return &Error{Path: dir, Err: unwrapPath(err)}
	}
	if len(ents) > lim.MaxEntries {
		return &Error{Path: dir, What: fmt.Sprintf("more than %d entries", lim.MaxEntries), Err: ErrTooLarge}
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var total int64
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return &Error{Path: dir, Err: err}
		}
		if t := ent.Type(); t != 0 && t&fs.ModeSymlink == 0 {
			continue // not a file and not a link: never opened
		}
		path := filepath.Join(dir, ent.Name())
		f, err := Open(path) // a link to a non-regular file is refused here, before opening
		if err != nil {
			continue
		}
		data, err := readAll(ctx, f, path, min(lim.MaxFileBytes, lim.MaxBytes-total))
		f.Close()
		if err != nil {
			if errors.Is(err, ErrTooLarge) && lim.MaxBytes-total < lim.MaxFileBytes {
				return &Error{Path: dir, What: fmt.Sprintf("files larger than %d bytes in all", lim.MaxBytes), Err: ErrTooLarge}
			}
			if errors.Is(err, ErrTooLarge) || ctx.Err() != nil {
				return err
			}
			continue // unreadable: skipped, like the entries that are not files
		}
		total += int64(len(data))
		if err := fn(ent.Name(), data); err != nil {
			return err
		}
	}
	return nil
}
