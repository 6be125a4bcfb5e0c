package uniquevisits

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

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
		sid := fmt.Sprintf("%032x", i/2) // a UUID without dashes; half of them repeats
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

// The durable mode's price: CountVisit of new visitors on a master with one replica, without and
// with a WAIT for the replica.
func BenchmarkCountVisitReplicated(b *testing.B) { benchmarkCountVisitReplicated(b, 0) }
func BenchmarkCountVisitDurable(b *testing.B)    { benchmarkCountVisitReplicated(b, 1) }

func benchmarkCountVisitReplicated(b *testing.B, replicas int) {
	r := redistest.RunReplicatedT(b, nil)
	ctx := context.Background()
	if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
		b.Fatal(err)
	}
	counter := mustOnClient(b, r.Master.Client(b), &Options{Now: fixedClock(day), Durable: Durability{Replicas: replicas, Timeout: 5 * time.Second}})
	rnd := rand.New(rand.NewPCG(1, 1))
	for b.Loop() {
		if _, err := counter.CountVisit(ctx, randomSID(rnd)); err != nil {
			b.Fatal(err)
		}
	}
}
