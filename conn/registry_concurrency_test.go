package conn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// 16 goroutines keep calling while the config flips between two servers 20 times. The flips are
// driven by the fake clock and Refresh, so each is seen exactly once: 21 clients, every replaced
// one closed once released, and all closed by Close.
func TestConcurrentUseWhileConfigFlips(t *testing.T) {
	f := newFixture(t, nil)
	servers := []*miniredis.Miniredis{miniredis.RunT(t), miniredis.RunT(t)}
	f.setRaw(t, "app", serverConfig(servers[0]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := f.reg.Client(ctx, "app"); err != nil { // the first client, on servers[0]
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	stop := make(chan struct{})
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := Call(ctx, f.reg, "app", func(ctx context.Context, c redis.Cmdable) (int64, error) {
					return c.Incr(ctx, "calls").Result()
				})
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					t.Errorf("call failed: %v", err)
					return
				}
			}
		}()
	}
	const flips = 20
	for i := 0; i < flips; i++ {
		f.setRaw(t, "app", serverConfig(servers[(i+1)%2]))
		f.clock.Add(time.Second) // callers start background refreshes too, racing the Refresh below
		if err := f.reg.Refresh(ctx, "app"); err != nil {
			t.Fatal(err)
		}
		// Let the callers use the new client before the next flip.
		for before := calls.Load(); calls.Load() < before+32 && failures.Load() == 0; {
			if ctx.Err() != nil {
				t.Fatal("callers made no progress")
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	close(stop)
	wg.Wait()
	f.reg.bg.Wait()
	var served int64
	for _, s := range servers {
		n, _ := s.Get("calls")
		var v int64
		fmt.Sscan(n, &v)
		served += v
	}
	if failures.Load() != 0 || served != calls.Load() {
		t.Fatalf("%d calls, %d failed, %d INCRs served; want none failed and all served", calls.Load(), failures.Load(), served)
	}
	clients := f.allClients()
	if len(clients) != flips+1 {
		t.Fatalf("clients made = %d; want %d (one per config, each flip seen once)", len(clients), flips+1)
	}
	for i, c := range clients[:flips] {
		if err := c.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("replaced client %d: Ping = %v; want redis.ErrClosed", i, err)
		}
	}
	if err := clients[flips].Ping(ctx).Err(); err != nil {
		t.Fatalf("current client: %v", err)
	}
	if err := f.reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := clients[flips].Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("current client after Close: Ping = %v; want redis.ErrClosed", err)
	}
}

// gate holds the config client's GETs until released, to catch a load in flight.
type gate struct {
	entered chan struct{} // one value per GET that reached the gate
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})} }

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" {
			g.entered <- struct{}{}
			select {
			case <-g.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return next(ctx, cmd)
	}
}
func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A caller whose context ends stops waiting, and neither fails the load for others nor is remembered.
func TestCancelledCallerDoesNotFailOthers(t *testing.T) {
	bg := context.Background()
	t.Run("cancelled while the load reads", func(t *testing.T) {
		f := newFixture(t, &Options{RefreshTimeout: time.Minute})
		f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
		g := newGate()
		f.cfgClient.AddHook(g)
		ctx, cancel := context.WithCancel(bg)
		errc := make(chan error, 1)
		go func() {
			_, err := f.reg.Client(ctx, "app")
			errc <- err
		}()
		<-g.entered
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller: %v; want context.Canceled", err)
		}
		close(g.release)
		if _, err := f.reg.Client(bg, "app"); err != nil {
			t.Fatalf("next caller: %v; want the client", err)
		}
		if n := f.gets.n.Load(); n != 1 {
			t.Fatalf("%d config reads; want 1 (the cancelled caller's load served the next)", n)
		}
	})
	t.Run("cancelled before the call", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			f := newFixture(t, nil)
			f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
			ctx, cancel := context.WithCancel(bg)
			cancel()
			f.reg.Client(ctx, "app") // may fail or, if the load wins the race, succeed
			if _, err := f.reg.Client(bg, "app"); err != nil {
				t.Fatalf("run %d: Client after a cancelled call: %v", i, err)
			}
		}
	})
	t.Run("cancelled Refresh", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			f := newFixture(t, nil)
			f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
			ctx, cancel := context.WithCancel(bg)
			cancel()
			if err := f.reg.Refresh(ctx, "app"); err == nil {
				t.Fatalf("run %d: Refresh with a cancelled context succeeded", i)
			}
			if _, err := f.reg.Client(bg, "app"); err != nil {
				t.Fatalf("run %d: Client after a cancelled Refresh: %v", i, err)
			}
			if err := f.reg.Err("app"); err != nil {
				t.Fatalf("run %d: Err = %v; want nil", i, err)
			}
		}
	})
}

// The first load is bounded by RefreshTimeout, not by the first caller's context.
func TestFirstLoadBoundedByRefreshTimeout(t *testing.T) {
	f := newFixture(t, &Options{RefreshTimeout: 100 * time.Millisecond})
	f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
	g := newGate() // never released: a config server that stops answering
	f.cfgClient.AddHook(g)
	start := time.Now()
	_, err := f.reg.Client(context.Background(), "app")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want context.DeadlineExceeded from RefreshTimeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("first load took %v with RefreshTimeout 100ms", d)
	}
	// A config server that cannot be reached is not remembered (a missing config is): the next call
	// reads again, within its own bound.
	if _, err2 := f.reg.Client(context.Background(), "app"); !errors.Is(err2, context.DeadlineExceeded) || len(g.entered) != 2 {
		t.Fatalf("second call: %v after %d reads; want a second read ending in DeadlineExceeded", err2, len(g.entered))
	}
	// A caller whose ctx has already ended starts no read.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err3 := f.reg.Client(ended, "app"); !errors.Is(err3, context.Canceled) || len(g.entered) != 2 {
		t.Fatalf("ended caller: %v after %d reads; want Canceled and no read", err3, len(g.entered))
	}
}

// Close while callers start refreshes (Wait 1ns, real clock): no WaitGroup misuse under -race, no
// config read after Close returns, every client closed.
func TestCloseRacesCallers(t *testing.T) {
	for round := 0; round < 100; round++ {
		f := newFixture(t, &Options{Wait: time.Nanosecond, Now: time.Now})
		f.setRaw(t, "app", serverConfig(miniredis.RunT(t)))
		f.setRaw(t, "other", serverConfig(miniredis.RunT(t)))
		var closed atomic.Bool
		f.cfgClient.AddHook(readAfter{&closed, t})
		var wg, started sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			started.Add(1)
			go func() {
				defer wg.Done()
				first := true
				for i := 0; ; i++ {
					comp := []string{"app", "other"}[i%2]
					_, err := f.reg.Client(context.Background(), comp)
					if first {
						started.Done()
						first = false
					}
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Client(%s): %v", comp, err)
						return
					}
				}
			}()
		}
		started.Wait()
		if err := f.reg.Close(); err != nil {
			t.Fatal(err)
		}
		closed.Store(true)
		wg.Wait()
		for i, c := range f.allClients() {
			if err := c.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
				t.Fatalf("round %d: client %d after Close: Ping = %v; want redis.ErrClosed", round, i, err)
			}
		}
	}
}

// readAfter fails the test on a config read that starts once closed is set.
type readAfter struct {
	closed *atomic.Bool
	t      *testing.T
}

func (h readAfter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h readAfter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" && h.closed.Load() {
			h.t.Errorf("config read %v after Close returned", cmd.Args())
		}
		return next(ctx, cmd)
	}
}
func (h readAfter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
