package tokens_test

import (
	"context"
	"testing"

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
