package sync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

// TestPausedServerGivesDocumentedErrors: with a master that does not answer (SIGSTOP), every public
// call fails with the sentinel its doc promises for a deadline, wrapping context.DeadlineExceeded,
// each time: go-redis reports the socket's deadline (ctx's) as "i/o timeout", which came back bare
// from WaitForSync's token write, EnableAOF's first INFO and ReplicaOf's REPLICAOF. The same holds
// whether the deadline is ctx's or Options.Timeout's, and a cancelled ctx gives context.Canceled.
func TestPausedServerGivesDocumentedErrors(t *testing.T) {
	r := redistest.RunReplicatedT(t, nil)
	other := redistest.RunT(t, nil)
	m, rc, oc := r.Master.Client(t), r.Replica.Client(t), other.Client(t)
	if err := r.Master.Pause(); err != nil {
		t.Fatal(err)
	}
	defer r.Master.Resume()
	addr := r.Master.Addr()

	for _, tc := range []struct {
		name     string
		sentinel error // nil: the call documents none, ctx's error is enough
		call     func(context.Context, *Options) error
	}{
		{"WaitForSync", ErrNotSynced, func(ctx context.Context, o *Options) error { _, err := WaitForSync(ctx, m, rc, o); return err }},
		{"WaitReplicas", ErrTooFewReplicas, func(ctx context.Context, o *Options) error { _, err := WaitReplicas(ctx, m, o); return err }},
		{"BGSave", ErrSaveFailed, func(ctx context.Context, o *Options) error { _, err := BGSave(ctx, m, o); return err }},
		{"EnableAOF", ErrAOFFailed, func(ctx context.Context, o *Options) error { _, err := EnableAOF(ctx, m, o); return err }},
		{"ReplicaOf (server paused)", ErrNotSynced, func(ctx context.Context, o *Options) error { _, err := ReplicaOf(ctx, m, other.Addr(), o); return err }},
		{"ReplicaOf (its new master paused)", ErrNotSynced, func(ctx context.Context, o *Options) error { _, err := ReplicaOf(ctx, oc, addr, o); return err }},
		{"Promote", nil, func(ctx context.Context, o *Options) error { _, err := Promote(ctx, m, o); return err }},
		{"Replication", nil, func(ctx context.Context, o *Options) error { _, err := Replication(ctx, m); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := 200 * time.Millisecond
			if tc.name == "WaitReplicas" {
				d = 500 * time.Millisecond // rounds end 150 ms early: leave it one that reaches the master
			}
			for rep := 0; rep < 3; rep++ {
				for _, own := range []bool{false, true} {
					if own && tc.name == "Replication" {
						continue // no Options
					}
					ctx, cancel := context.WithTimeout(context.Background(), d)
					opt := &Options{}
					if own {
						cancel()
						ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
						opt.Timeout = d
					}
					err := tc.call(ctx, opt)
					cancel()
					if !errors.Is(err, context.DeadlineExceeded) || tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
						t.Errorf("try %d (deadline on Options.Timeout: %v): %v; want %v wrapping context.DeadlineExceeded", rep, own, err, tc.sentinel)
					}
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := tc.call(ctx, &Options{Timeout: d}); !errors.Is(err, context.Canceled) || tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("cancelled ctx: %v; want %v wrapping context.Canceled", err, tc.sentinel)
			}
		})
	}
}
