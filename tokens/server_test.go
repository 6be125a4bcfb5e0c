package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/tokens"
)

// realClient is a client of srv with pool connections; like every redistest client it never
// retries: a retried ZINCRBY would count a view twice.
func realClient(t testing.TB, srv *redistest.Server, pool int) *redis.Client {
	return srv.ClientWith(t, func(o *redis.Options) { o.PoolSize = pool })
}

// counts tallies, per item, the updates acknowledged and those whose outcome is unknown.
type counts struct {
	mu           sync.Mutex
	acked, maybe map[string]int
}

func (n *counts) add(item string, err error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case err == nil:
		n.acked[item]++
	case errors.Is(err, tokens.ErrUnknownOutcome):
		n.maybe[item]++
	default:
		return err
	}
	return nil
}

// hammer runs goroutines updating tokens and items with both functions, until each made ops calls or
// stop passes, each call bounded by timeout.
func hammer(t *testing.T, c redis.Cmdable, goroutines, ops int, timeout time.Duration, stop time.Time) *counts {
	n := &counts{acked: map[string]int{}, maybe: map[string]int{}}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := tokens.UpdateToken
			if g%2 == 1 {
				f = tokens.UpdateTokenPipeline
			}
			for i := range ops {
				if time.Now().After(stop) {
					return
				}
				item := fmt.Sprintf("item%d", i%5)
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				_, err := f(ctx, c, fmt.Sprintf("tok%d", g), fmt.Sprintf("user%d", g), item)
				cancel()
				if err := n.add(item, err); err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return n
}

// On a healthy server every update is acknowledged and counted exactly once.
func TestRealServerCounts(t *testing.T) {
	srv := redistest.RunT(t, nil)
	c := realClient(t, srv, 16)
	ctx := context.Background()
	n := hammer(t, c, 8, 200, 10*time.Second, time.Now().Add(20*time.Second))
	total := 0
	for item, acked := range n.acked {
		total += acked
		if got := c.ZScore(ctx, "viewed:", item).Val(); got != float64(-acked) {
			t.Errorf("viewed: %s = %v; want %d", item, got, -acked)
		}
	}
	if total != 8*200 || len(n.maybe) != 0 {
		t.Errorf("acked %d, unknown %v; want 1600 and none", total, n.maybe)
	}
	for g := range 8 {
		if k := c.ZCard(ctx, fmt.Sprintf("viewed:tok%d", g)).Val(); k != 5 {
			t.Errorf("viewed:tok%d holds %d items; want 5", g, k)
		}
	}
	if k := c.HLen(ctx, "login:").Val(); k != 8 {
		t.Errorf("login: holds %d tokens; want 8", k)
	}
}

// With the server paused under short deadlines, replies are lost: every view is counted at most once,
// so acknowledged ≤ counted ≤ acknowledged + unknown.
func TestRealServerPaused(t *testing.T) {
	srv := redistest.RunT(t, nil)
	c := realClient(t, srv, 16)
	ctx := context.Background()
	stop := time.Now().Add(2 * time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			time.Sleep(300 * time.Millisecond)
			if err := srv.Pause(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(200 * time.Millisecond)
			if err := srv.Resume(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	n := hammer(t, c, 4, 1_000_000, 50*time.Millisecond, stop)
	<-done
	unknown := 0
	for item := range 5 {
		name := fmt.Sprintf("item%d", item)
		acked, maybe := n.acked[name], n.maybe[name]
		unknown += maybe
		got := -int(c.ZScore(ctx, "viewed:", name).Val())
		if got < acked || got > acked+maybe {
			t.Errorf("viewed: %s = %d; want between %d acknowledged and %d with the unknown", name, got, acked, acked+maybe)
		}
	}
	t.Logf("acknowledged %v, unknown %v", n.acked, n.maybe)
	if unknown == 0 {
		t.Error("no update had an unknown outcome: the pauses did not bite")
	}
}
