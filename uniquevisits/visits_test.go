package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn/conntest"
)

var day = time.Date(2024, 3, 1, 15, 4, 5, 0, time.UTC)

// mini starts a miniredis server and a client on it, both closed when the test ends.
var mini = conntest.MiniClient

// sessionVectors were computed with CPython: id = int(sid.replace("-", "")[:15], 16); the sharded
// server is crc32('x'+sid) % 16; the set, with the default expected size 2**21, is
// unique:2024-03-01:<crc32('x'+str(id)) % 8192>.
var sessionVectors = []struct {
	sid       string
	id        int64
	component string
	set       string
}{
	{"6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", 477927623193933014, "unique:13", "unique:2024-03-01:8089"},
	{"00000000-0000-0000-0000-000000000001", 0, "unique:2", "unique:2024-03-01:4525"},
	{"ffffffff-ffff-ffff-ffff-ffffffffffff", 1152921504606846975, "unique:2", "unique:2024-03-01:6394"},
	{"12345678-9abc-def0-1234-56789abcdef0", 81985529216486895, "unique:12", "unique:2024-03-01:2742"},
	{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", 284378022498832669, "unique:3", "unique:2024-03-01:7958"},
}

func TestParseSessionID(t *testing.T) {
	for _, v := range sessionVectors {
		if got, err := ParseSessionID(v.sid); err != nil || got != v.id {
			t.Errorf("ParseSessionID(%q) = %d, %v; want %d", v.sid, got, err, v.id)
		}
	}
	const u = "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2"
	for _, bad := range []string{"", "abc", "12345678901234", "----", "1234-5678-9abc-de", "g23456789abcdef", "0x23456789abcdef",
		" 123456789abcdef", "+123456789abcdef", "12345678_9abcdef", "１23456789abcdef",
		"123456789abcdef", "0123-4567-89ab-cdef0", // the book took any 15 hex digits
		u + "x", u + "0", u + "\n", "x" + u, " " + u + " ", "(" + u + ")", "{" + u + ")", "{" + u + "}x", "urn:uuid:" + u + "0",
		"urn:uuix:" + u, "6a1f0a42d0d23-4d6e-9a4c-4ab3e5c6f1d2", "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1dg", "6a1f0a420d234d6e9a4c4ab3e5c6f1d2f",
		"6a1f0a420d234d6e9a4c4ab3e5c6f1d", "+a1f0a420d234d6e9a4c4ab3e5c6f1d2", "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d２"} {
		id, err := ParseSessionID(bad)
		if !errors.Is(err, ErrBadSessionID) {
			t.Errorf("ParseSessionID(%q) = %d, %v; want ErrBadSessionID", bad, id, err)
			continue
		}
		if len(bad) > 3 && strings.Contains(err.Error(), bad) {
			t.Errorf("error %q shows the session id", err)
		}
		var se *SessionIDError
		if !errors.As(err, &se) || se.Len != len(bad) || se.Pos < -1 || se.Pos >= len(bad) {
			t.Errorf("ParseSessionID(%q): %#v; want a *SessionIDError with its length and a position in it", bad, err)
		}
	}
	// Every spelling of one UUID is the canonical one.
	for _, sp := range []string{u, strings.ToUpper(u), "6A1f0a42-0D23-4d6E-9a4c-4AB3e5c6f1d2", strings.ReplaceAll(u, "-", ""),
		strings.ToUpper(strings.ReplaceAll(u, "-", "")), "{" + u + "}", "{" + strings.ToUpper(u) + "}", "urn:uuid:" + u, "URN:UUID:" + u, "Urn:Uuid:" + strings.ToUpper(u)} {
		got, err := CanonicalSessionID(sp)
		if err != nil || got != u {
			t.Errorf("CanonicalSessionID(%q) = %q, %v; want %s", sp, got, err, u)
		}
		if id, err := ParseSessionID(sp); err != nil || id != sessionVectors[0].id {
			t.Errorf("ParseSessionID(%q) = %d, %v; want %d", sp, id, err, sessionVectors[0].id)
		}
	}
}

func TestRoundUp(t *testing.T) {
	// 2**int(math.ceil(math.log(n*1.5, 2))) computed with CPython.
	for _, v := range []struct{ n, want int64 }{
		{1, 2}, {2, 4}, {3, 8}, {5, 8}, {85, 128}, {86, 256}, {100, 256}, {170, 256}, {171, 512}, {1000, 2048},
		{999999, 2097152}, {1000000, 2097152}, {1398101, 2097152}, {1398102, 4194304}, {1048576, 2097152},
		{12345678901, 34359738368}, {1000000000000000, 2251799813685248},
	} {
		if got, err := roundUp(v.n); err != nil || got != v.want {
			t.Errorf("roundUp(%d) = %d, %v; want %d", v.n, got, err, v.want)
		}
	}
	for _, n := range []int64{0, -1, 1 << 62} {
		if _, err := roundUp(n); !errors.Is(err, ErrBadCount) {
			t.Errorf("roundUp(%d): %v; want ErrBadCount", n, err)
		}
	}
}

func TestExpected(t *testing.T) {
	ctx := t.Context()
	next := day.AddDate(0, 0, 1)
	for _, tc := range []struct {
		name      string
		yesterday string // "" means absent
		stored    string // a value another process already wrote
		want      int64
		err       error
	}{
		{name: "unknown", want: 2097152},
		{name: "yesterday 100", yesterday: "100", want: 256},
		{name: "yesterday 85 (book: shard_key divides by zero)", yesterday: "85", want: 128},
		{name: "yesterday 0 (book: log(0))", yesterday: "0", want: 2097152},
		{name: "yesterday empty", yesterday: "\x00", want: 2097152},
		{name: "another process won", yesterday: "100", stored: "4096", want: 4096},
		{name: "yesterday garbage", yesterday: "lots", err: ErrBadCount},
		{name: "stored garbage", stored: "x", err: ErrBadCount},
		{name: "stored zero", stored: "0", err: ErrBadCount},
		// Spellings Go's ParseInt reads but Redis never writes (and INCR refuses).
		{name: "stored +4096", stored: "+4096", err: ErrBadCount},
		{name: "stored 04096", stored: "04096", err: ErrBadCount},
		{name: "yesterday +100", yesterday: "+100", err: ErrBadCount},
		{name: "yesterday -0", yesterday: "-0", err: ErrBadCount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := mini(t)
			switch tc.yesterday {
			case "":
			case "\x00":
				m.Set("unique:2024-03-01", "")
			default:
				m.Set("unique:2024-03-01", tc.yesterday)
			}
			if tc.stored != "" {
				m.Set("unique:2024-03-02:expected", tc.stored)
			}
			got, err := Expected(ctx, c, next, 0)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Expected = %d, %v; want %v", got, err, tc.err)
				}
				if tc.stored == "" && m.Exists("unique:2024-03-02:expected") {
					t.Error("a failed Expected stored a value")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Expected = %d, %v; want %d", got, err, tc.want)
			}
			if s, _ := m.Get("unique:2024-03-02:expected"); s != fmt.Sprint(tc.want) {
				t.Errorf("stored expected %q; want %d", s, tc.want)
			}
		})
	}
}

// setBeforeSetNX is a competing process: it stores its expected size just before our SETNX, after
// our GET found none.
type setBeforeSetNX struct {
	m         *miniredis.Miniredis
	key, val  string
	setnxSeen *atomic.Int32
}

func (h setBeforeSetNX) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h setBeforeSetNX) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "setnx" || (cmd.Name() == "set" && len(cmd.Args()) > 3) {
			h.setnxSeen.Add(1)
			h.m.Set(h.key, h.val)
		}
		return next(ctx, cmd)
	}
}
func (h setBeforeSetNX) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestExpectedLosesSetNX: when another process stores the day's expected size between our GET and
// our SETNX, Expected returns the stored value, not the one computed here, so processes agree.
func TestExpectedLosesSetNX(t *testing.T) {
	ctx := t.Context()
	m, c := mini(t)
	m.Set("unique:2024-02-29", "100") // computed here: 256
	var seen atomic.Int32
	c.AddHook(setBeforeSetNX{m: m, key: "unique:2024-03-01:expected", val: "4096", setnxSeen: &seen})
	got, err := Expected(ctx, c, day, 0)
	if err != nil || got != 4096 {
		t.Fatalf("Expected = %d, %v; want 4096, the competing process's value", got, err)
	}
	if seen.Load() != 1 {
		t.Fatalf("SETNX sent %d times; want 1 (else the race was not staged)", seen.Load())
	}
	if s, _ := m.Get("unique:2024-03-01:expected"); s != "4096" {
		t.Errorf("stored %q; want 4096 kept", s)
	}
}

// TestExpectedProcessesAgree runs get_expected from many clients at once (race detector, one stored
// value); TestExpectedLosesSetNX checks that a loser returns the winner's value.
func TestExpectedProcessesAgree(t *testing.T) {
	ctx := t.Context()
	m, _ := mini(t)
	m.Set("unique:2024-02-29", "1000")
	var wg sync.WaitGroup
	results := make([]int64, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: m.Addr()})
			defer c.Close()
			v, err := Expected(ctx, c, day, 0)
			if err != nil {
				t.Error(err)
			}
			results[i] = v
		}()
	}
	wg.Wait()
	for i, v := range results {
		if v != 2048 {
			t.Errorf("process %d: expected %d; want 2048", i, v)
		}
	}
}

func TestCountVisitOneServer(t *testing.T) {
	ctx := t.Context()
	m, c := mini(t)
	for i, v := range sessionVectors {
		got, err := CountVisit(ctx, c, v.sid, day)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != v.id || got.Set != v.set || !got.New || got.Count != int64(i+1) || got.Day != "2024-03-01" {
			t.Errorf("CountVisit(%q) = %+v; want id %d in %s, new, count %d", v.sid, got, v.id, v.set, i+1)
		}
		if ok, _ := m.SIsMember(v.set, fmt.Sprint(v.id)); !ok {
			t.Errorf("%d not in %s", v.id, v.set)
		}
	}
	again, err := CountVisit(ctx, c, sessionVectors[0].sid, day)
	if err != nil || again.New || again.Count != 0 {
		t.Errorf("second visit = %+v, %v; want not new", again, err)
	}
	if n, err := Count(ctx, c, day); err != nil || n != int64(len(sessionVectors)) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(sessionVectors))
	}
	if n, err := Count(ctx, c, day.AddDate(0, 0, 1)); err != nil || n != 0 {
		t.Errorf("Count of an uncounted day = %d, %v; want 0", n, err)
	}
	for _, bad := range []string{"many", "+5", "05", "-0", "-5", " 5"} {
		m.Set("unique:2024-03-05", bad)
		if _, err := Count(ctx, c, time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)); !errors.Is(err, ErrBadCount) {
			t.Errorf("Count of %q: %v; want ErrBadCount (not a count Redis could have written)", bad, err)
		}
	}
	// A malformed id writes nothing.
	before := len(m.Keys())
	if _, err := CountVisit(ctx, c, "not-a-session", day); !errors.Is(err, ErrBadSessionID) {
		t.Errorf("CountVisit(bad id): %v", err)
	}
	if len(m.Keys()) != before {
		t.Error("a malformed session id wrote keys")
	}
	// Yesterday's 85 visitors give an expected size of 128: the book's shard_key divided by zero
	// (2*128 // 512 shards); here the day has one set shard.
	m.Set("unique:2024-03-09", "85")
	v, err := CountVisit(ctx, c, sessionVectors[0].sid, time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC))
	if err != nil || v.Set != "unique:2024-03-10:0" || !v.New {
		t.Errorf("CountVisit after a quiet day = %+v, %v; want unique:2024-03-10:0", v, err)
	}
	// Expected sizes that shard.Key cannot use are errors, not panics.
	if _, err := Add(ctx, c, c, day, 1, 0, 512); !errors.Is(err, ErrBadCount) {
		t.Errorf("Add with expected 0: %v", err)
	}
}

func TestHLL(t *testing.T) {
	ctx := t.Context()
	_, c := mini(t)
	for i := 0; i < 100; i++ {
		sid := fmt.Sprintf("%08x-0000-4000-8000-%012x", i%60, i) // 60 visitors under 100 session ids
		if _, err := CountVisitHLL(ctx, c, sid, day); err != nil {
			t.Fatal(err)
		}
	}
	n, err := UniqueHLL(ctx, c, day)
	if err != nil || n < 58 || n > 62 {
		t.Errorf("UniqueHLL = %d, %v; want about 60", n, err)
	}
	if _, err := CountVisitHLL(ctx, c, "nope", day); !errors.Is(err, ErrBadSessionID) {
		t.Errorf("CountVisitHLL(bad id): %v", err)
	}
}
