package shard

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// keyVectors were computed with CPython 3.11. python3 is the book's shard_key as its repository has it
// for Python 3 (python/ch09_listing_source.py): str.isdigit(), then binascii.crc32 (unsigned) over the
// key's latin-1 encoding. python2 is the same over the key's UTF-8 bytes (as rb and a Python 2 program
// hold them), with bytes.isdigit() and the crc32 signed as Python 2 and rb return it. Python's % is a
// floor modulo.
var keyVectors = []struct {
	base, key        string
	total, size      int
	python3, python2 string
}{
	{"b", "foo", 3, 2, "b:2", "b:1"},
	{"b", "bar", 3, 2, "b:2", "b:2"},
	{"b", "baz", 3, 2, "b:0", "b:0"},
	{"b", "foo", 4, 2, "b:1", "b:1"},
	{"unique:2024-03-01", "x123456789012345", 1000000, 512, "unique:2024-03-01:1256", "unique:2024-03-01:1252"},
	{"unique:2024-03-01", "x1", 1536, 512, "unique:2024-03-01:3", "unique:2024-03-01:5"},
	{"unique:2024-03-01", "x1", 1000, 512, "unique:2024-03-01:0", "unique:2024-03-01:2"},
	{"h", "010", 100, 512, "h:0", "h:0"},
	{"h", "010", 100, 1, "h:10", "h:10"}, // base 10: not 8 (octal), not a hash
	{"h", "010", 100, 3, "h:3", "h:3"},
	{"h", "0", 100, 512, "h:0", "h:0"},
	{"h", "511", 100, 512, "h:0", "h:0"},
	{"h", "512", 100, 512, "h:1", "h:1"},
	{"h", "1023", 100, 512, "h:1", "h:1"},
	{"h", "123456789012345678901234567890", 100, 512, "h:241126541039737654103973765", "h:241126541039737654103973765"},
	{"h", "99999999999999999999", 100, 7, "h:14285714285714285714", "h:14285714285714285714"},
	{"h", "", 100, 7, "h:0", "h:0"},
	{"h", "x", 100, 7, "h:15", "h:11"},
	{"h", "-5", 100, 7, "h:3", "h:3"},
	{"h", "5a", 100, 7, "h:11", "h:7"},
	{"h", " 5", 100, 7, "h:6", "h:2"},
	{"h", "user:1", 10000, 512, "h:24", "h:24"},
	{"h", "user:2", 10000, 512, "h:28", "h:6"},
	{"h", "user:3", 10000, 512, "h:15", "h:32"},
	{"h", "hello world", 10000, 300, "h:57", "h:57"},
	// Unicode digits are int()'s in Python 3 and never encoded; bytes to Python 2.
	{"h", "١٢٣", 100, 10, "h:12", "h:3"},
	{"h", "１２３４", 100, 10, "h:123", "h:2"},
	{"h", "१०२४", 1000, 512, "h:2", "h:1"},
	{"h", "𝟗𝟗", 100, 10, "h:9", "h:15"},
	// latin-1 in Python 3 ("é" is the byte 0xE9), UTF-8 in Python 2 and rb.
	{"h", "héllo", 1000, 3, "h:289", "h:214"},
	{"h", "café", 1000, 3, "h:193", "h:463"},
	{"h", "ÿ", 100, 7, "h:24", "h:3"},
	{"h", "\u0080\u0081", 100, 7, "h:2", "h:19"},
	{"h", "Ünïcödé", 10000, 512, "h:18", "h:21"},
	{"h", "naïve", 16, 2, "h:13", "h:6"},
	{"h", "\u0000", 100, 7, "h:9", "h:5"},
	{"h", "µ", 1000, 3, "h:658", "h:194"},
	{"unique", "x0", 16, 2, "unique:13", "unique:13"},
	{"unique", "x1", 16, 2, "unique:11", "unique:11"},
	{"unique", "x6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", 16, 2, "unique:13", "unique:13"},
	{"unique", "xabc", 6, 2, "unique:1", "unique:1"},
	{"unique", "xabc", 5, 2, "unique:2", "unique:2"},
	{"unique", "xfoo", 12, 2, "unique:4", "unique:0"},
	{"c", "xsession-1", 10, 2, "c:2", "c:6"},
	{"c", "xsession-2", 10, 2, "c:0", "c:0"},
	{"c", "xé", 10, 2, "c:3", "c:5"},
}

// notLatin1 are keys the book's Python 3 shard_key refuses with UnicodeEncodeError (CPython 3.11:
// "'latin-1' codec can't encode character '\u20ac' in position 1"), with the byte offset of the
// first character it cannot encode. Python 2 mode hashes their UTF-8 bytes (python2 shard of 1000
// elements in shards of 3).
var notLatin1 = []struct {
	key     string
	pos     int
	r       rune
	python2 string
}{
	{"中文", 0, '中', "h:103"},
	{"h€llo", 1, '€', "h:500"},
	{"ĀB", 0, 'Ā', "h:83"},
	{"aĀ", 1, 'Ā', "h:427"},
	{"héllo wörld ☃", 14, '☃', "h:598"},
	{"①", 0, '①', "h:257"}, // isdigit() but not int(): hashed, and not latin-1
}

func TestKeyVectors(t *testing.T) {
	for _, v := range keyVectors {
		for _, m := range []struct {
			mode HashMode
			want string
		}{{Python3, v.python3}, {Python2, v.python2}} {
			got, err := Key(v.base, v.key, v.total, v.size, m.mode)
			if err != nil {
				t.Errorf("Key(%q, %q, %d, %d, %v): %v", v.base, v.key, v.total, v.size, m.mode, err)
				continue
			}
			if got != m.want {
				t.Errorf("Key(%q, %q, %d, %d, %v) = %q; want %q", v.base, v.key, v.total, v.size, m.mode, got, m.want)
			}
		}
	}
}

func TestIndexModes(t *testing.T) {
	// rb's test_router_basics: 3 hosts route foo, bar, baz to 1, 2, 0.
	for key, want := range map[string]int{"foo": 1, "bar": 2, "baz": 0} {
		if got, _ := Index(key, 3, Python2); got != want {
			t.Errorf("Index(%q, 3, Python2) = %d; want %d", key, got, want)
		}
	}
	if got, _ := Index("foo", 3, Python3); got != 2 { // unsigned crc32("foo") = 2356372769
		t.Errorf("Index(foo, 3, Python3) = %d; want 2", got)
	}
	// The modes agree on powers of two for ASCII keys (the same bytes in both).
	for _, key := range []string{"foo", "bar", "baz", "x1", "user:2", ""} {
		for _, n := range []int{1, 2, 4, 16, 1024} {
			a, _ := Index(key, n, Python3)
			b, _ := Index(key, n, Python2)
			if a != b {
				t.Errorf("Index(%q, %d): python3 %d, python2 %d; want equal", key, n, a, b)
			}
		}
	}
}

func TestKeyBadInput(t *testing.T) {
	cases := []struct {
		name        string
		total, size int
		mode        HashMode
		want        error
	}{
		{"zero shard size", 100, 0, Python3, ErrBadShardSize},
		{"negative shard size", 100, -512, Python3, ErrBadShardSize},
		{"zero total", 0, 512, Python3, ErrBadTotal},
		{"negative total", -1, 512, Python2, ErrBadTotal},
		{"total too large to double", maxTotal + 1, 512, Python3, ErrBadTotal},
		{"unknown mode", 100, 512, HashMode(7), ErrBadMode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, key := range []string{"123", "abc"} {
				got, err := Key("b", key, tc.total, tc.size, tc.mode)
				if !errors.Is(err, tc.want) {
					t.Fatalf("Key(%q) = %q, %v; want %v", key, got, err, tc.want)
				}
			}
		})
	}
	if _, err := Index("k", 0, Python3); !errors.Is(err, ErrBadShards) {
		t.Errorf("Index(k, 0) error %v; want ErrBadShards", err)
	}
	if _, err := Component("unique", "k", 0); !errors.Is(err, ErrBadShards) {
		t.Errorf("Component(unique, k, 0) error %v; want ErrBadShards", err)
	}
}

func TestKeyErrata(t *testing.T) {
	// The book divides by zero when 2*total < size: here, one shard.
	if got, err := Key("b", "abc", 100, 512, Python3); err != nil || got != "b:0" {
		t.Errorf("Key with 2*total < size = %q, %v; want b:0", got, err)
	}
	// Python 3's isdigit() accepts "²" but int() raises ValueError: here it is hashed, in both modes
	// (over latin-1 in the Python3 mode, so "①", above U+00FF, is refused there).
	for _, key := range []string{"²", "①", "1²"} {
		for _, mode := range []HashMode{Python3, Python2} {
			want, ierr := Index(key, 10, mode)
			got, err := Key("b", key, 500, 100, mode)
			if mode == Python3 && key == "①" {
				if !errors.Is(err, ErrNotLatin1) || !errors.Is(ierr, ErrNotLatin1) {
					t.Errorf("Key(%q, Python3): %v; want ErrNotLatin1", key, err)
				}
				continue
			}
			if err != nil || got != "b:"+strconv.Itoa(want) {
				t.Errorf("Key(%q, %v) = %q, %v; want crc32 shard b:%d", key, mode, got, err, want)
			}
		}
	}
	// Invalid UTF-8 is not decimal.
	if _, ok := decimal("1\xff2", Python3); ok {
		t.Error("decimal(invalid UTF-8) = true")
	}
}

// TestNotLatin1: the book's Python 3 shard_key raises UnicodeEncodeError for a key with a character
// above U+00FF; every Python3-mode function that hashes a key returns ErrNotLatin1 as an *EncodeError
// naming the character's byte offset, never a shard, and writes nothing. The Python2 mode hashes
// the UTF-8 bytes.
func TestNotLatin1(t *testing.T) {
	ctx := t.Context()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	check := func(what string, err error, pos int, r rune) {
		t.Helper()
		var ee *EncodeError
		if !errors.Is(err, ErrNotLatin1) || !errors.As(err, &ee) || ee.Pos != pos || ee.Rune != r || ee.Invalid {
			t.Errorf("%s: %v; want an *EncodeError at byte %d for %U", what, err, pos, r)
		}
	}
	for _, v := range notLatin1 {
		got, err := Key("h", v.key, 1000, 3, Python3)
		check(fmt.Sprintf("Key(%q)", v.key), err, v.pos, v.r)
		if got != "" {
			t.Errorf("Key(%q) = %q alongside its error", v.key, got)
		}
		_, err = Index(v.key, 7, Python3)
		check(fmt.Sprintf("Index(%q)", v.key), err, v.pos, v.r)
		_, err = ID(v.key, 1000, 3, Python3)
		check(fmt.Sprintf("ID(%q)", v.key), err, v.pos, v.r)
		_, err = Component("unique", v.key, 16) // hashes "x"+key
		check(fmt.Sprintf("Component(%q)", v.key), err, v.pos+1, v.r)
		_, err = HSet(ctx, c, "h", v.key, "v", 1000, 3)
		check(fmt.Sprintf("HSet(%q)", v.key), err, v.pos, v.r)
		_, err = HGet(ctx, c, "h", v.key, 1000, 3)
		check(fmt.Sprintf("HGet(%q)", v.key), err, v.pos, v.r)
		_, err = SAdd(ctx, c, "s", v.key, 1000, 3)
		check(fmt.Sprintf("SAdd(%q)", v.key), err, v.pos+1, v.r)
		if got, err := Key("h", v.key, 1000, 3, Python2); err != nil || got != v.python2 {
			t.Errorf("Key(%q, Python2) = %q, %v; want %q (UTF-8, as rb)", v.key, got, err, v.python2)
		}
	}
	if keys := m.Keys(); len(keys) != 0 {
		t.Errorf("refused keys wrote %v", keys)
	}
	// Invalid UTF-8: a Python 3 str cannot hold these bytes, so the Python3 mode refuses them.
	for key, pos := range map[string]int{"ab\xffc": 2, "\xc3": 0, "é\xe9": 2, "x\xed\xa0\x80": 1, "\x80": 0} {
		_, err := Key("h", key, 1000, 3, Python3)
		var ee *EncodeError
		if !errors.Is(err, ErrNotLatin1) || !errors.As(err, &ee) || !ee.Invalid || ee.Pos != pos {
			t.Errorf("Key(%q, Python3): %v; want invalid UTF-8 at byte %d", key, err, pos)
		}
		if _, err := Key("h", key, 1000, 3, Python2); err != nil {
			t.Errorf("Key(%q, Python2): %v; want its bytes hashed", key, err)
		}
	}
	// The message says where, not what the key is.
	_, err := Key("h", "secret-token-€", 1000, 3, Python3)
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "byte 13") {
		t.Errorf("error %q; want the position, not the key", err)
	}
}

// latin1Of is Python 3's str.encode('latin-1') for runes below U+0100, computed from the runes.
func latin1Of(t *testing.T, key string) []byte {
	t.Helper()
	var b []byte
	for _, r := range []rune(key) {
		if r > 0xFF {
			t.Fatalf("latin1Of(%q): rune %U", key, r)
		}
		b = append(b, byte(r))
	}
	return b
}

// python2Index is rb's crc32 % n: the signed crc32 of the bytes, with a floor modulo.
func python2Index(b []byte, n int) int {
	m := int64(int32(crc32.ChecksumIEEE(b))) % int64(n)
	if m < 0 {
		m += int64(n)
	}
	return int(m)
}

// TestLatin1Property: for random keys of runes below U+0100, the Python3 mode is crc32 of their
// latin-1 bytes; one rune above U+00FF anywhere gives the typed error at its offset; the Python2
// mode always hashes the UTF-8 bytes.
func TestLatin1Property(t *testing.T) {
	state := uint64(time.Now().UnixNano())
	t.Logf("rand.NewPCG(%d, ...)", state)
	r := rand.New(rand.NewPCG(state, 3))
	for i := 0; i < 5000; i++ {
		runes := make([]rune, r.IntN(24))
		for j := range runes {
			runes[j] = rune(r.IntN(0x100))
		}
		key := string(runes)
		n := 1 + r.IntN(5000)
		got, err := Index(key, n, Python3)
		if want := int(crc32.ChecksumIEEE(latin1Of(t, key)) % uint32(n)); err != nil || got != want {
			t.Fatalf("Index(%q, %d, Python3) = %d, %v; want %d (latin-1)", key, n, got, err, want)
		}
		if got, err := Index(key, n, Python2); err != nil || got != python2Index([]byte(key), n) {
			t.Fatalf("Index(%q, %d, Python2) = %d, %v; want %d (UTF-8)", key, n, got, err, python2Index([]byte(key), n))
		}
		if _, dec := decimal(key, Python3); !dec {
			id, err := ID(key, n, 1, Python3)
			if want := strconv.Itoa(int(crc32.ChecksumIEEE(latin1Of(t, key)) % uint32(2*n))); err != nil || id != want {
				t.Fatalf("ID(%q, %d, 1) = %q, %v; want %s", key, n, id, err, want)
			}
		}
		// One rune latin-1 cannot encode, at a random place.
		var wide rune
		for wide = rune(0x100 + r.IntN(0x10FFFF-0x100)); !utf8.ValidRune(wide); wide = rune(0x100 + r.IntN(0x10FFFF-0x100)) {
		}
		at := r.IntN(len(runes) + 1)
		bad := string(runes[:at]) + string(wide) + string(runes[at:])
		_, err = Index(bad, n, Python3)
		var ee *EncodeError
		if !errors.Is(err, ErrNotLatin1) || !errors.As(err, &ee) || ee.Pos != len(string(runes[:at])) || ee.Rune != wide {
			t.Fatalf("Index(%q, Python3): %v; want an *EncodeError for %U at byte %d", bad, err, wide, len(string(runes[:at])))
		}
		if got, err := Index(bad, n, Python2); err != nil || got != python2Index([]byte(bad), n) {
			t.Fatalf("Index(%q, %d, Python2) = %d, %v; want %d (UTF-8)", bad, n, got, err, python2Index([]byte(bad), n))
		}
	}
}

// TestDigitRanges checks digitValue's assumption: every range of Unicode decimal digits is made of
// whole runs of ten starting at a zero, so the offset in the range modulo ten is the digit's value.
func TestDigitRanges(t *testing.T) {
	check := func(lo, hi uint32) {
		if (hi-lo+1)%10 != 0 {
			t.Errorf("Nd range %U..%U holds %d runes, not whole runs of ten", lo, hi, hi-lo+1)
		}
	}
	for _, r := range unicode.Nd.R16 {
		if r.Stride != 1 {
			t.Errorf("Nd range %U..%U has stride %d", r.Lo, r.Hi, r.Stride)
		}
		check(uint32(r.Lo), uint32(r.Hi))
	}
	for _, r := range unicode.Nd.R32 {
		if r.Stride != 1 {
			t.Errorf("Nd range %U..%U has stride %d", r.Lo, r.Hi, r.Stride)
		}
		check(r.Lo, r.Hi)
	}
	// Spot checks against unicodedata.decimal.
	for r, want := range map[rune]int{'٣': 3, '९': 9, '７': 7, '𝟎': 0, '𝟡': 9, '𝟿': 9, '᠐': 0} {
		if got, ok := digitValue(r); !ok || got != want {
			t.Errorf("digitValue(%U) = %d, %v; want %d", r, got, ok, want)
		}
	}
	if _, ok := digitValue('²'); ok {
		t.Error("digitValue(²) ok; want not a decimal digit")
	}
}

func TestShards(t *testing.T) {
	for _, tc := range []struct{ total, size, want int }{
		{1_000_000, 512, 3906}, {2097152, 512, 8192}, {256, 512, 1}, {255, 512, 1}, {1, 512, 1}, {16, 2, 16},
	} {
		if got := Shards(tc.total, tc.size); got != tc.want {
			t.Errorf("Shards(%d, %d) = %d; want %d", tc.total, tc.size, got, tc.want)
		}
	}
}

func TestComponent(t *testing.T) {
	// get_sharded_connection is shard_key(component, 'x'+key, shard_count, 2): vectors from the table.
	for key, want := range map[string]string{"0": "unique:13", "1": "unique:11", "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2": "unique:13"} {
		if got, err := Component("unique", key, 16); err != nil || got != want {
			t.Errorf("Component(unique, %q, 16) = %q, %v; want %q", key, got, err, want)
		}
	}
	if got, _ := Component("c", "session-1", 10); got != "c:2" {
		t.Errorf("Component(c, session-1, 10) = %q; want c:2 (Python 3)", got)
	}
	if got, err := Component("c", "é", 10); err != nil || got != "c:3" { // latin-1 "x\xe9"; UTF-8 gives c:5
		t.Errorf("Component(c, é, 10) = %q, %v; want c:3 (Python 3, latin-1)", got, err)
	}
}
