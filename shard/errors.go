package shard

import (
	"errors"
	"fmt"
	"strconv"
)

var (
	// ErrBadShardSize: Key was given a shard size below 1 (the book divides by it).
	ErrBadShardSize = errors.New("shard: shard size must be at least 1")
	// ErrBadTotal: Key was given a total element count below 1, or too large to double.
	ErrBadTotal = errors.New("shard: total elements out of range")
	// ErrBadShards: a shard or host count below 1.
	ErrBadShards = errors.New("shard: shard count must be at least 1")
	// ErrBadMode: a HashMode that is neither Python3 nor Python2.
	ErrBadMode = errors.New("shard: unknown hash mode")
	// ErrNotLatin1: in the Python3 mode, a key that the book's Python 3 shard_key cannot hash: it
	// encodes the key as latin-1, which raises UnicodeEncodeError for a character above U+00FF. A Go
	// string that is not valid UTF-8 is refused too (a Python 3 str cannot hold such bytes). The
	// error is an *EncodeError saying where.
	ErrNotLatin1 = errors.New("shard: key cannot be encoded as latin-1")

	// ErrUnroutable: a command cannot be sent to exactly one host (it names no key, several keys,
	// or keys the router cannot find), rb's UnroutableCommand. Use Fanout, or a host's own client.
	ErrUnroutable = errors.New("shard: command cannot be routed to one host")
	// ErrNoHost: a host id that the cluster does not have.
	ErrNoHost = errors.New("shard: no such host")
	// ErrBadHosts: the cluster's host setup is unusable (no hosts, ids not 0..n-1, a bad config, a
	// router that cannot reach every host, a ring node of weight below 1), or a host list given to
	// Fanout names a host twice.
	ErrBadHosts = errors.New("shard: bad host setup")
	// ErrBadOption: an Options field out of range; the error is an *OptionError naming the field.
	ErrBadOption = errors.New("shard: bad option")
	// ErrBadArg: a command argument that go-redis cannot write (its "can't marshal" error, or a
	// MarshalBinary that failed). The command is refused before it is sent; the error is an *ArgError.
	ErrBadArg = errors.New("shard: argument cannot be sent")
	// ErrClosed: the cluster has been closed.
	ErrClosed = errors.New("shard: cluster closed")
)

// HostError is a failure to reach one host: the host is down, did not answer before the deadline, or
// its client could not be made. It names the host; every command sent to that host carries it, and the
// other hosts' commands are unaffected.
type HostError struct {
	Host int    // host id
	Addr string // the host's address (or component name when loaded from a registry), if known
	Err  error
}

func (e *HostError) Error() string {
	s := "shard: host " + strconv.Itoa(e.Host)
	if e.Addr != "" {
		s += " (" + e.Addr + ")"
	}
	return s + ": " + e.Err.Error()
}

func (e *HostError) Unwrap() error { return e.Err }

// UnroutableError says why one command was refused; it wraps ErrUnroutable, and Err when set.
type UnroutableError struct {
	Command string // lower-case command name, "get" or "object|encoding"
	Reason  string
	Err     error // the cause (an *ArgError, an *EncodeError), if any
}

func (e *UnroutableError) Error() string {
	s := fmt.Sprintf("shard: command %q cannot be routed to one host: %s", e.Command, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *UnroutableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnroutable}
	}
	return []error{ErrUnroutable, e.Err}
}

// ArgError is an argument go-redis cannot write; it wraps ErrBadArg and go-redis's (or
// MarshalBinary's) error.
type ArgError struct {
	Command string // lower-case command name, "" when the name itself is the bad argument
	Pos     int    // index in the command's arguments (0 is the name)
	Type    string // the argument's Go type
	Err     error
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("shard: command %q argument %d (%s) cannot be sent: %v", e.Command, e.Pos, e.Type, e.Err)
}

func (e *ArgError) Unwrap() []error { return []error{ErrBadArg, e.Err} }

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

// OptionError is an Options field out of range; it wraps ErrBadOption.
type OptionError struct {
	Field string // "MaxConcurrency"
	Value int
	Rule  string // what the field accepts
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%v: %s is %d; %s", ErrBadOption, e.Field, e.Value, e.Rule)
}

func (e *OptionError) Unwrap() error { return ErrBadOption }
