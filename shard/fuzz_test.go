package shard

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzKey: any key and sizes give a shard key or one of the documented errors, never a panic; the
// shard id is a non-negative decimal; a hashed key lands inside the shard count; and the two hash
// modes agree whenever the shard count is a power of two, as the package doc promises.
func FuzzKey(f *testing.F) {
	for _, s := range []struct {
		key         string
		total, size int
	}{{"foo", 1000, 512}, {"010", 1000, 512}, {"١٢", 16, 2}, {"²", 10, 3}, {"", 1, 1},
		{"123456789012345678901234567890", 1 << 20, 7}, {"x42", 3, 2}, {"-5", 0, 512}, {"7", 1, 0}} {
		f.Add(s.key, s.total, s.size)
	}
	f.Fuzz(func(t *testing.T, key string, total, size int) {
		for _, mode := range []HashMode{Python3, Python2} {
			got, err := Key("base", key, total, size, mode)
			if err != nil {
				if !errors.Is(err, ErrBadShardSize) && !errors.Is(err, ErrBadTotal) {
					t.Fatalf("Key(%q, %d, %d, %v): unexpected error %v", key, total, size, mode, err)
				}
				continue
			}
			id, ok := strings.CutPrefix(got, "base:")
			if !ok || id == "" || strings.TrimLeft(id, "0123456789") != "" || (len(id) > 1 && id[0] == '0') {
				t.Fatalf("Key(%q, %d, %d, %v) = %q; want base:<decimal>", key, total, size, mode, got)
			}
			if _, decimalKey := decimal(key, mode); !decimalKey {
				n, err := strconv.Atoi(id)
				if err != nil || n >= Shards(total, size) {
					t.Fatalf("hashed key %q went to shard %s of %d", key, id, Shards(total, size))
				}
			}
		}
		if size >= 1 && total >= 1 && total <= maxTotal {
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
