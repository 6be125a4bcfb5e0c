package shard

import (
	"fmt"
	"hash/crc32"
	"math/big"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// HashMode says which reference implementation a crc32 shard choice reproduces: which bytes of the
// key are hashed, and how the crc32 is reduced. For ASCII keys the modes agree whenever the number
// of shards is a power of two.
type HashMode int

const (
	// Python3 is the book's code under Python 3 (python/ch09_listing_source.py in the book's
	// repository): shard_key encodes a str key as latin-1 before binascii.crc32, which is unsigned.
	// So each character U+0000..U+00FF is one byte ("é" is 0xE9, not UTF-8's 0xC3 0xA9), and a key
	// with a character above U+00FF, or a Go string that is not valid UTF-8, fails with
	// ErrNotLatin1 as Python raises UnicodeEncodeError. str.isdigit() accepts every Unicode decimal
	// digit ("١٢" is 12); digit keys are never encoded. It is the default (the zero value).
	Python3 HashMode = iota

	// Python2 is the printed book under Python 2 and rb's PartitionRouter (which signs the crc32
	// on Python 3 too, to keep Python 2 routing): the key's bytes as they are (UTF-8 for text, as rb
	// encodes a str and as a Python 2 program reading UTF-8 holds it; any bytes are accepted), a
	// signed crc32 with Python's floor modulo, and byte-string isdigit(), true only for ASCII "0" to
	// "9".
	Python2
)

func (m HashMode) String() string {
	switch m {
	case Python3:
		return "python3"
	case Python2:
		return "python2"
	}
	return "HashMode(" + strconv.Itoa(int(m)) + ")"
}

func (m HashMode) valid() bool { return m == Python3 || m == Python2 }

// Index returns crc32(key) modulo n as the mode computes it: the shard (or host) a key maps to.
// n must be at least 1. In the Python3 mode a key that latin-1 cannot encode fails with an
// *EncodeError wrapping ErrNotLatin1.
func Index(key string, n int, mode HashMode) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("%w: %d shards (need at least 1)", ErrBadShards, n)
	}
	if !mode.valid() {
		return 0, fmt.Errorf("%w: %v", ErrBadMode, mode)
	}
	return index(key, n, mode)
}

// index is Index without the checks on n and mode.
func index(key string, n int, mode HashMode) (int, error) {
	if mode == Python2 {
		s := int64(int32(crc32.ChecksumIEEE([]byte(key)))) // Python 2's binascii.crc32 is signed
		m := s % int64(n)
		if m < 0 { // Python's % takes the sign of the divisor
			m += int64(n)
		}
		return int(m), nil
	}
	b, err := latin1(key)
	if err != nil {
		return 0, err
	}
	return int(uint64(crc32.ChecksumIEEE(b)) % uint64(n)), nil
}

// latin1 is Python 3's key.encode('latin-1') of the str the Go string spells.
func latin1(key string) ([]byte, error) {
	i := 0
	for i < len(key) && key[i] < utf8.RuneSelf {
		i++
	}
	if i == len(key) {
		return []byte(key), nil // ASCII: the same bytes
	}
	out := make([]byte, i, len(key))
	copy(out, key[:i])
	for i < len(key) {
		r, size := utf8.DecodeRuneInString(key[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return nil, &EncodeError{Pos: i, Rune: r, Invalid: true}
		case r > 0xFF:
			return nil, &EncodeError{Pos: i, Rune: r}
		}
		out = append(out, byte(r))
		i += size
	}
	return out, nil
}

// maxTotal keeps 2*totalElements from overflowing.
const maxTotal = int(^uint(0)>>1) / 2

// Shards is the number of crc32 shards Key spreads non-numeric keys over: 2*totalElements // shardSize,
// at least 1. Each shard holds about shardSize/2 elements when totalElements are stored, so there is
// room to grow to twice the expected size before a shard passes shardSize.
func Shards(totalElements, shardSize int) int {
	if shardSize < 1 {
		return 1
	}
	n := 2 * totalElements / shardSize
	if n < 1 {
		return 1
	}
	return n
}

// decimal reports whether key is all decimal digits in mode, and returns them as ASCII.
func decimal(key string, mode HashMode) (string, bool) {
	if key == "" {
		return "", false
	}
	ascii := true
	for i := 0; i < len(key); i++ {
		if key[i] < '0' || key[i] > '9' {
			ascii = false
			break
		}
	}
	if ascii {
		return key, true
	}
	if mode != Python3 {
		return "", false
	}
	out := make([]byte, 0, len(key))
	for i := 0; i < len(key); {
		r, size := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError && size <= 1 {
			return "", false
		}
		d, ok := digitValue(r)
		if !ok {
			return "", false
		}
		out = append(out, byte('0'+d))
		i += size
	}
	return string(out), true
}

// digitValue is the value of a Unicode decimal digit (category Nd). Unicode assigns decimal digits only
// in contiguous runs of ten, zero first (a stability policy), so the value is the offset from the start
// of the rune's range modulo ten; TestDigitRanges checks that assumption against the tables.
func digitValue(r rune) (int, bool) {
	if r < 0x80 {
		if r >= '0' && r <= '9' {
			return int(r - '0'), true
		}
		return 0, false
	}
	if !unicode.IsDigit(r) {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if uint32(r) >= uint32(rg.Lo) && uint32(r) <= uint32(rg.Hi) {
			return int(uint32(r)-uint32(rg.Lo)) % 10, true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if uint32(r) >= rg.Lo && uint32(r) <= rg.Hi {
			return int(uint32(r)-rg.Lo) % 10, true
		}
	}
	return 0, false
}

// divide is int(digits) // size as a decimal string, exact for any length.
func divide(digits string, size int) string {
	if len(digits) <= 18 { // fits in int64
		n, _ := strconv.ParseInt(digits, 10, 64)
		return strconv.FormatInt(n/int64(size), 10)
	}
	n, _ := new(big.Int).SetString(digits, 10)
	return n.Quo(n, big.NewInt(int64(size))).String()
}
