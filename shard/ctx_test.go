package shard

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// ctxCases are the ways a caller's ctx ends: already cancelled, or a deadline that passes while a
// host does not answer (go-redis then reports the socket's "i/o timeout").
func ctxCases() map[string]func() (context.Context, context.CancelFunc) {
	return map[string]func() (context.Context, context.CancelFunc){
		"cancelled": func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		},
		"deadline": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		},
	}
}

// TestCtxEndedErrors: once the caller's ctx has ended, every public I/O call returns an error for
// which errors.Is(err, ctx.Err()) holds; the server here never answers, so without ctx nothing
// would end.
func TestCtxEndedErrors(t *testing.T) {
	hole := redistest.BlackHole(t) // every call ends with its ctx
	cfgServer := miniredis.RunT(t)
	cfgClient := redis.NewClient(&redis.Options{Addr: cfgServer.Addr()})
	defer cfgClient.Close()
	reg, err := conn.New(cfgClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for i := 0; i < 2; i++ {
		if err := reg.SetConfig(context.Background(), ShardComponent("hole", i), map[string]any{"addr": hole, "socket_timeout": 60}); err != nil {
			t.Fatal(err)
		}
	}
	holeClient := redis.NewClient(&redis.Options{Addr: hole, ContextTimeoutEnabled: true, ReadTimeout: time.Minute, WriteTimeout: time.Minute, DialTimeout: time.Minute, MaxRetries: -1})
	defer holeClient.Close()

	for name, mk := range ctxCases() {
		t.Run(name, func(t *testing.T) {
			check := func(what string, err error, ctx context.Context) {
				t.Helper()
				if ctx.Err() == nil {
					t.Errorf("%s returned before ctx ended: %v", what, err)
					return
				}
				if !errors.Is(err, ctx.Err()) {
					t.Errorf("%s: %v; want errors.Is(err, %v)", what, err, ctx.Err())
				}
			}
			calls := map[string]func(ctx context.Context) error{
				"MGet": func(ctx context.Context) error { _, err := MGet(ctx, holeClient, "a", "b"); return err },
				"Scan": func(ctx context.Context) error {
					return Scan(ctx, holeClient, "*", 10, func(string) error { return nil })
				},
				"HSet": func(ctx context.Context) error { _, err := HSet(ctx, holeClient, "h", "k", "v", 100, 10); return err },
				"HGet": func(ctx context.Context) error { _, err := HGet(ctx, holeClient, "h", "k", 100, 10); return err },
				"SAdd": func(ctx context.Context) error { _, err := SAdd(ctx, holeClient, "s", "m", 100, 10); return err },
				"Call": func(ctx context.Context) error {
					_, err := Call(ctx, reg, "hole", 2, "k", func(ctx context.Context, c redis.Cmdable) (string, error) { return c.Get(ctx, "k").Result() })
					return err
				},
				"Wrap": func(ctx context.Context) error {
					_, err := Wrap(reg, "hole", 2, func(ctx context.Context, c redis.Cmdable, key string) (string, error) {
						return c.Get(ctx, key).Result()
					})(ctx, "k")
					return err
				},
				"Wrap3": func(ctx context.Context) error {
					_, err := Wrap3(reg, "hole", 2, func(ctx context.Context, c redis.Cmdable, key string, a, b, d int) (int64, error) {
						return c.IncrBy(ctx, key, int64(a+b+d)).Result()
					})(ctx, "k", 1, 2, 3)
					return err
				},
			}
			if name == "cancelled" { // no I/O here, so only an ended ctx fails it
				calls["Acquire"] = func(ctx context.Context) error { _, _, err := Acquire(ctx, reg, "hole", "k", 2); return err }
			}
			var wg sync.WaitGroup
			for what, call := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := mk()
					defer cancel()
					check(what, call(ctx), ctx)
				}()
			}
			wg.Wait()
		})
	}
}
