package shard

import (
	"errors"
	"strconv"
	"testing"
	"unicode"
)

// keyVectors were computed with CPython 3.11: python3 = the book's shard_key with binascii.crc32 over
// the UTF-8 key and str.isdigit(); python2 = the same over bytes, with the crc32 signed as Python 2
// (and rb) return it. Python's % is a floor modulo.
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
	{"h", "١٢٣", 100, 10, "h:12", "h:3"},
	{"h", "１２３４", 100, 10, "h:123", "h:2"},
	{"h", "१०२४", 1000, 512, "h:2", "h:1"},
	{"h", "𝟗𝟗", 100, 10, "h:9", "h:15"},
	{"h", "héllo", 1000, 3, "h:110", "h:214"},
	{"unique", "x0", 16, 2, "unique:13", "unique:13"},
	{"unique", "x1", 16, 2, "unique:11", "unique:11"},
	{"unique", "x6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2", 16, 2, "unique:13", "unique:13"},
	{"unique", "xabc", 6, 2, "unique:1", "unique:1"},
	{"unique", "xabc", 5, 2, "unique:2", "unique:2"},
	{"unique", "xfoo", 12, 2, "unique:4", "unique:0"},
	{"c", "xsession-1", 10, 2, "c:2", "c:6"},
	{"c", "xsession-2", 10, 2, "c:0", "c:0"},
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
	// The modes agree on powers of two.
	for _, key := range []string{"foo", "bar", "baz", "x1", "user:2", "héllo"} {
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
	// Python 3's isdigit() accepts "²" but int() raises ValueError: here it is hashed, in both modes.
	for _, key := range []string{"²", "①", "1²"} {
		want, _ := Index(key, 10, Python3)
		got, err := Key("b", key, 500, 100, Python3)
		if err != nil || got != "b:"+strconv.Itoa(want) {
			t.Errorf("Key(%q) = %q, %v; want crc32 shard b:%d", key, got, err, want)
		}
	}
	// Invalid UTF-8 is not decimal.
	if _, ok := decimal("1\xff2", Python3); ok {
		t.Error("decimal(invalid UTF-8) = true")
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
}
