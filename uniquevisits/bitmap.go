package uniquevisits

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
)

// The bitmap variant, the alternative Redis in Action 10.2.2 names (SETBIT, BITCOUNT, BITOP): for
// visitors with dense integer ids (user ids 0, 1, 2, ...), one bit per id per day, in one bitmap per
// day at unique:bitmap:<date>, apart from the book's keys. No sharding and no expected size: a
// million ids take 125 KB a day (an eighth of a byte per visitor, against the sets' 8 bytes and more
// per visitor and the HyperLogLog's 12 KB whatever the number), and the count is exact. The bitmap
// grows to the highest id counted, so sparse or huge ids waste it: MaxID bounds them.
//
// SETBIT is idempotent: a resent SETBIT leaves the bitmap as one send does, so the count is right
// whatever the client does. Its reply is not: a SETBIT resent after a lost reply answers 1 (the first
// send set the bit), and a new visitor would read as not new. So it is never resent, and a lost reply
// is ErrUnknownOutcome: calling CountVisit again is safe, and says New false if the first one ran.

// DefaultMaxID is BitmapOptions.MaxID's default: 2^32-1, the largest offset SETBIT takes with
// Redis's default proto-max-bulk-len (512 MiB).
const DefaultMaxID = 1<<32 - 1

var (
	// ErrBadUserID: a user id is negative or above BitmapOptions.MaxID. The error is a *UserIDError.
	ErrBadUserID = errors.New("uniquevisits: user id out of range")
)

// UserIDError is a user id the bitmap variant refused.
type UserIDError struct {
	ID  int64 // the id given
	Max int64 // the largest id allowed (BitmapOptions.MaxID)
}

func (e *UserIDError) Error() string {
	return fmt.Sprintf("%v: %d is not in 0..%d (BitmapOptions.MaxID)", ErrBadUserID, e.ID, e.Max)
}

// Unwrap makes errors.Is(err, ErrBadUserID) hold.
func (e *UserIDError) Unwrap() error { return ErrBadUserID }

// BitmapOptions configure a Bitmap.
type BitmapOptions struct {
	// MaxID is the largest user id counted; a larger or negative id is a *UserIDError, and writes
	// nothing. A day's bitmap takes (highest id counted)/8+1 bytes: MaxID/8+1 at most, 512 MiB at the
	// default, 125 KB for a million ids. Above the default, Redis refuses ids past
	// 8 x proto-max-bulk-len unless that is raised.
	// default: DefaultMaxID (2^32-1)
	MaxID int64

	// Now is the clock; the day counted is Now()'s date in Now()'s location.
	// default: time.Now
	Now func() time.Time

	// Durable makes CountVisit wait, after its SETBIT and on its connection, until Durable.Replicas
	// replicas have it (WAIT). The client must then be a *redis.Client or a *redis.ClusterClient.
	// default: off (Replicas 0); Timeout default: 1 second, -1: until ctx ends
	Durable Durability
}

var bitmapOptionsOf = option.Of{Type: "uniquevisits.BitmapOptions", Also: ErrBadUserID}

// Bitmap counts unique visitors with dense integer ids per day, one bit per id (see the package's
// bitmap variant). It is safe for concurrent use.
type Bitmap struct {
	c   redis.Cmdable
	opt BitmapOptions
}

// NewBitmap returns a Bitmap that keeps its bitmaps on c, which may be a *redis.ClusterClient. A nil
// c is ErrNoClient; a negative MaxID is an *option.Error naming the field.
func NewBitmap(c redis.Cmdable, opt *BitmapOptions) (*Bitmap, error) {
	b := &Bitmap{c: c}
	if opt != nil {
		b.opt = *opt
	}
	if err := errors.Join(
		option.Fill(bitmapOptionsOf, "MaxID", &b.opt.MaxID, DefaultMaxID, false),
		b.opt.Durable.Fill(option.Of{Type: bitmapOptionsOf.Type}, "Durable."), // not a user id's error
	); err != nil {
		return nil, err
	}
	if b.opt.Now == nil {
		b.opt.Now = time.Now
	}
	if c == nil {
		return nil, ErrNoClient
	}
	if err := newWriter(b.opt.Durable).routable(c); err != nil {
		return nil, err
	}
	return b, nil
}

// Options returns the bitmap's options, defaults filled in.
func (b *Bitmap) Options() BitmapOptions { return b.opt }

// BitmapVisit is what Bitmap.CountVisit did.
type BitmapVisit struct {
	Day string // the date counted under
	ID  int64  // the user id
	Key string // the day's bitmap, unique:bitmap:<date>
	New bool   // the bit was clear: the visitor is new today (SETBIT's reply)
}

// CountVisit counts a visit by user id today (the date of Now()): SETBIT of the id's bit in the
// day's bitmap, never resent. An id outside 0..MaxID is a *UserIDError and writes nothing. A lost
// reply is ErrUnknownOutcome; calling again is safe (see the package doc).
func (b *Bitmap) CountVisit(ctx context.Context, userID int64) (_ BitmapVisit, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if userID < 0 || userID > b.opt.MaxID {
		return BitmapVisit{}, &UserIDError{ID: userID, Max: b.opt.MaxID}
	}
	d := Day(b.opt.Now())
	v := BitmapVisit{Day: d, ID: userID, Key: bitmapKey(d)}
	if err := ctx.Err(); err != nil {
		return v, fmt.Errorf("uniquevisits: SETBIT %s: not sent: %w", v.Key, err)
	}
	wr := newWriter(b.opt.Durable)
	defer wr.close()
	var old int64
	err = wr.do(ctx, b.c, v.Key, func(c redis.Cmdable) (err error) {
		old, err = setBit(ctx, c, v.Key, userID)
		return err
	})
	if err != nil {
		return v, writeError("SETBIT "+v.Key, err)
	}
	v.New = old == 0
	if !v.New || wr.w == nil { // a bit already set: SETBIT wrote nothing
		return v, nil
	}
	return v, notDurable("SETBIT "+v.Key, wr.confirm(ctx))
}

// setBit is SETBIT key offset 1, never resent, and returns the bit's old value.
func setBit(ctx context.Context, c redis.Cmdable, key string, offset int64) (int64, error) {
	p, ok := c.(noretry.Processor)
	if !ok {
		return c.SetBit(ctx, key, offset, 1).Result()
	}
	return noretry.Do(ctx, p, "setbit", key, offset, 1).Int64()
}

// Count returns day's number of unique visitors: BITCOUNT of its bitmap.
func (b *Bitmap) Count(ctx context.Context, day time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	return UniqueBitmap(ctx, b.c, day)
}

// CountRange returns the number of unique visitors from from's date to to's, inclusive: see
// UniqueRangeBitmap.
func (b *Bitmap) CountRange(ctx context.Context, from, to time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	return UniqueRangeBitmap(ctx, b.c, from, to)
}

// UniqueBitmap returns day's number of unique visitors in the bitmap variant: BITCOUNT of
// unique:bitmap:<date> on c (0 for a day without visits).
func UniqueBitmap(ctx context.Context, c redis.Cmdable, day time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if c == nil {
		return 0, ErrNoClient
	}
	return c.BitCount(ctx, bitmapKey(Day(day)), nil).Result()
}

// UniqueRangeBitmap returns the exact number of unique visitors from from's date to to's, inclusive,
// in the bitmap variant: BITOP OR of the days' bitmaps into a temporary key, BITCOUNT of it, and DEL,
// in one MULTI/EXEC, so that the temporary key (as large as the largest day's bitmap, on the server)
// never outlives the call and needs no TTL: the server runs all of it or none.
//
// On a *redis.ClusterClient the days' bitmaps sit in different slots, where BITOP cannot reach them,
// so they are read back instead: GETRANGE of every day's bitmap a chunk at a time, ORed and counted
// in the client, holding at most about 32 MiB (one chunk per day) however large the bitmaps are.
func UniqueRangeBitmap(ctx context.Context, c redis.Cmdable, from, to time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	days, err := rangeDays(from, to)
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, ErrNoClient
	}
	keys := make([]string, len(days))
	for i, d := range days {
		keys[i] = bitmapKey(d)
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return clusterBitCount(ctx, cc, keys)
	}
	tmp := tempKeys("unique:bitmap:range:", 1)[0]
	var count *redis.IntCmd
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.BitOpOr(ctx, tmp, keys...)
		count = p.BitCount(ctx, tmp, nil)
		p.Del(ctx, tmp)
		return nil
	})
	if err != nil {
		for _, cmd := range cmds { // name the command the server refused (a day's key of another type)
			if cmd.Err() != nil && noretry.IsErrorReply(cmd.Err()) {
				return 0, fmt.Errorf("uniquevisits: %s: %w", cmd.Name(), cmd.Err())
			}
		}
		return 0, err
	}
	return count.Result()
}

// clusterBitCount is the number of bits set in the OR of keys, read back a chunk at a time.
func clusterBitCount(ctx context.Context, cc *redis.ClusterClient, keys []string) (int64, error) {
	lens := make([]*redis.IntCmd, len(keys))
	if _, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			lens[i] = p.StrLen(ctx, k)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	var longest int64
	for _, l := range lens {
		longest = max(longest, l.Val())
	}
	chunk := min(max(int64(32<<20)/int64(len(keys)), 4096), 1<<20)
	or := make([]byte, chunk)
	var total int64
	for off := int64(0); off < longest; off += chunk {
		parts := make([]*redis.StringCmd, 0, len(keys))
		if _, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				if lens[i].Val() > off {
					parts = append(parts, p.GetRange(ctx, k, off, off+chunk-1))
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
		clear(or)
		for _, part := range parts {
			s := part.Val()
			for j := 0; j < len(s) && j < len(or); j++ {
				or[j] |= s[j]
			}
		}
		total += onesCount(or)
	}
	return total, nil
}

func onesCount(b []byte) int64 {
	var n int
	for len(b) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return int64(n)
}

// bitmapKey is the bitmap variant's bitmap for the day, a bit per user id; outside unique:<date>:* so
// it can never be taken for a set shard. STRING (bitmap)
func bitmapKey(day string) string { return "unique:bitmap:" + day }
