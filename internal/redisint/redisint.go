// Package redisint reads integers the way Redis writes and accepts them.
package redisint

import "strconv"

// Parse reads s as Redis's INCR, HINCRBY and friends read a stored integer: decimal, an optional
// '-', no '+', no leading zeros, no spaces, in int64 ("0" but not "-0" or "05"). These are exactly
// the strings Redis itself writes for an integer, so a value Parse refuses was written by something
// else, and Redis would refuse to add to it.
func Parse(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}
