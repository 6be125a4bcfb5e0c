package redistest

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestInstalled(t *testing.T) {
	if err := Installed(); err != nil {
		t.Fatalf("Installed() = %v; make test installs redis-server", err)
	}
	t.Setenv("RIA_REDIS_SERVER", filepath.Join(t.TempDir(), "no-such-redis-server"))
	err := Installed()
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Installed() with a missing binary = %v, want ErrNotInstalled", err)
	}
	// Run uses the same lookup, so it fails the same way before starting anything.
	if _, err := Run(context.Background(), nil); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Run with a missing binary = %v, want ErrNotInstalled", err)
	}
}
