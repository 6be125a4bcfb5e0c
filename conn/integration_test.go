package conn_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

func realConfig(s *redistest.Server) string {
	return fmt.Sprintf(`{"host": "127.0.0.1", "port": %d}`, s.Port())
}

func TestRealServerComponent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	servers := redistest.RunShardsT(t, 2, nil)
	cfg := servers[0].Client(t)
	reg, err := conn.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.SetConfig(ctx, "app", realConfig(servers[1])); err != nil {
		t.Fatal(err)
	}
	c, err := reg.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := servers[1].Client(t).Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("the component's write is not on its server: %q, %v", got, err)
	}
	if n, _ := cfg.Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("the component's write landed on the config server")
	}
}

// Another process switches the component to a second server while 16 goroutines keep calling:
// no call fails, every call is served by one of the two servers, and the old client is closed.
func TestSwitchServerUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	servers := redistest.RunShardsT(t, 3, nil)
	cfgServer, a, b := servers[0], servers[1], servers[2]
	writer, err := conn.New(cfgServer.Client(t), nil) // stands in for another process
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	if err := writer.SetConfig(ctx, "app", realConfig(a)); err != nil {
		t.Fatal(err)
	}
	reader, err := conn.New(cfgServer.Client(t), &conn.Options{Wait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	incr := conn.Wrap1(reader, "app", func(ctx context.Context, c redis.Cmdable, key string) (int64, error) {
		return c.Incr(ctx, key).Result()
	})
	var calls atomic.Int64
	var failed sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
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
				if _, err := incr(ctx, "calls"); err != nil {
					failed.Store(err.Error(), true)
				}
				calls.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := writer.SetConfig(ctx, "app", realConfig(b)); err != nil {
		t.Fatal(err)
	}
	// Keep calling until the reader has been on b for a while.
	bc := b.Client(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, _ := bc.Get(ctx, "calls").Int64()
		if n > 1000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	failed.Range(func(k, _ any) bool {
		t.Errorf("a call failed: %v", k)
		return true
	})
	ac := a.Client(t)
	na, _ := ac.Get(ctx, "calls").Int64()
	nb, _ := bc.Get(ctx, "calls").Int64()
	if na == 0 || nb == 0 || na+nb != calls.Load() {
		t.Fatalf("server a served %d, b %d, of %d calls; want both > 0 and the sum equal", na, nb, calls.Load())
	}
	// The replaced client's connections to a are closed: only the test's own probe stays.
	err = poll(ctx, func() error {
		list, err := ac.ClientList(ctx).Result()
		if err != nil {
			return err
		}
		if n := strings.Count(strings.TrimSpace(list), "\n") + 1; n != 1 {
			return fmt.Errorf("%d connections still open on the old server", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls: %d on the old server, %d on the new, none failed", calls.Load(), na, nb)
}

func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
