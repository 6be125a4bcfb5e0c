package tokens_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/tokens"
)

// countHook records what go-redis processes: each command run on its own, and each pipeline.
type countHook struct {
	mu    sync.Mutex
	cmds  []string   // ProcessHook calls, by command name
	pipes [][]string // ProcessPipelineHook calls, the names of their commands
}

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.cmds = append(h.cmds, cmd.Name())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var names []string
		for _, c := range cmds {
			names = append(names, c.Name())
		}
		h.mu.Lock()
		h.pipes = append(h.pipes, names)
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// countedClient returns a client of a new miniredis whose hook counts what it processes. Its
// connections are opened (HELLO, CLIENT SETINFO) by a command and a pipeline before the hook, so
// only the update's traffic counts.
func countedClient(t *testing.T) (*redis.Client, *countHook) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	must(t, c.Ping(ctx).Err())
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { return p.Ping(ctx).Err() })
	must(t, err)
	h := &countHook{}
	c.AddHook(h)
	return c, h
}

// TestRoundTripsCounted checks Update.RoundTrips against what go-redis actually does: UpdateToken
// processes each command on its own, UpdateTokenPipeline one pipeline without MULTI/EXEC.
func TestRoundTripsCounted(t *testing.T) {
	ctx := context.Background()
	want := []string{"hset", "zadd", "zadd", "zremrangebyrank", "zincrby"}
	for _, item := range []string{"", "itemA"} {
		n := 5
		if item == "" {
			n = 2
		}
		t.Run("plain/item="+item, func(t *testing.T) {
			c, h := countedClient(t)
			up, err := tokens.UpdateToken(ctx, c, "tok", "u", item)
			must(t, err)
			if strings.Join(h.cmds, " ") != strings.Join(want[:n], " ") || len(h.pipes) != 0 {
				t.Fatalf("processed commands %v, pipelines %v; want %v alone", h.cmds, h.pipes, want[:n])
			}
			if up.Commands != len(h.cmds) || up.RoundTrips != len(h.cmds) {
				t.Fatalf("update %+v; go-redis processed %d commands one by one", up, len(h.cmds))
			}
		})
		t.Run("pipeline/item="+item, func(t *testing.T) {
			c, h := countedClient(t)
			up, err := tokens.UpdateTokenPipeline(ctx, c, "tok", "u", item)
			must(t, err)
			if len(h.cmds) != 0 || len(h.pipes) != 1 || strings.Join(h.pipes[0], " ") != strings.Join(want[:n], " ") {
				t.Fatalf("processed commands %v, pipelines %v; want one pipeline of %v, no multi/exec", h.cmds, h.pipes, want[:n])
			}
			if up.Commands != len(h.pipes[0]) || up.RoundTrips != len(h.pipes) {
				t.Fatalf("update %+v; go-redis processed %d pipeline(s) of %d commands", up, len(h.pipes), len(h.pipes[0]))
			}
		})
	}
}

// notSentHook fails the command named fail as a dial error would, without sending it.
type notSentHook struct{ fail string }

var dialErr = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

func (h notSentHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h notSentHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == h.fail {
			return dialErr
		}
		return next(ctx, cmd)
	}
}
func (h notSentHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if c.Name() == h.fail {
				for _, c := range cmds {
					c.SetErr(dialErr)
				}
				return dialErr
			}
		}
		return next(ctx, cmds)
	}
}

// TestErrorSaysWhatWasApplied: the error names what is known to be applied before it.
func TestErrorSaysWhatWasApplied(t *testing.T) {
	ctx := context.Background()

	// A later command of UpdateToken not sent: the two before it were applied.
	m, c := newMini(t)
	c.AddHook(notSentHook{fail: "zremrangebyrank"})
	_, err := tokens.UpdateToken(ctx, c, "tok", "u", "item")
	if err == nil || errors.Is(err, tokens.ErrUnknownOutcome) || !errors.Is(err, syscall.ECONNREFUSED) ||
		!strings.Contains(err.Error(), "zremrangebyrank: not sent") ||
		!strings.Contains(err.Error(), "(the 3 commands before it were applied)") {
		t.Errorf("plain, not sent: err %v; want zremrangebyrank not sent, the 3 commands before it applied", err)
	}
	if v, _ := m.HGet("login:", "tok"), 0; v != "u" {
		t.Errorf("login: tok = %q; the commands before were applied", v)
	}

	// The first command not sent: nothing applied, nothing claimed.
	_, c = newMini(t)
	c.AddHook(notSentHook{fail: "hset"})
	_, err = tokens.UpdateToken(ctx, c, "tok", "u", "item")
	if err == nil || !strings.Contains(err.Error(), "hset: not sent") || strings.Contains(err.Error(), "applied") {
		t.Errorf("plain, first not sent: err %v; want hset not sent, nothing said applied", err)
	}

	// The pipeline not sent at all: 0 of 5.
	_, c = newMini(t)
	c.AddHook(notSentHook{fail: "zincrby"})
	_, err = tokens.UpdateTokenPipeline(ctx, c, "tok", "u", "item")
	if err == nil || errors.Is(err, tokens.ErrUnknownOutcome) || !strings.Contains(err.Error(), "not sent") ||
		!strings.Contains(err.Error(), "(0 of the 5 commands confirmed applied)") {
		t.Errorf("pipeline, not sent: err %v; want not sent, 0 of 5 applied", err)
	}

	// One command of the pipeline refused: the other four ran.
	_, c = newMini(t)
	must(t, c.Set(ctx, "viewed:tok", "oops", 0).Err())
	_, err = tokens.UpdateTokenPipeline(ctx, c, "tok", "u", "item")
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") ||
		!strings.Contains(err.Error(), "(3 of the 5 commands confirmed applied)") {
		t.Errorf("pipeline, WRONGTYPE: err %v; want 3 of 5 applied", err)
	}
}
