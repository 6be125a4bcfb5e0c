package conn

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// closeWithin calls reg.Close and fails the test if it has not returned after limit: a watchdog
// against a Close that waits for a read only the config server can end, not a measure of speed.
func closeWithin(t *testing.T, reg *Registry, limit time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- reg.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("Close has not returned after %v", limit)
	}
}

// With RefreshTimeout -1, a config server that never answers and a config client whose read never
// ends (ReadTimeout -1) or ends much later (1 h): Close returns, and every caller waiting without a
// deadline of its own (first loads, joined or not, and a Refresh behind them) gets ErrClosed.
func TestCloseDoesNotWaitForAStuckRead(t *testing.T) {
	for _, readTimeout := range []time.Duration{-1, time.Hour} {
		t.Run(fmt.Sprint(readTimeout), func(t *testing.T) {
			addr := redistest.BlackHole(t)
			cfgc := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: readTimeout, MaxRetries: -1})
			defer cfgc.Close()
			reg, err := New(cfgc, &Options{RefreshTimeout: -1})
			if err != nil {
				t.Fatal(err)
			}
			const callers = 12
			errs := make(chan error, callers+1)
			var started atomic.Int64
			for i := range callers {
				go func() {
					started.Add(1)
					_, _, err := reg.Acquire(context.Background(), fmt.Sprintf("c%d", i%3))
					errs <- err
				}()
			}
			// Wait until each component's first load holds its entry (its read is under way), so the
			// Refresh waits behind one instead of reading itself, without a deadline.
			for _, comp := range []string{"c0", "c1", "c2"} {
				for {
					if v, ok := reg.entries.Load(comp); ok && len(v.(*entry).sem) == 1 {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			go func() { errs <- reg.Refresh(context.Background(), "c0") }()
			for started.Load() < callers {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // let the Refresh reach the entry's lock
			closeWithin(t, reg, 10*time.Second)
			closed := 0
			for range callers + 1 {
				select {
				case err := <-errs:
					if !errors.Is(err, ErrClosed) {
						t.Errorf("a caller waiting across Close: %v; want ErrClosed", err)
					} else {
						closed++
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%d of %d callers returned after Close", closed, callers+1)
				}
			}
		})
	}
}

// blockGets holds every GET until release is closed, whatever its context says: a read that
// cancellation does not end, as go-redis's socket reads are.
type blockGets struct {
	entered chan struct{}
	release chan struct{}
}

func (h blockGets) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h blockGets) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" {
			h.entered <- struct{}{}
			<-h.release
		}
		return next(ctx, cmd)
	}
}
func (h blockGets) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A read that ends after Close returned is discarded: no client is made from it.
func TestCloseDiscardsALateRead(t *testing.T) {
	cfgServer, data := miniredis.RunT(t), miniredis.RunT(t)
	cfgServer.Set("config:redis:app", fmt.Sprintf(`{"addr": %q}`, data.Addr()))
	cfgc := redis.NewClient(&redis.Options{Addr: cfgServer.Addr(), ContextTimeoutEnabled: true})
	defer cfgc.Close()
	h := blockGets{entered: make(chan struct{}, 8), release: make(chan struct{})}
	cfgc.AddHook(h)
	var made atomic.Int64
	reg, err := New(cfgc, &Options{RefreshTimeout: -1, NewClient: func(_ string, c *Config) (redis.UniversalClient, error) {
		made.Add(1)
		return c.NewClient()
	}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := reg.Acquire(context.Background(), "app")
		errc <- err
	}()
	<-h.entered
	closeWithin(t, reg, 10*time.Second)
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire across Close: %v; want ErrClosed", err)
	}
	close(h.release)
	reg.bg.Wait() // the abandoned load has ended
	if n := made.Load(); n != 0 {
		t.Fatalf("%d clients made from a read that ended after Close; want 0", n)
	}
	if c := reg.Config("app"); c != nil {
		t.Fatalf("a config installed after Close: %v", c)
	}
}

// A client made by a load that Close stopped waiting for is closed, not leaked or installed.
func TestCloseClosesALateClient(t *testing.T) {
	cfgServer, data := miniredis.RunT(t), miniredis.RunT(t)
	cfgServer.Set("config:redis:app", fmt.Sprintf(`{"addr": %q}`, data.Addr()))
	cfgc := redis.NewClient(&redis.Options{Addr: cfgServer.Addr(), ContextTimeoutEnabled: true})
	defer cfgc.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	var made atomic.Pointer[redis.UniversalClient]
	reg, err := New(cfgc, &Options{RefreshTimeout: -1, NewClient: func(_ string, c *Config) (redis.UniversalClient, error) {
		close(entered)
		<-release // a hook that blocks past Close
		client, err := c.NewClient()
		if err == nil {
			made.Store(&client)
		}
		return client, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := reg.Acquire(context.Background(), "app")
		errc <- err
	}()
	<-entered
	closeWithin(t, reg, 10*time.Second)
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire across Close: %v; want ErrClosed", err)
	}
	close(release)
	reg.bg.Wait()
	p := made.Load()
	if p == nil {
		t.Fatal("the hook made no client")
	}
	if err := (*p).Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("the late client: Ping = %v; want redis.ErrClosed", err)
	}
	if c := reg.Config("app"); c != nil {
		t.Fatalf("a config installed after Close: %v", c)
	}
}

// Property: Close racing loads that install clients at random moments never leaves a client open,
// installed or not, once every load has ended.
func TestCloseRacesInstall(t *testing.T) {
	for round := range 200 {
		cfgServer, data := miniredis.RunT(t), miniredis.RunT(t)
		for i := range 4 {
			cfgServer.Set(fmt.Sprintf("config:redis:c%d", i), fmt.Sprintf(`{"addr": %q}`, data.Addr()))
		}
		cfgc := redis.NewClient(&redis.Options{Addr: cfgServer.Addr(), ContextTimeoutEnabled: true})
		var clients atomic.Pointer[[]redis.UniversalClient]
		clients.Store(&[]redis.UniversalClient{})
		mu := make(chan struct{}, 1)
		reg, err := New(cfgc, &Options{NewClient: func(_ string, c *Config) (redis.UniversalClient, error) {
			client, err := c.NewClient()
			if err == nil {
				mu <- struct{}{}
				l := append(*clients.Load(), client)
				clients.Store(&l)
				<-mu
			}
			return client, err
		}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{}, 8)
		for g := range 8 {
			go func() {
				defer func() { done <- struct{}{} }()
				comp := fmt.Sprintf("c%d", g%4)
				if g%2 == 0 {
					_ = reg.Refresh(context.Background(), comp)
				} else {
					_, _ = reg.Client(context.Background(), comp)
				}
			}()
		}
		time.Sleep(time.Duration(round%7) * 100 * time.Microsecond)
		closeWithin(t, reg, 10*time.Second)
		for range 8 {
			<-done
		}
		reg.bg.Wait()
		for i, c := range *clients.Load() {
			if err := c.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
				t.Fatalf("round %d: client %d after Close: Ping = %v; want redis.ErrClosed", round, i, err)
			}
		}
		cfgc.Close()
	}
}
