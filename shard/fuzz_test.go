package shard

import (
	"errors"
	"hash/crc32"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzKey: any key and sizes give a shard key or one of the documented errors, never a panic; the
// shard id is a non-negative decimal; a hashed key lands inside the shard count, on the shard that
// the mode's bytes give: in the Python3 mode crc32 of the key's latin-1 bytes (or ErrNotLatin1,
// exactly when the key has a rune above U+00FF or invalid UTF-8), in the Python2 mode the signed
// crc32 of its UTF-8 bytes; and for ASCII keys the two modes agree whenever the shard count is a
// power of two, as the package doc promises.
func FuzzKey(f *testing.F) {
	for _, s := range []struct {
		key         string
		total, size int
	}{{"foo", 1000, 512}, {"010", 1000, 512}, {"١٢", 16, 2}, {"²", 10, 3}, {"", 1, 1},
		{"123456789012345678901234567890", 1 << 20, 7}, {"x42", 3, 2}, {"-5", 0, 512}, {"7", 1, 0},
		{"héllo", 1000, 3}, {"中文", 16, 2}, {"\xff", 16, 2}, {"①", 10, 3}, {"xÿ", 64, 2}} {
		f.Add(s.key, s.total, s.size)
	}
	f.Fuzz(func(t *testing.T, key string, total, size int) {
		for _, mode := range []HashMode{Python3, Python2} {
			got, err := Key("base", key, total, size, mode)
			_, decimalKey := decimal(key, mode)
			if err != nil {
				switch {
				case errors.Is(err, ErrBadShardSize), errors.Is(err, ErrBadTotal):
				case errors.Is(err, ErrNotLatin1):
					var ee *EncodeError
					if mode != Python3 || decimalKey || latin1OK(key) || !errors.As(err, &ee) || ee.Pos < 0 || ee.Pos >= len(key) {
						t.Fatalf("Key(%q, %v): %v; ErrNotLatin1 is for Python3 keys above U+00FF only", key, mode, err)
					}
				default:
					t.Fatalf("Key(%q, %d, %d, %v): unexpected error %v", key, total, size, mode, err)
				}
				continue
			}
			id, ok := strings.CutPrefix(got, "base:")
			if !ok || id == "" || strings.TrimLeft(id, "0123456789") != "" || (len(id) > 1 && id[0] == '0') {
				t.Fatalf("Key(%q, %d, %d, %v) = %q; want base:<decimal>", key, total, size, mode, got)
			}
			if decimalKey {
				continue
			}
			n := Shards(total, size)
			var want int
			if mode == Python3 {
				if !latin1OK(key) {
					t.Fatalf("Key(%q, Python3) = %q; want ErrNotLatin1", key, got)
				}
				var b []byte
				for _, r := range key {
					b = append(b, byte(r))
				}
				want = int(uint64(crc32.ChecksumIEEE(b)) % uint64(n))
			} else {
				want = python2Index([]byte(key), n)
			}
			if id != strconv.Itoa(want) {
				t.Fatalf("hashed key %q (%v) went to shard %s of %d; want %d", key, mode, id, n, want)
			}
		}
		if size >= 1 && total >= 1 && total <= maxTotal && ascii(key) {
			if n := Shards(total, size); n&(n-1) == 0 {
				a, _ := Index(key, n, Python3)
				b, _ := Index(key, n, Python2)
				if a != b {
					t.Fatalf("Index(%q, %d): python3 %d, python2 %d; modes must agree on a power of two", key, n, a, b)
				}
			}
		}
	})
}

// latin1OK reports whether Python 3 could encode the key as latin-1.
func latin1OK(key string) bool {
	if !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		if r > 0xFF {
			return false
		}
	}
	return true
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
