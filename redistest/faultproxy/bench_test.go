package faultproxy_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/redistest/faultproxy"
)

// What a hop through each proxy costs a PING, with no fault configured: compare within one run.
func BenchmarkPingDirect(b *testing.B)     { benchmarkPing(b, "direct") }
func BenchmarkPingToxiproxy(b *testing.B)  { benchmarkPing(b, "toxiproxy") }
func BenchmarkPingDelayProxy(b *testing.B) { benchmarkPing(b, "delay") }

func benchmarkPing(b *testing.B, via string) {
	srv := redistest.RunT(b, nil)
	opt := srv.Options()
	switch via {
	case "toxiproxy":
		opt = faultproxy.StartT(b, srv.Addr()).ClientOptions(opt)
	case "delay":
		opt = faultproxy.StartDelayT(b, srv.Addr(), 0).ClientOptions(opt)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
