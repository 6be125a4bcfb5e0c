package uniquevisits

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// BenchmarkCountVisit counts visits on one server (chapter 9), half of them repeats, on miniredis and
// on a real redis-server; the HyperLogLog variant for comparison.
func BenchmarkCountVisitMiniredis(b *testing.B) { _, c := mini(b); benchmarkCountVisit(b, c, false) }
func BenchmarkCountVisitReal(b *testing.B) {
	benchmarkCountVisit(b, redistest.RunT(b, nil).Client(b), false)
}
func BenchmarkCountVisitHLLReal(b *testing.B) {
	benchmarkCountVisit(b, redistest.RunT(b, nil).Client(b), true)
}

func benchmarkCountVisit(b *testing.B, c redis.Cmdable, hll bool) {
	ctx := context.Background()
	counter := mustOnClient(b, c, &Options{Now: fixedClock(day)})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sid := fmt.Sprintf("%015x", i/2)
		var err error
		if hll {
			_, err = counter.CountVisitHLL(ctx, sid)
		} else {
			_, err = counter.CountVisit(ctx, sid)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
