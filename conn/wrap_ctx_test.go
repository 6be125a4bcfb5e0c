package conn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// blackHole accepts connections and reads from them, never answering: a server that hangs.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A client from an Options.NewClient hook (built from Config.Options, so without NewClient's ctx
// hook) and a domain function that wraps its error with %v still give an error matching ctx.Err()
// once ctx has ended, through Call and every Wrap.
func TestCallGivesCtxErrFromHookClient(t *testing.T) {
	f := newFixture(t, nil)
	f.reg.opt.NewClient = func(_ string, cfg *Config) (redis.UniversalClient, error) {
		o, err := cfg.Options()
		if err != nil {
			return nil, err
		}
		return redis.NewClient(o), nil
	}
	f.setRaw(t, "hang", fmt.Sprintf(`{"addr": %q, "read_timeout": 60}`, blackHole(t)))
	get := func(ctx context.Context, c redis.Cmdable, key string) (string, error) {
		v, err := c.Get(ctx, key).Result()
		if err != nil {
			return "", fmt.Errorf("lookup %s: %v", key, err) // %v: the chain is lost
		}
		return v, nil
	}
	for name, call := range map[string]func(ctx context.Context) error{
		"Call": func(ctx context.Context) error {
			_, err := Call(ctx, f.reg, "hang", func(ctx context.Context, c redis.Cmdable) (string, error) { return get(ctx, c, "k") })
			return err
		},
		"Wrap1": func(ctx context.Context) error {
			_, err := Wrap1(f.reg, "hang", get)(ctx, "k")
			return err
		},
		"Do": func(ctx context.Context) error {
			return f.reg.Do(ctx, "hang", func(c redis.UniversalClient) error { _, err := get(ctx, c, "k"); return err })
		},
	} {
		// A deadline, not a cancel: go-redis bounds a read by ctx's deadline only, so a cancelled ctx
		// waits out ReadTimeout on a server that hangs (TestCallCtxErrProperty covers cancels).
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := call(ctx)
		cancel()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v; want an error matching context.DeadlineExceeded", name, err)
		}
	}
}

// For any error fn returns, however wrapped: once ctx has ended, Call's error matches both ctx.Err()
// and what fn's error matched; before, it is fn's error unchanged.
func TestCallCtxErrProperty(t *testing.T) {
	f := newFixture(t, nil)
	m := f.cfgServer // any reachable server will do: fn makes no call
	f.setRaw(t, "c", serverConfig(m))
	if _, err := f.reg.Client(context.Background(), "c"); err != nil { // cached: Acquire makes no I/O
		t.Fatal(err)
	}
	sentinels := []error{redis.Nil, ErrBadConfig, errors.New("domain: out of stock"), context.Canceled, net.ErrClosed}
	r := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	for i := range 300 {
		base := sentinels[r.IntN(len(sentinels))]
		var fnErr error
		switch r.IntN(4) {
		case 0:
			fnErr = base
		case 1:
			fnErr = fmt.Errorf("op %d: %w", i, base)
		case 2:
			fnErr = fmt.Errorf("op %d: %v", i, base) // matches nothing
		default:
			fnErr = errors.Join(errors.New("first"), base)
		}
		mode := r.IntN(3) // 0: ctx live; 1: cancelled during fn; 2: deadline passed before the call
		var ctx context.Context
		var cancel context.CancelFunc
		if mode == 2 {
			ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		} else {
			ctx, cancel = context.WithCancel(context.Background())
		}
		_, err := Call(ctx, f.reg, "c", func(ctx context.Context, c redis.Cmdable) (int, error) {
			if mode == 1 {
				cancel()
			}
			return 0, fnErr
		})
		cancel()
		if mode == 0 {
			if err != fnErr {
				t.Fatalf("case %d: ctx live: got %v; want fn's error unchanged", i, err)
			}
			continue
		}
		if !errors.Is(err, ctx.Err()) {
			t.Fatalf("case %d: %v does not match %v", i, err, ctx.Err())
		}
		if errors.Is(fnErr, base) && !errors.Is(err, base) {
			t.Fatalf("case %d: %v no longer matches %v", i, err, base)
		}
	}
}
