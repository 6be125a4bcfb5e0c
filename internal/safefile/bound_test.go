package safefile

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// A file that passes for regular but blocks on read (/proc/kmsg, readable by root) ends with ctx.
// Without such a file here, a pipe stands in: it is what the poller interrupts in the same way.
func TestBoundEndsABlockedRead(t *testing.T) {
	for _, cancelled := range []bool{false, true} {
		r, w, err := os.Pipe() // one each: a finished round's AfterFunc may still touch its pipe
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if cancelled {
			cancel()
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
		}
		done := make(chan error, 1)
		go func() { _, err := readAll(ctx, r, "pipe", 1<<20); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ctx.Err()) || ctx.Err() == nil {
				t.Fatalf("cancelled=%v: %v; want an error matching %v", cancelled, err, ctx.Err())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("cancelled=%v: the read did not end with ctx", cancelled)
		}
		cancel()
	}
	if f, err := os.Open("/proc/kmsg"); err == nil { // root only
		f.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := ReadFile(ctx, "/proc/kmsg", 1<<20); done <- err }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("ReadFile(/proc/kmsg) did not end with ctx")
		}
	}
}
