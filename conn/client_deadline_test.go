package conn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// Against paused servers, every registry call whose ctx expires returns an error matching
// context.DeadlineExceeded, whether go-redis saw the deadline itself or as an i/o timeout on the
// socket: with a fresh ctx each time, and with the same expired ctx again.
func TestDeadlineErrorsPausedServers(t *testing.T) {
	cfgServer := redistest.RunT(t, nil)
	data := redistest.RunT(t, nil)
	reg, err := conn.New(cfgServer.Client(t), &conn.Options{Wait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { within(t, "Close", func() { reg.Close() }) }()
	bg := context.Background()
	if err := reg.SetConfig(bg, "app", realConfig(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Client(bg, "app"); err != nil {
		t.Fatal(err)
	}

	ping := func(ctx context.Context, c redis.Cmdable) (string, error) { return c.Ping(ctx).Result() }
	calls := []struct {
		name   string
		paused *redistest.Server
		call   func(ctx context.Context, i int) error
	}{
		{"Refresh", cfgServer, func(ctx context.Context, _ int) error { return reg.Refresh(ctx, "app") }},
		{"SetConfig", cfgServer, func(ctx context.Context, _ int) error { return reg.SetConfig(ctx, "app", realConfig(data)) }},
		{"Client, first load", cfgServer, func(ctx context.Context, i int) error {
			_, err := reg.Client(ctx, fmt.Sprintf("new%d", i))
			return err
		}},
		{"Acquire, first load", cfgServer, func(ctx context.Context, i int) error {
			_, _, err := reg.Acquire(ctx, fmt.Sprintf("other%d", i))
			return err
		}},
		{"Do", data, func(ctx context.Context, _ int) error {
			return reg.Do(ctx, "app", func(c redis.UniversalClient) error { return c.Ping(ctx).Err() })
		}},
		{"Call", data, func(ctx context.Context, _ int) error {
			_, err := conn.Call(ctx, reg, "app", ping)
			return err
		}},
		{"Wrap1", data, func(ctx context.Context, _ int) error {
			_, err := conn.Wrap1(reg, "app", func(ctx context.Context, c redis.Cmdable, key string) (string, error) {
				return c.Get(ctx, key).Result()
			})(ctx, "k")
			return err
		}},
		{"the client's own command", data, func(ctx context.Context, _ int) error {
			c, err := reg.Client(ctx, "app")
			if err != nil {
				return err
			}
			return c.Set(ctx, "k", "v", 0).Err()
		}},
		{"the client's pipeline", data, func(ctx context.Context, _ int) error {
			c, err := reg.Client(ctx, "app")
			if err != nil {
				return err
			}
			_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, "n")
				return nil
			})
			return err
		}},
	}
	n := 0
	for _, tc := range calls {
		if err := tc.paused.Pause(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			n++
			ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
			err := tc.call(ctx, n)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s, run %d: %v; want context.DeadlineExceeded", tc.name, i, err)
			}
			n++
			if err := tc.call(ctx, n); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s, run %d, the same expired ctx: %v; want context.DeadlineExceeded", tc.name, i, err)
			}
			cancel()
		}
		if err := tc.paused.Resume(); err != nil {
			t.Fatal(err)
		}
	}
}
