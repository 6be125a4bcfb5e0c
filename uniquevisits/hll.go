package uniquevisits

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// The HyperLogLog variant counts with one HyperLogLog per day (PFADD, PFCOUNT) instead of sharded
// sets: 12 KB of registers per day whatever the traffic (about 14 KB as MEMORY USAGE counts it), no
// sharding and no expected size, at the price of an estimate. Redis's HyperLogLog has a standard
// error of 0.81% (1.04/sqrt(16384) registers): about two days in three the estimate is within 0.81%
// of the truth, and nearly always within 2.5%. TestRealHLLError measures it on a real server. Use it
// when memory matters more than an exact count.

// CountVisitHLL adds the session's visitor id (the same id CountVisit counts) to the HyperLogLog of
// now's day, and reports whether the estimate changed.
// A lost PFADD reply is ErrUnknownOutcome: the id may be in the HyperLogLog, and whether it changed
// the estimate is not known.
func CountVisitHLL(ctx context.Context, c redis.Cmdable, sessionID string, now time.Time) (_ bool, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	return countVisitHLL(ctx, newWriter(Durability{}), c, sessionID, now)
}

// countVisitHLL is CountVisitHLL with its PFADD sent by wr.
func countVisitHLL(ctx context.Context, wr *writer, c redis.Cmdable, sessionID string, now time.Time) (bool, error) {
	id, err := ParseSessionID(sessionID)
	if err != nil {
		return false, err
	}
	key := hllKey(Day(now))
	var n int64
	err = wr.do(ctx, c, key, func(c redis.Cmdable) (err error) {
		n, err = noretry.PFAdd(ctx, c, key, strconv.FormatInt(id, 10)).Result()
		return err
	})
	if err != nil {
		return false, writeError("PFADD "+key, err)
	}
	return n == 1, nil
}

// UniqueHLL returns the estimated number of unique visitors on day.
func UniqueHLL(ctx context.Context, c redis.Cmdable, day time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	return c.PFCount(ctx, hllKey(Day(day))).Result()
}
