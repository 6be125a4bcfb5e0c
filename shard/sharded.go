package shard

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// HSet is the book's shard_hset: it stores key's value as field key of the HASH shard of base that
// Key picks (Python3 mode), so that many small values share a few small (listpack-encoded) hashes.
// It returns the number of fields added: 1 for a new key, 0 for an update. A key that Key refuses
// (ErrNotLatin1 for a character above U+00FF) is an error and nothing is written. HSet, HGet and
// SAdd fail with an error wrapping ctx.Err() once ctx has ended.
func HSet(ctx context.Context, c redis.Cmdable, base, key string, value any, totalElements, shardSize int) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	k, err := Key(base, key, totalElements, shardSize, Python3)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return c.HSet(ctx, k, key, value).Result()
}

// HGet is the book's shard_hget. A missing key is redis.Nil, as from go-redis's HGet.
func HGet(ctx context.Context, c redis.Cmdable, base, key string, totalElements, shardSize int) (_ string, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	k, err := Key(base, key, totalElements, shardSize, Python3)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return c.HGet(ctx, k, key).Result()
}

// SAdd is the book's shard_sadd: it adds member to the SET shard of base picked by Key over
// "x"+member. The "x" makes every member hash by crc32, even a numeric one, so that consecutive ids
// spread over all shards instead of filling one shard after another. Numeric members keep each shard
// intset-encoded while it holds at most set-max-intset-entries (512) of them. It returns 1 when
// member is new, 0 when it was already there.
func SAdd(ctx context.Context, c redis.Cmdable, base, member string, totalElements, shardSize int) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	k, err := Key(base, "x"+member, totalElements, shardSize, Python3)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return noretry.SAdd(ctx, c, k, member).Result() // resent, it would answer 0 for a member it added
}
