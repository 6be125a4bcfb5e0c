package shard

import (
	"fmt"
	"hash/crc32"
	"strings"
)

// KeyRoute explains where Key puts a key: which branch of shard_key was taken, and the numbers it
// computed, so a person can check them by hand.
type KeyRoute struct {
	Mode    HashMode
	ID      string // the shard id, as Key and ID give it
	Numeric bool   // a key of decimal digits: ID is int(key) // shardSize
	Digits  string // Numeric: the digits as ASCII (a Python3 key may use other scripts' digits)
	CRC32   int64  // not Numeric: crc32 of the hashed bytes as the mode reads it (signed in Python2)
	Shards  int    // not Numeric: the crc32 shards, 2*totalElements // shardSize (at least 1)
}

// ExplainKey is ID with its working: it returns the same shard id (and the same errors) and says how
// it was computed.
func ExplainKey(key string, totalElements, shardSize int, mode HashMode) (KeyRoute, error) {
	id, err := ID(key, totalElements, shardSize, mode)
	if err != nil {
		return KeyRoute{}, err
	}
	r := KeyRoute{Mode: mode, ID: id}
	if digits, ok := decimal(key, mode); ok {
		r.Numeric, r.Digits = true, digits
		return r, nil
	}
	r.Shards = Shards(totalElements, shardSize)
	r.CRC32, err = Checksum(key, mode)
	return r, err
}

// Checksum returns the crc32 that Index reduces modulo the shard count: of the key's latin-1 bytes,
// unsigned, in the Python3 mode (an *EncodeError wrapping ErrNotLatin1 for a key latin-1 cannot
// encode); of its bytes, signed as Python 2's binascii.crc32 gives it, in the Python2 mode.
func Checksum(key string, mode HashMode) (int64, error) {
	switch mode {
	case Python2:
		return int64(int32(crc32.ChecksumIEEE([]byte(key)))), nil
	case Python3:
		b, err := latin1(key)
		if err != nil {
			return 0, err
		}
		return int64(crc32.ChecksumIEEE(b)), nil
	}
	return 0, fmt.Errorf("%w: %v", ErrBadMode, mode)
}

// HashTag returns the part of key that Slot hashes: the hash tag (between the first "{" and the next
// "}", when not empty), else the whole key.
func HashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}
