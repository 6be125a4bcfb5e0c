package uniquevisits

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/option"
	"github.com/ria-go/ria/redistest"
)

// noRetryHook records whether every SETBIT it saw was marked never to be resent.
type noRetryHook struct {
	tripHook
	setbits, retryable int
}

func (h *noRetryHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "setbit" {
			h.setbits++
			if !cmd.NoRetry() {
				h.retryable++
			}
		}
		return next(ctx, cmd)
	}
}

func TestBitmapCountVisit(t *testing.T) {
	ctx := t.Context()
	m, client := mini(t)
	h := &noRetryHook{}
	client.AddHook(h)
	now := day
	if d, err := NewBitmap(client, nil); err != nil || d.Options().MaxID != DefaultMaxID {
		t.Errorf("MaxID %v (%v); want the default %d", d, err, DefaultMaxID)
	}
	const max = 1 << 20 // the default's highest id would make a 512 MiB bitmap
	b, err := NewBitmap(client, &BitmapOptions{MaxID: max, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		id  int64
		new bool
	}{{5, true}, {0, true}, {5, false}, {max, true}, {0, false}} {
		v, err := b.CountVisit(ctx, tc.id)
		want := BitmapVisit{Day: "2024-03-01", ID: tc.id, Key: "unique:bitmap:2024-03-01", New: tc.new}
		if err != nil || v != want {
			t.Errorf("visit %d: %+v, %v; want %+v", i, v, err, want)
		}
	}
	if n, err := b.Count(ctx, day); err != nil || n != 3 {
		t.Errorf("Count = %d, %v; want 3", n, err)
	}
	if keys := m.Keys(); len(keys) != 1 || keys[0] != "unique:bitmap:2024-03-01" {
		t.Errorf("keys %v; want only the day's bitmap (apart from the book's keys)", keys)
	}
	if h.setbits != 5 || h.retryable != 0 {
		t.Errorf("%d SETBITs, %d of them resendable; want 5, 0", h.setbits, h.retryable)
	}
	now = day.AddDate(0, 0, 1)
	if v, err := b.CountVisit(ctx, 5); err != nil || !v.New || v.Day != "2024-03-02" {
		t.Errorf("the next day: %+v, %v; want new", v, err)
	}
	if n, err := b.CountRange(ctx, day, now); err != nil || n != 3 {
		t.Errorf("CountRange = %d, %v; want 3", n, err)
	}
}

// TestBitmapIDBounds (property): for random bounds and ids around them, an id outside 0..MaxID is a
// *UserIDError naming the id and the bound, and writes nothing; an id inside is counted, New exactly
// when it was not yet counted today.
func TestBitmapIDBounds(t *testing.T) {
	ctx := t.Context()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	for _, max := range []int64{1, 7, 1000, 1 << 20} {
		m, client := mini(t)
		b, err := NewBitmap(client, &BitmapOptions{MaxID: max, Now: fixedClock(day)})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for i := 0; i < 300; i++ {
			var id int64
			switch r.IntN(4) {
			case 0:
				id = max + 1 + r.Int64N(1<<40)
			case 1:
				id = -1 - r.Int64N(1<<62)
			case 2:
				id = max - 2 + r.Int64N(5) // around the bound
			default:
				id = r.Int64N(max + 1)
			}
			before := len(m.Keys())
			v, err := b.CountVisit(ctx, id)
			if id < 0 || id > max {
				var ue *UserIDError
				if !errors.As(err, &ue) || !errors.Is(err, ErrBadUserID) || ue.ID != id || ue.Max != max {
					t.Fatalf("MaxID %d, id %d: %+v, %v; want a *UserIDError", max, id, v, err)
				}
				if len(m.Keys()) != before {
					t.Fatalf("MaxID %d, id %d refused but wrote %v", max, id, m.Keys())
				}
				continue
			}
			if err != nil || v.New == seen[id] {
				t.Fatalf("MaxID %d, id %d: %+v, %v; want New %v", max, id, v, err, !seen[id])
			}
			seen[id] = true
		}
		if n, err := b.Count(ctx, day); err != nil || n != int64(len(seen)) {
			t.Errorf("MaxID %d: Count %d, %v; want %d", max, n, err, len(seen))
		}
	}
}

func TestBitmapOptions(t *testing.T) {
	_, client := mini(t)
	for _, bad := range []int64{-1, -2, -1 << 40} {
		_, err := NewBitmap(client, &BitmapOptions{MaxID: bad})
		var oe *option.Error
		if !errors.As(err, &oe) || oe.Field != "MaxID" || !errors.Is(err, option.ErrBadOption) || !errors.Is(err, ErrBadUserID) {
			t.Errorf("MaxID %d: %v; want an option error naming MaxID", bad, err)
		}
	}
	if _, err := NewBitmap(nil, nil); !errors.Is(err, ErrNoClient) {
		t.Errorf("nil client: %v; want ErrNoClient", err)
	}
	b, err := NewBitmap(client, &BitmapOptions{MaxID: 99})
	if err != nil || b.Options().MaxID != 99 || b.Options().Now == nil {
		t.Errorf("MaxID 99: %+v, %v", b.Options(), err)
	}
}

// TestBitmapLostReply: a lost SETBIT reply is ErrUnknownOutcome, never resent; the bit was set, and
// counting the visit again is safe: it says not new, and the count is exact.
func TestBitmapLostReply(t *testing.T) {
	ctx := t.Context()
	srv := redistest.RunT(t, nil)
	drop := &dropReply{}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: 3})
	defer client.Close()
	client.AddHook(drop)
	b, err := NewBitmap(client, &BitmapOptions{Now: fixedClock(day)})
	if err != nil {
		t.Fatal(err)
	}
	drop.arm("setbit")
	if _, err := b.CountVisit(ctx, 12); !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("lost reply: %v; want ErrUnknownOutcome", err)
	}
	v, err := b.CountVisit(ctx, 12)
	if err != nil || v.New {
		t.Errorf("again: %+v, %v; want not new (the first SETBIT ran)", v, err)
	}
	if n, err := b.Count(ctx, day); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
	// A refused SETBIT (the key holds a set) is a plain error, not unknown.
	srv.Client(t).SAdd(ctx, bitmapKey(Day(day.AddDate(0, 0, 1))), "x")
	b2, _ := NewBitmap(client, &BitmapOptions{Now: fixedClock(day.AddDate(0, 0, 1))})
	if _, err := b2.CountVisit(ctx, 1); err == nil || errors.Is(err, ErrUnknownOutcome) || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("refused: %v; want WRONGTYPE, not unknown", err)
	}
}

// TestRealBitmapMemory measures a day's bitmap for 1,000,000 dense ids on a real server: an eighth of
// a byte per visitor (125 KB), where the sets take 8 bytes or more and the HyperLogLog 12 KB in all.
func TestRealBitmapMemory(t *testing.T) {
	ctx := t.Context()
	c := redistest.RunT(t, nil).Client(t)
	const n = 1_000_000
	key := bitmapKey(Day(day))
	for lo := 0; lo < n; lo += 50_000 {
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for id := lo; id < lo+50_000; id++ {
				p.SetBit(ctx, key, int64(id), 1)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := UniqueBitmap(ctx, c, day); err != nil || got != n {
		t.Fatalf("BITCOUNT %d, %v; want %d", got, err, n)
	}
	size, err := c.MemoryUsage(ctx, key, 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	perVisitor := float64(size) / n
	t.Logf("bitmap of %d dense ids: %d bytes, %.3f bytes per visitor", n, size, perVisitor)
	if perVisitor > 0.15 { // 1/8 byte, plus the allocator's rounding
		t.Errorf("%.3f bytes per visitor; want about 0.125", perVisitor)
	}
}
