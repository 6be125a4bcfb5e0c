// Package noretry sends the toolkit's non-idempotent commands so that go-redis never resends them.
//
// go-redis resends a command, or a whole pipeline, after a network error (MaxRetries 3 by default).
// When only the reply was lost, the server has already run it: a resent INCR or ZINCRBY counts twice.
// A command whose NoRetry method answers true is never resent once it may have reached the server
// (go-redis v9.23 honours it on Client, ClusterClient, Ring and their pipelines; one such command
// keeps its whole pipeline from being resent), so the caller sees the error and can call the outcome
// unknown.
package noretry

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Processor is what every go-redis client and pipeline implements; a redis.Cmdable of another kind
// gets the plain command (and its own retry behaviour).
type Processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

type intCmd struct{ *redis.IntCmd }

func (intCmd) NoRetry() bool { return true }

type floatCmd struct{ *redis.FloatCmd }

func (floatCmd) NoRetry() bool { return true }

type cmd struct{ *redis.Cmd }

func (cmd) NoRetry() bool { return true }

// Incr is INCR key, never resent.
func Incr(ctx context.Context, c redis.Cmdable, key string) *redis.IntCmd {
	return intCommand(ctx, c, func() *redis.IntCmd { return c.Incr(ctx, key) }, "incr", key)
}

// SAdd is SADD key member, never resent: a resent SADD answers 0 for a member the lost first send
// added, which reads as "already there".
func SAdd(ctx context.Context, c redis.Cmdable, key string, member any) *redis.IntCmd {
	return intCommand(ctx, c, func() *redis.IntCmd { return c.SAdd(ctx, key, member) }, "sadd", key, member)
}

// PFAdd is PFADD key element, never resent: a resent PFADD answers 0 for an element the lost first
// send added, which reads as "not new".
func PFAdd(ctx context.Context, c redis.Cmdable, key string, element any) *redis.IntCmd {
	return intCommand(ctx, c, func() *redis.IntCmd { return c.PFAdd(ctx, key, element) }, "pfadd", key, element)
}

// intCommand sends args as an integer command never resent, or, when c is no Processor, the plain
// command plain gives (with c's own retry behaviour).
func intCommand(ctx context.Context, c redis.Cmdable, plain func() *redis.IntCmd, args ...any) *redis.IntCmd {
	p, ok := c.(Processor)
	if !ok {
		return plain()
	}
	ic := redis.NewIntCmd(ctx, args...)
	_ = p.Process(ctx, intCmd{ic}) // the error is ic's
	return ic
}

// ZIncrBy is ZINCRBY key increment member, never resent. On a pipeline it is queued.
func ZIncrBy(ctx context.Context, c redis.Cmdable, key string, increment float64, member string) *redis.FloatCmd {
	p, ok := c.(Processor)
	if !ok {
		return c.ZIncrBy(ctx, key, increment, member)
	}
	fc := redis.NewFloatCmd(ctx, "zincrby", key, increment, member)
	_ = p.Process(ctx, floatCmd{fc})
	return fc
}

// Do sends args as one command, never resent (market's scripts use it for EVALSHA and EVAL).
func Do(ctx context.Context, c Processor, args ...any) *redis.Cmd {
	rc := redis.NewCmd(ctx, args...)
	_ = c.Process(ctx, cmd{rc})
	return rc
}
