package tokens_test

import (
	"context"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/tokens"
)

// The book's Table 4.4 rows for the local machine, one call at a time as in listing 4.9. The
// benchmarks program adds the emulated networks.
func benchmarkUpdate(b *testing.B, f updateFunc, unix bool) {
	srv := redistest.RunT(b, &redistest.Options{Unix: unix})
	c := realClient(b, srv, 1)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f(ctx, c, "token", "user", "item"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateTokenTCP(b *testing.B) { benchmarkUpdate(b, tokens.UpdateToken, false) }
func BenchmarkUpdateTokenPipelineTCP(b *testing.B) {
	benchmarkUpdate(b, tokens.UpdateTokenPipeline, false)
}
func BenchmarkUpdateTokenUnix(b *testing.B) { benchmarkUpdate(b, tokens.UpdateToken, true) }
func BenchmarkUpdateTokenPipelineUnix(b *testing.B) {
	benchmarkUpdate(b, tokens.UpdateTokenPipeline, true)
}

// The durable mode's price: the same updates on a master with one replica, without and with a WAIT
// for the replica (on the noisy 2-core machine both servers share the CPUs with the client).
func benchmarkReplicated(b *testing.B, pipeline bool, replicas int) {
	r := redistest.RunReplicatedT(b, nil)
	ctx := context.Background()
	if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
		b.Fatal(err)
	}
	c := realClient(b, r.Master, 1)
	u := newUpdater(&tokens.Options{Durable: tokens.Durability{Replicas: replicas, Timeout: 5 * time.Second}})
	f := u.UpdateToken
	if pipeline {
		f = u.UpdateTokenPipeline
	}
	for b.Loop() {
		if _, err := f(ctx, c, "token", "user", "item"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateTokenReplicated(b *testing.B)         { benchmarkReplicated(b, false, 0) }
func BenchmarkUpdateTokenDurable(b *testing.B)            { benchmarkReplicated(b, false, 1) }
func BenchmarkUpdateTokenPipelineReplicated(b *testing.B) { benchmarkReplicated(b, true, 0) }
func BenchmarkUpdateTokenPipelineDurable(b *testing.B)    { benchmarkReplicated(b, true, 1) }
