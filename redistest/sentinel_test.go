package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

func TestSentinelFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound: the test waits for a condition
	defer cancel()
	r := redistest.RunReplicatedT(t, nil)
	s := redistest.RunSentinelT(t, r.Master, nil)
	if got, err := redistest.SentinelMaster(ctx, s, "mymaster"); err != nil || got != r.Master.Addr() {
		t.Fatalf("sentinel master = %q, %v; want %s", got, err, r.Master.Addr())
	}
	if err := r.Master.Kill(); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := redistest.SentinelMaster(ctx, s, "mymaster")
		if err == nil && got == r.Replica.Addr() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sentinel did not promote the replica: %q, %v", got, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
