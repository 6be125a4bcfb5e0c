package redistest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// SharedCluster is one Redis Cluster for a whole test binary: started on the first test that asks,
// emptied for each one after, closed when the tests end (Run, from TestMain). Starting a cluster of 3 masters and 3
// replicas takes seconds; most tests need an empty one, not a new one. Tests that share it must not
// run in parallel (each flushes it). The zero value starts RunCluster's defaults.
//
//	var shared redistest.SharedCluster
//
//	func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
type SharedCluster struct {
	// Options are the cluster's, read on the first Cluster call.
	Options *ClusterOptions

	once sync.Once
	c    *Cluster
	err  error
}

// Cluster starts the cluster on the first call; on every call it flushes every master and waits until
// the cluster is healthy (WaitHealthy: its replicas acknowledge WAIT), so a test that left a replica
// paused and resumed it, or a node restarted, hands on a working cluster. It fails t when the cluster
// did not start, now or on an earlier call.
func (s *SharedCluster) Cluster(t testing.TB) *Cluster {
	t.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.c, s.err = RunCluster(ctx, s.Options)
	})
	if s.err != nil {
		t.Fatalf("redistest: shared cluster: %v", s.err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	masters, err := s.c.Masters(ctx)
	if err != nil {
		t.Fatalf("redistest: shared cluster: %v", err)
	}
	for _, m := range masters {
		cl := m.NewClient()
		err := cl.FlushAll(ctx).Err()
		cl.Close()
		if err != nil {
			t.Fatalf("redistest: shared cluster: FLUSHALL on %s: %v", m.Addr(), err)
		}
	}
	if err := s.c.WaitHealthy(ctx); err != nil {
		t.Fatalf("redistest: shared cluster: %v", err)
	}
	return s.c
}

// Close closes the cluster if it was started.
func (s *SharedCluster) Close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

// Run runs the test binary's tests and closes the cluster; it returns m.Run's exit code.
func (s *SharedCluster) Run(m *testing.M) int {
	defer s.Close()
	return m.Run()
}
