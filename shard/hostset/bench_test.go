package hostset

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// The Map benchmarks read 100 keys spread over 4 real servers: one GET at a time through the routing
// client, Map with auto-batching (one MGET per host), and Map without (one pipeline of GETs per host).

func BenchmarkGet100Sequential(b *testing.B) { benchmarkGet(b, 100, "sequential") }
func BenchmarkGet100Map(b *testing.B)        { benchmarkGet(b, 100, "map") }
func BenchmarkGet100MapNoBatch(b *testing.B) { benchmarkGet(b, 100, "nobatch") }

func benchmarkGet(b *testing.B, n int, mode string) {
	ctx := context.Background()
	hs, _ := realHosts(b, 4, nil)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprint("bench:", i)
	}
	if err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, "value", 0)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	rc := hs.Routing()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		switch mode {
		case "sequential":
			for _, k := range keys {
				if err := rc.Get(ctx, k).Err(); err != nil {
					b.Fatal(err)
				}
			}
		default:
			c := hs
			if mode == "nobatch" {
				c = hs.AutoBatch(false)
			}
			if err := c.Map(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Get(ctx, k)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
}
