package sync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

// TestReturnsByDeadline is a regression test: the token cleanup of WaitForSync and WaitReplicas had
// 2 s of its own after the deadline, so with a master that stopped answering they returned 2 s
// late. They now stop waiting a little before the deadline and clean up in the time kept. The bound
// checked is loose (the deadline plus 1 s) for a loaded machine; the bug overran by 2 s.
func TestReturnsByDeadline(t *testing.T) {
	const d = time.Second
	const slack = time.Second
	r := redistest.RunReplicatedT(t, nil)
	m, rc := r.Master.Client(t), r.Replica.Client(t)

	// The replica does not answer, the master does: the wait ends by the deadline and the token is
	// removed from the master all the same.
	if err := r.Replica.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := WaitForSync(context.Background(), m, rc, &Options{Timeout: d})
	if elapsed := time.Since(start); elapsed > d+slack {
		t.Errorf("WaitForSync with the replica paused returned after %v; deadline %v", elapsed, d)
	}
	if !errors.Is(err, ErrNotSynced) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrCleanup) {
		t.Errorf("err %v; want ErrNotSynced at the deadline, token removed", err)
	}
	if got := tokens(t, m); len(got) != 0 {
		t.Errorf("token left: %v", got)
	}
	if err := r.Replica.Resume(); err != nil {
		t.Fatal(err)
	}

	// The master does not answer: the calls fail by the deadline, on ctx or on Options.Timeout.
	if err := r.Master.Pause(); err != nil {
		t.Fatal(err)
	}
	defer r.Master.Resume()
	for _, tc := range []struct {
		name string
		call func(context.Context, *Options) error
	}{
		{"WaitForSync", func(ctx context.Context, o *Options) error { _, err := WaitForSync(ctx, m, rc, o); return err }},
		{"WaitReplicas", func(ctx context.Context, o *Options) error { _, err := WaitReplicas(ctx, m, o); return err }},
	} {
		for _, own := range []bool{false, true} {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			opt := &Options{}
			if own {
				cancel()
				ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
				opt.Timeout = d
			}
			start := time.Now()
			err := tc.call(ctx, opt)
			elapsed := time.Since(start)
			cancel()
			if err == nil || elapsed > d+slack {
				t.Errorf("%s (deadline on Options.Timeout: %v) with the master paused: %v after %v; want an error by %v",
					tc.name, own, err, elapsed, d)
			}
		}
	}
}
