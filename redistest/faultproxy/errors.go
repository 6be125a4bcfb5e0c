package faultproxy

import "errors"

var (
	// ErrNotLoopback is returned for an upstream address that is not on loopback.
	ErrNotLoopback = errors.New("faultproxy: address is not on loopback")

	// ErrInvalid is returned (wrapped, with the argument named) for a bad argument: a negative or
	// sub-millisecond toxic time, a non-positive rate or count, an unknown direction.
	ErrInvalid = errors.New("faultproxy: invalid argument")

	// ErrClosed is returned by a proxy that has been closed.
	ErrClosed = errors.New("faultproxy: proxy closed")

	// ErrStuck is returned (wrapped, with the deadline's error) when a change to a Proxy did not finish
	// by its deadline, and by every later change: Toxiproxy deadlocked (see Proxy) and holds its lock.
	ErrStuck = errors.New("faultproxy: proxy stuck (Toxiproxy did not finish a change; close the proxy)")
)
