package shard

import (
	"errors"
	"fmt"
)

var (
	// ErrBadShardSize: Key was given a shard size below 1 (the book divides by it).
	ErrBadShardSize = errors.New("shard: shard size must be at least 1")
	// ErrBadTotal: Key was given a total element count below 1, or too large to double.
	ErrBadTotal = errors.New("shard: total elements out of range")
	// ErrBadShards: a shard count below 1 (hostset's routers wrap it for a host count below 1).
	ErrBadShards = errors.New("shard: shard count must be at least 1")
	// ErrBadMode: a HashMode that is neither Python3 nor Python2.
	ErrBadMode = errors.New("shard: unknown hash mode")
	// ErrNotLatin1: in the Python3 mode, a key that the book's Python 3 shard_key cannot hash: it
	// encodes the key as latin-1, which raises UnicodeEncodeError for a character above U+00FF. A Go
	// string that is not valid UTF-8 is refused too (a Python 3 str cannot hold such bytes). The
	// error is an *EncodeError saying where.
	ErrNotLatin1 = errors.New("shard: key cannot be encoded as latin-1")
)

// EncodeError says where a key stops being latin-1; it wraps ErrNotLatin1.
type EncodeError struct {
	Pos  int  // byte offset in the key
	Rune rune // the character latin-1 cannot encode; utf8.RuneError for invalid UTF-8
	// Invalid: the key is not valid UTF-8 at Pos (Rune is then utf8.RuneError).
	Invalid bool
}

func (e *EncodeError) Error() string {
	if e.Invalid {
		return fmt.Sprintf("%v: invalid UTF-8 at byte %d", ErrNotLatin1, e.Pos)
	}
	return fmt.Sprintf("%v: character %U at byte %d is above U+00FF", ErrNotLatin1, e.Rune, e.Pos)
}

func (e *EncodeError) Unwrap() error { return ErrNotLatin1 }
