package conn_test

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

// The registry's per-call cost against holding the client directly. Compare
// BenchmarkPingHeld with BenchmarkPingRegistry (same round trip, plus the lookup) and see
// BenchmarkAcquire for the lookup alone; the Parallel variants show it does not contend.

func newBenchRegistry(b *testing.B) (*conn.Registry, redis.UniversalClient) {
	cfgServer, data := miniredis.RunT(b), miniredis.RunT(b)
	cfg := redis.NewClient(&redis.Options{Addr: cfgServer.Addr()})
	b.Cleanup(func() { cfg.Close() })
	reg, err := conn.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close() })
	ctx := context.Background()
	if err := reg.SetConfig(ctx, "app", map[string]any{"addr": data.Addr()}); err != nil {
		b.Fatal(err)
	}
	c, err := reg.Client(ctx, "app")
	if err != nil {
		b.Fatal(err)
	}
	return reg, c
}

func benchmarkPing(b *testing.B, viaRegistry, parallel bool) {
	reg, held := newBenchRegistry(b)
	ctx := context.Background()
	ping := func(ctx context.Context, c redis.Cmdable) (string, error) { return c.Ping(ctx).Result() }
	call := func() error {
		if viaRegistry {
			_, err := conn.Call(ctx, reg, "app", ping)
			return err
		}
		_, err := ping(ctx, held)
		return err
	}
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		return
	}
	for i := 0; i < b.N; i++ {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPingHeld(b *testing.B)             { benchmarkPing(b, false, false) }
func BenchmarkPingRegistry(b *testing.B)         { benchmarkPing(b, true, false) }
func BenchmarkPingHeldParallel(b *testing.B)     { benchmarkPing(b, false, true) }
func BenchmarkPingRegistryParallel(b *testing.B) { benchmarkPing(b, true, true) }

func benchmarkAcquire(b *testing.B, parallel bool) {
	reg, _ := newBenchRegistry(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, release, err := reg.Acquire(ctx, "app")
				if err != nil {
					b.Error(err)
					return
				}
				release()
			}
		})
		return
	}
	for i := 0; i < b.N; i++ {
		_, release, err := reg.Acquire(ctx, "app")
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
}

func BenchmarkAcquire(b *testing.B)         { benchmarkAcquire(b, false) }
func BenchmarkAcquireParallel(b *testing.B) { benchmarkAcquire(b, true) }
