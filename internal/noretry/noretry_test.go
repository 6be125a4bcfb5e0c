package noretry_test

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// The commands give the plain commands' results, and are marked NoRetry on a client and in a
// pipeline. That go-redis then never resends them is shown with lost replies on a real server in
// internal/faulttest/writes (TestLostReplyNeverAppliedTwice).
func TestCommands(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	ctx := context.Background()

	var seen []redis.Cmder
	c.AddHook(hook{func(cmd redis.Cmder) { seen = append(seen, cmd) }})
	if n, err := noretry.Incr(ctx, c, "n").Result(); err != nil || n != 1 {
		t.Fatalf("Incr = %d, %v; want 1, nil", n, err)
	}
	if n, err := noretry.SAdd(ctx, c, "s", "a").Result(); err != nil || n != 1 {
		t.Fatalf("SAdd = %d, %v; want 1, nil", n, err)
	}
	if n, err := noretry.SAdd(ctx, c, "s", "a").Result(); err != nil || n != 0 {
		t.Fatalf("second SAdd = %d, %v; want 0, nil", n, err)
	}
	if f, err := noretry.ZIncrBy(ctx, c, "z", -1, "m").Result(); err != nil || f != -1 {
		t.Fatalf("ZIncrBy = %v, %v; want -1, nil", f, err)
	}
	if v, err := noretry.Do(ctx, c, "get", "n").Text(); err != nil || v != "1" {
		t.Fatalf("Do get = %q, %v; want 1, nil", v, err)
	}
	for i, want := range []int64{1, 0} {
		if n, err := noretry.PFAdd(ctx, c, "h", "a").Result(); err != nil || n != want {
			t.Fatalf("PFAdd %d = %d, %v; want %d, nil", i+1, n, err, want)
		}
	}
	if len(seen) != 7 {
		t.Fatalf("hook saw %d commands; want 7", len(seen))
	}
	for _, cmd := range seen {
		if !cmd.NoRetry() {
			t.Errorf("%v: NoRetry false", cmd.Args())
		}
	}

	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		noretry.Incr(ctx, p, "n")
		noretry.ZIncrBy(ctx, p, "z", -1, "m")
		return nil
	})
	if err != nil || len(cmds) != 2 {
		t.Fatalf("pipeline: %d commands, %v; want 2, nil", len(cmds), err)
	}
	for _, cmd := range cmds {
		if !cmd.NoRetry() {
			t.Errorf("pipelined %v: NoRetry false", cmd.Args())
		}
	}
	m.CheckGet(t, "n", "2")
}

type hook struct{ saw func(redis.Cmder) }

func (h hook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" && cmd.Name() != "client" {
			h.saw(cmd)
		}
		return next(ctx, cmd)
	}
}
func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
