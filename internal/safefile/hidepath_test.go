package safefile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// HidePath keeps what was wrong and drops the path, from the message and from the chain, for every
// error Open, ReadFile and ReadDir return; other errors pass through unchanged.
func TestHidePath(t *testing.T) {
	const secret = "Qx7Zk9WTok"
	dir, paths := special(t)
	sub := filepath.Join(dir, secret)
	must(t, os.Mkdir(sub, 0o700))
	big := filepath.Join(sub, "big")
	must(t, os.WriteFile(big, make([]byte, 100), 0o600))
	for name, p := range paths {
		renamed := filepath.Join(sub, name)
		must(t, os.Symlink(p, renamed))
		paths[name] = renamed
	}
	paths["missing"] = filepath.Join(sub, "missing")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := map[string]error{}
	for name, p := range paths {
		_, errs["open "+name] = Open(p)
		_, errs["opendir "+name] = OpenDir(p)
	}
	_, errs["too large"] = ReadFile(context.Background(), big, 10)
	_, errs["ended"] = ReadFile(ctx, big, 1000)
	errs["dir too large"] = ReadDir(context.Background(), sub, DirLimits{1, 1000, 1000}, func(string, []byte) error { return nil })
	errs["dir file too large"] = ReadDir(context.Background(), sub, DirLimits{100, 10, 1000}, func(string, []byte) error { return nil })
	for what, err := range errs {
		if err == nil {
			continue // an entry that is a directory opens with OpenDir
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v (%T); want an *Error", what, err, err)
		}
		h := HidePath(err)
		if h.Error() != e.Reason() || h.Error() == "" {
			t.Errorf("%s: HidePath says %q; want the Reason %q", what, h, e.Reason())
		}
		for x := h; x != nil; x = errors.Unwrap(x) {
			if strings.Contains(x.Error(), secret) {
				t.Errorf("%s: %q in the chain of HidePath(%v) shows the path", what, x, err)
			}
		}
		if errors.As(h, &e) {
			t.Errorf("%s: HidePath's chain still holds the *Error, and its path", what)
		}
		for _, target := range []error{ErrNotRegular, ErrNotDir, ErrTooLarge, fs.ErrNotExist, context.Canceled} {
			if errors.Is(err, target) != errors.Is(h, target) {
				t.Errorf("%s: errors.Is(%v) = %v before HidePath, %v after", what, target, errors.Is(err, target), errors.Is(h, target))
			}
		}
	}
	if plain := errors.New("x"); HidePath(plain) != plain || HidePath(nil) != nil {
		t.Errorf("HidePath changed an error that is not an *Error")
	}
}

// A dangling link's error names the path once: its Err holds no copy of it.
func TestDanglingLinkReason(t *testing.T) {
	_, paths := special(t)
	_, err := Open(paths["dangling"])
	var e *Error
	if !errors.As(err, &e) || strings.Contains(e.Reason(), "nowhere") || strings.Count(err.Error(), paths["dangling"]) != 1 ||
		!errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Open(dangling) = %v; want the path once, and ErrNotRegular and fs.ErrNotExist", err)
	}
}
