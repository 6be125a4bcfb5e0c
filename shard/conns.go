package shard

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/noretry"
)

// The sharded connections of Redis in Action 10.2: a key picks one of shardCount servers, each a
// registry component "<component>:<n>" whose config is at config:redis:<component>:<n>.
//
//	def get_sharded_connection(component, key, shard_count, wait=1):
//	    shard = shard_key(component, 'x'+str(key), shard_count, 2)
//	    return get_redis_connection(shard, wait)
//
// shard_key with shard_size 2 spreads over 2*shard_count//2 = shard_count shards, so the component is
// "<component>:<crc32("x"+key) % shardCount>" (Python3 mode; the modes agree when shardCount is a
// power of two, as the book's 16 is).

// Component returns the component that holds key: "<component>:<crc32("x"+key) % shardCount>". The
// crc32 is over the latin-1 bytes of "x"+key, as the book's Python 3 shard_key computes it; a key
// latin-1 cannot encode fails with an *EncodeError wrapping ErrNotLatin1.
func Component(component, key string, shardCount int) (string, error) {
	n, err := Index("x"+key, shardCount, Python3)
	if err != nil {
		return "", err
	}
	return ShardComponent(component, n), nil
}

// Acquire returns the client of the shard of component that holds key, held until release is called:
// the book's get_sharded_connection. Once ctx has ended it fails with an error wrapping ctx.Err().
func Acquire(ctx context.Context, reg *conn.Registry, component, key string, shardCount int) (_ redis.UniversalClient, _ func(), err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	comp, err := Component(component, key, shardCount)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return reg.Acquire(ctx, comp)
}

// Call resolves the shard of component that holds key and calls fn with its client, held for the call.
// Once ctx has ended, an error (fn's or the registry's) wraps ctx.Err(), and fn is not called if it
// had ended before.
func Call[C, T any](ctx context.Context, reg *conn.Registry, component string, shardCount int, key string, fn func(context.Context, C) (T, error)) (_ T, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	comp, err := Component(component, key, shardCount)
	if err != nil {
		var zero T
		return zero, err
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	return conn.Call(ctx, reg, comp, fn)
}

// The Wrap functions are the book's sharded_connection decorator: the returned function takes the key
// first, picks the shard from it, and calls fn with that shard's client and the key. C is the client
// type fn takes (redis.Cmdable, redis.UniversalClient, ...), as in conn.Wrap.
//
//	countVisit := shard.Wrap(reg, "unique", 16, func(ctx context.Context, c redis.Cmdable, sessionID string) (bool, error) { ... })
//	isNew, err := countVisit(ctx, sessionID)

// Wrap binds a function of the key alone.
func Wrap[C, T any](reg *conn.Registry, component string, shardCount int, fn func(ctx context.Context, c C, key string) (T, error)) func(ctx context.Context, key string) (T, error) {
	return func(ctx context.Context, key string) (T, error) {
		return Call(ctx, reg, component, shardCount, key, func(ctx context.Context, c C) (T, error) { return fn(ctx, c, key) })
	}
}

// Wrap1 binds a function of the key and one more argument.
func Wrap1[C, A, T any](reg *conn.Registry, component string, shardCount int, fn func(ctx context.Context, c C, key string, a A) (T, error)) func(ctx context.Context, key string, a A) (T, error) {
	return func(ctx context.Context, key string, a A) (T, error) {
		return Call(ctx, reg, component, shardCount, key, func(ctx context.Context, c C) (T, error) { return fn(ctx, c, key, a) })
	}
}

// Wrap2 binds a function of the key and two more arguments.
func Wrap2[C, A, B, T any](reg *conn.Registry, component string, shardCount int, fn func(ctx context.Context, c C, key string, a A, b B) (T, error)) func(ctx context.Context, key string, a A, b B) (T, error) {
	return func(ctx context.Context, key string, a A, b B) (T, error) {
		return Call(ctx, reg, component, shardCount, key, func(ctx context.Context, c C) (T, error) { return fn(ctx, c, key, a, b) })
	}
}

// Wrap3 binds a function of the key and three more arguments.
func Wrap3[C, A, B, D, T any](reg *conn.Registry, component string, shardCount int, fn func(ctx context.Context, c C, key string, a A, b B, d D) (T, error)) func(ctx context.Context, key string, a A, b B, d D) (T, error) {
	return func(ctx context.Context, key string, a A, b B, d D) (T, error) {
		return Call(ctx, reg, component, shardCount, key, func(ctx context.Context, c C) (T, error) { return fn(ctx, c, key, a, b, d) })
	}
}
