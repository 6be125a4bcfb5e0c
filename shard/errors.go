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

	// ErrUnroutable: a command cannot be sent to exactly one host (it names no key, several keys,
	// or keys the router cannot find), rb's UnroutableCommand. Use Fanout, or a host's own client.
	ErrUnroutable = errors.New("shard: command cannot be routed to one host")
	// ErrNoHost: a host id that the cluster does not have.
	ErrNoHost = errors.New("shard: no such host")
	// ErrBadHosts: the cluster's host setup is unusable (no hosts, ids not 0..n-1, a bad config).
	ErrBadHosts = errors.New("shard: bad host setup")
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

// UnroutableError says why one command was refused; it wraps ErrUnroutable.
type UnroutableError struct {
	Command string // lower-case command name, "get" or "object|encoding"
	Reason  string
}

func (e *UnroutableError) Error() string {
	return fmt.Sprintf("shard: command %q cannot be routed to one host: %s", e.Command, e.Reason)
}

func (e *UnroutableError) Unwrap() error { return ErrUnroutable }
