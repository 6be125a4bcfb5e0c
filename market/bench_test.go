package market_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
)

// One op is a listing and a purchase of the same item, which then goes back the other way: Alice and
// Bob pass one item between them. With parallelism each goroutine has its own pair, and the pairs
// contend only through market: (which every WATCH purchase watches). Goroutines: parallelism × GOMAXPROCS.
func benchmarkMarket(b *testing.B, m market.Market, parallelism int) {
	srv := redistest.RunT(b, nil)
	benchmarkMarketOn(b, realClient(b, srv, 4*parallelism+4), m, parallelism)
}

// benchmarkDurable is benchmarkMarket on a master with one replica, each write confirmed by it.
func benchmarkDurable(b *testing.B, script bool, parallelism int) {
	r := redistest.RunReplicatedT(b, nil)
	opt := &market.Options{Durable: market.Durability{Replicas: 1, Timeout: 5 * time.Second}}
	var m market.Market = newWatch(opt)
	if script {
		s, err := market.NewScript(opt)
		must(b, err)
		m = s
	}
	benchmarkMarketOn(b, realClient(b, r.Master, 4*parallelism+4), m, parallelism)
}

func benchmarkMarketOn(b *testing.B, c *redis.Client, m market.Market, parallelism int) {
	ctx := context.Background()
	var pairs, retries atomic.Int64
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := strconv.FormatInt(pairs.Add(1), 10)
		owner, other := "a"+n, "b"+n
		item := "I" + n
		setUser(b, c, owner, owner, "1000000", item)
		setUser(b, c, other, other, "1000000")
		for pb.Next() {
			if _, err := m.ListItem(ctx, c, item, owner, 1); err != nil {
				b.Error(err)
				return
			}
			p, err := m.PurchaseItem(ctx, c, other, item, owner, 1)
			if err != nil {
				b.Error(err)
				return
			}
			retries.Add(int64(p.Retries))
			owner, other = other, owner
		}
	})
	b.ReportMetric(float64(retries.Load())/float64(b.N), "retries/op")
}

func BenchmarkWatch1(b *testing.B)   { benchmarkMarket(b, newWatch(nil), 1) }
func BenchmarkScript1(b *testing.B)  { benchmarkMarket(b, market.Script{}, 1) }
func BenchmarkWatch8(b *testing.B)   { benchmarkMarket(b, newWatch(nil), 8) }
func BenchmarkScript8(b *testing.B)  { benchmarkMarket(b, market.Script{}, 8) }
func BenchmarkWatch32(b *testing.B)  { benchmarkMarket(b, newWatch(nil), 32) }
func BenchmarkScript32(b *testing.B) { benchmarkMarket(b, market.Script{}, 32) }

func BenchmarkWatchDurable1(b *testing.B)  { benchmarkDurable(b, false, 1) }
func BenchmarkScriptDurable1(b *testing.B) { benchmarkDurable(b, true, 1) }
func BenchmarkWatchDurable8(b *testing.B)  { benchmarkDurable(b, false, 8) }
func BenchmarkScriptDurable8(b *testing.B) { benchmarkDurable(b, true, 8) }
