package shard

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
)

// The explanation must be the computation: the same id as ID, and numbers that give that id.
func TestExplainKeyAgreesWithID(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("0123456789abcXYZ:{}é١٢漢\x00")
	for i := 0; i < 20000; i++ {
		n := rng.IntN(12)
		rs := make([]rune, n)
		for j := range rs {
			rs[j] = alphabet[rng.IntN(len(alphabet))]
		}
		key := string(rs)
		if rng.IntN(20) == 0 {
			key += "\xff" // invalid UTF-8
		}
		total, size := 1+rng.IntN(1<<21), 1+rng.IntN(4096)
		for _, mode := range []HashMode{Python3, Python2} {
			want, werr := ID(key, total, size, mode)
			got, err := ExplainKey(key, total, size, mode)
			if (err != nil) != (werr != nil) || (err != nil && !errors.Is(err, ErrNotLatin1)) {
				t.Fatalf("ExplainKey(%q, %d, %d, %v) error %v; ID's %v", key, total, size, mode, err, werr)
			}
			if err != nil {
				continue
			}
			if got.ID != want {
				t.Fatalf("ExplainKey(%q, %d, %d, %v).ID = %s; ID gives %s", key, total, size, mode, got.ID, want)
			}
			if got.Numeric {
				if q := divide(got.Digits, size); q != want {
					t.Fatalf("%q: digits %s // %d = %s; want %s", key, got.Digits, size, q, want)
				}
				continue
			}
			m := got.CRC32 % int64(got.Shards)
			if m < 0 {
				m += int64(got.Shards)
			}
			if got.Shards != Shards(total, size) || strconv.FormatInt(m, 10) != want {
				t.Fatalf("%q %v: crc32 %d %% %d = %d; want %s", key, mode, got.CRC32, got.Shards, m, want)
			}
		}
	}
}

func TestExplainKeyVectors(t *testing.T) {
	// The package doc's vectors: "héllo" is shard 289 of 1000 elements in shards of 3 (Python3),
	// 214 in the Python2 mode; "١٢٣" is the digits 123.
	for _, tc := range []struct {
		key     string
		mode    HashMode
		id      string
		numeric bool
	}{
		{"héllo", Python3, "289", false},
		{"héllo", Python2, "214", false},
		{"١٢٣", Python3, "41", true},
		{"123", Python2, "41", true},
	} {
		got, err := ExplainKey(tc.key, 1000, 3, tc.mode)
		if err != nil || got.ID != tc.id || got.Numeric != tc.numeric {
			t.Errorf("ExplainKey(%q, 1000, 3, %v) = %+v, %v; want id %s numeric %v", tc.key, tc.mode, got, err, tc.id, tc.numeric)
		}
	}
	if _, err := ExplainKey("x", 0, 3, Python3); !errors.Is(err, ErrBadTotal) {
		t.Errorf("total 0: %v; want ErrBadTotal", err)
	}
	if _, err := Checksum("x", HashMode(7)); !errors.Is(err, ErrBadMode) {
		t.Errorf("mode 7: %v; want ErrBadMode", err)
	}
}

// Slot hashes exactly what HashTag returns.
func TestHashTagIsWhatSlotHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "{}ab:"
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.IntN(10))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		key := string(b)
		if got, want := int(crc16(HashTag(key))%16384), Slot(key); got != want {
			t.Fatalf("key %q: crc16(HashTag %q) %% 16384 = %d; Slot = %d", key, HashTag(key), got, want)
		}
	}
	for key, tag := range map[string]string{"{user:1}:cart": "user:1", "a{}b": "a{}b", "{a}{b}": "a", "x{y": "x{y"} {
		if got := HashTag(key); got != tag {
			t.Errorf("HashTag(%q) = %q; want %q", key, got, tag)
		}
	}
}
