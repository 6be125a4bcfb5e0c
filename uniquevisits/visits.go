package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/redisint"
	"github.com/ria-go/ria/shard"
)

const (
	// DailyExpected is the book's DAILY_EXPECTED: the day's size when yesterday's count is unknown.
	DailyExpected = 1_000_000
	// ShardSize is the book's SHARD_SIZE: ids per set shard, Redis's set-max-intset-entries, so each
	// shard stays a compact intset.
	ShardSize = 512
	// Shards is the number of sharded servers in the book's 10.2.2 (@sharded_connection('unique', 16)).
	Shards = 16
	// Component is the book's component name.
	Component = "unique"
)

// Visit is what CountVisit did.
type Visit struct {
	Day   string // the date counted under, "2024-03-01"
	ID    int64  // the visitor id: the first 15 hex digits of the session id's UUID
	Set   string // the set shard the id went to, unique:<date>:<n>
	Shard string // the sharded server's component, "unique:<n>" (empty when given clients)
	New   bool   // the id was not yet in the day's set: it was counted
	Count int64  // the day's count after this visit's INCR (0 when not New)
}

// Expected is the book's get_expected without its process cache (Counter caches): the number of
// visitors day's sets are sized for. It is read from unique:<date>:expected; when absent it is
// yesterday's count (unique:<yesterday>) times 1.5, rounded up to a power of two, or dailyExpected
// when yesterday is unknown, and stored with SETNX so every process, Go or Python, uses the first
// value written.
//
// Fixed from the book: a stored count of "0" made log(0) fail; here a day counted as 0 is as good as
// unknown and gives dailyExpected. The power of two is computed in integers, not with a float log.
func Expected(ctx context.Context, c redis.Cmdable, day time.Time, dailyExpected int64) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if dailyExpected < 1 {
		dailyExpected = DailyExpected
	}
	d := Day(day)
	exkey := expectedKey(d)
	s, err := c.Get(ctx, exkey).Result()
	if err == nil {
		return parsePositive(exkey, s)
	}
	if !errors.Is(err, redis.Nil) {
		return 0, err
	}
	base := dailyExpected
	ykey := countKey(Day(yesterday(day)))
	y, err := c.Get(ctx, ykey).Result()
	switch {
	case errors.Is(err, redis.Nil) || (err == nil && y == ""):
	case err != nil:
		return 0, err
	default:
		n, ok := redisint.Parse(y)
		if !ok || n < 0 {
			return 0, fmt.Errorf("%w: %s holds %q", ErrBadCount, ykey, y)
		}
		if n > 0 {
			base = n
		}
	}
	expected, err := roundUp(base)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, ykey)
	}
	set, err := c.SetNX(ctx, exkey, expected, 0).Result()
	if err != nil {
		return 0, writeError("SETNX "+exkey, err)
	}
	if set {
		return expected, nil
	}
	s, err = c.Get(ctx, exkey).Result() // another process won the SETNX: use its value
	if err != nil {
		return 0, err
	}
	return parsePositive(exkey, s)
}

// yesterday is the calendar day before day (DST-safe: noon of the date, minus one day).
func yesterday(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d-1, 12, 0, 0, 0, day.Location())
}

// roundUp is 2**ceil(log2(n*1.5)): the smallest power of two 2^k with 2^k >= 1.5n, that is
// 2^(k+1) >= 3n. (1.5n is never itself a power of two, so the book's float log has no tie to break.)
func roundUp(n int64) (int64, error) {
	if n < 1 || n > (math.MaxInt64/2)/3 {
		return 0, fmt.Errorf("%w: count %d out of range", ErrBadCount, n)
	}
	k := bits.Len64(uint64(3*n-1)) - 1
	return int64(1) << k, nil
}

func parsePositive(key, s string) (int64, error) {
	n, ok := redisint.Parse(s)
	if !ok || n < 1 {
		return 0, fmt.Errorf("%w: %s holds %q", ErrBadCount, key, s)
	}
	return n, nil
}

// Add records visitor id for day: SADD into the day's set shard on sets (the book's shard_sadd over
// expected elements in shards of shardSize), and when the id is new, INCR the day's count on counts.
// sets and counts may be the same client (the book's chapter 9) or not (chapter 10).
//
// The INCR must happen once per new id, so neither command is ever resent by the client (an INCR
// whose reply was lost would be applied twice). Errors say what is known:
//   - the SADD was refused (an error reply) or never sent: a plain error, nothing written;
//   - the SADD's reply was lost: ErrUnknownOutcome, the id may or may not be in its set;
//   - the INCR was refused or never sent: ErrUncounted, the id is recorded and the count is not;
//   - the INCR's reply was lost: ErrUnknownOutcome and ErrUncounted, the id is recorded and the
//     count may or may not include it.
//
// After ErrUncounted retrying Add would find the id present and count nothing: Recount gives the
// exact figure.
func Add(ctx context.Context, sets, counts redis.Cmdable, day time.Time, id int64, expected int64, shardSize int) (_ Visit, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	return add(ctx, newWriter(Durability{}), sets, counts, day, id, expected, shardSize)
}

// add is Add with its writes sent by wr.
func add(ctx context.Context, wr *writer, sets, counts redis.Cmdable, day time.Time, id int64, expected int64, shardSize int) (Visit, error) {
	d := Day(day)
	if expected < 1 || expected > math.MaxInt/2 {
		return Visit{}, fmt.Errorf("%w: expected size %d out of range", ErrBadCount, expected)
	}
	member := strconv.FormatInt(id, 10)
	set, err := shard.Key(setBase(d), "x"+member, int(expected), shardSize, shard.Python3)
	if err != nil {
		return Visit{}, err
	}
	v := Visit{Day: d, ID: id, Set: set}
	if err := ctx.Err(); err != nil { // not sent: nothing is unknown yet
		return v, fmt.Errorf("uniquevisits: SADD %s: not sent: %w", set, err)
	}
	// Neither command is ever resent (a resent SADD answers 0, a resent INCR counts twice).
	var added int64
	err = wr.do(ctx, sets, set, func(c redis.Cmdable) (err error) {
		added, err = noretry.SAdd(ctx, c, set, member).Result()
		return err
	})
	if err != nil {
		return v, writeError("SADD "+set, err)
	}
	if added == 0 {
		return v, nil
	}
	v.New = true
	if err := ctx.Err(); err != nil {
		return v, fmt.Errorf("%w: INCR %s: not sent: %w", ErrUncounted, countKey(d), err)
	}
	err = wr.do(ctx, counts, countKey(d), func(c redis.Cmdable) (err error) {
		v.Count, err = noretry.Incr(ctx, c, countKey(d)).Result()
		return err
	})
	if err != nil {
		if noretry.Classify(err) == noretry.Unknown {
			return v, fmt.Errorf("%w: %w: INCR %s: %w", ErrUnknownOutcome, ErrUncounted, countKey(d), err)
		}
		return v, fmt.Errorf("%w: INCR %s: %w", ErrUncounted, countKey(d), err)
	}
	return v, nil
}

// writeError says what an error from write command name tells about it (noretry.Classify): refused
// or never sent is a plain error (nothing written), a lost reply is ErrUnknownOutcome.
func writeError(name string, err error) error {
	switch noretry.Classify(err) {
	case noretry.Reply:
		return fmt.Errorf("uniquevisits: %s: %w", name, err)
	case noretry.NotSent:
		return fmt.Errorf("uniquevisits: %s: not sent: %w", name, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnknownOutcome, name, err)
}

// CountVisit is the book's chapter 9 count_visit on one server: both the sets and the count on c, the
// day from now. It reads the expected size every time (Counter caches it).
func CountVisit(ctx context.Context, c redis.Cmdable, sessionID string, now time.Time) (_ Visit, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	id, err := ParseSessionID(sessionID)
	if err != nil {
		return Visit{}, err
	}
	expected, err := Expected(ctx, c, now, DailyExpected)
	if err != nil {
		return Visit{}, err
	}
	return Add(ctx, c, c, now, id, expected, ShardSize)
}

// Count returns day's count of unique visitors from c (0 when none was counted).
func Count(ctx context.Context, c redis.Cmdable, day time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	key := countKey(Day(day))
	s, err := c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, ok := redisint.Parse(s)
	if !ok || n < 0 {
		return 0, fmt.Errorf("%w: %s holds %q", ErrBadCount, key, s)
	}
	return n, nil
}
