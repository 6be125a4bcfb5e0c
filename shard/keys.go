package shard

import (
	"fmt"
	"strconv"
)

// Key names this package builds. The structure at a shard key is the caller's: HSet and HGet keep a
// HASH there, SAdd a SET.

// Key is the book's shard_key (listing 9.7; the Python 3 version of the book's repository):
// the name of the shard of base that holds key.
//
//	def shard_key(base, key, total_elements, shard_size):
//	    if isinstance(key, int) or key.isdigit():
//	        shard_id = int(str(key), 10) // shard_size
//	    else:
//	        if isinstance(key, str):
//	            key = key.encode('latin-1')
//	        shards = 2 * total_elements // shard_size
//	        shard_id = binascii.crc32(key) % shards
//	    return "%s:%s"%(base, shard_id)
//
// A key made only of decimal digits gives int(key) // shardSize ("010" is shard 0 of size 512, and a
// key of any length is exact: it is computed with math/big where it does not fit 64 bits). In the
// Python3 mode the digits may be any Unicode decimal digits (general category Nd), as Python 3's
// isdigit() and int() accept them; keys that Python 3's isdigit() accepts but int() then rejects with
// ValueError (superscripts such as "²", circled digits) are not decimal here and are hashed (so "①",
// above U+00FF, fails with ErrNotLatin1 in the Python3 mode). In the
// Python2 mode only ASCII digits count. Any other key, the empty one included, gives
// crc32(key) % (2*totalElements // shardSize), over the bytes the mode hashes: in the Python3 mode
// the key's latin-1 encoding, as the book's Python 3 code encodes it (a key with a character above
// U+00FF, or invalid UTF-8, fails with an *EncodeError wrapping ErrNotLatin1, where Python raises
// UnicodeEncodeError; a digit key is never encoded, so "١٢٣" is fine); in the Python2 mode the
// string's bytes (UTF-8), as Python 2 and rb hash them.
//
// Fixed from the book: when 2*totalElements < shardSize the book divides by zero; here that is one
// shard. Bad sizes are errors: shardSize < 1 (ErrBadShardSize), totalElements < 1 (ErrBadTotal).
func Key(base, key string, totalElements, shardSize int, mode HashMode) (string, error) {
	id, err := ID(key, totalElements, shardSize, mode)
	if err != nil {
		return "", err
	}
	return base + ":" + id, nil
}

// ID is Key without the base: the shard id as a decimal string.
func ID(key string, totalElements, shardSize int, mode HashMode) (string, error) {
	if shardSize < 1 {
		return "", fmt.Errorf("%w: %d", ErrBadShardSize, shardSize)
	}
	if totalElements < 1 || totalElements > maxTotal {
		return "", fmt.Errorf("%w: %d", ErrBadTotal, totalElements)
	}
	if !mode.valid() {
		return "", fmt.Errorf("%w: %v", ErrBadMode, mode)
	}
	if digits, ok := decimal(key, mode); ok {
		return divide(digits, shardSize), nil
	}
	id, err := index(key, Shards(totalElements, shardSize), mode)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(id), nil
}

// ShardComponent is the name of shard n of component: "<component>:<n>".
func ShardComponent(component string, n int) string {
	return component + ":" + strconv.Itoa(n)
}
