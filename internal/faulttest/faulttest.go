// Package faulttest holds the fault tests (one package each: bounded, logs, market, shards, writes)
// and what they share: how a run is sized and seeded from the environment, parsed the same way by
// every test.
//
//   - RIA_SOAK=1 runs the long (soak) form; unset, empty or 0 runs the short form that CI runs; any
//     other value fails the test.
//   - RIA_SOAK_OPS=n (a positive integer) sizes a run to about n operations instead: calls per
//     variant for market, calls for writes, log lines for logs. It implies the soak's time limits.
//   - RIA_SEED=n (an unsigned integer) fixes the seed of a test that draws its faults at random
//     (logs' kill points); each such test logs the seed it used, so a failure can be rerun with it.
//
// `make soak` runs every soak test with RIA_SOAK=1.
package faulttest

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Soak reports whether RIA_SOAK asks for the long form (or RIA_SOAK_OPS sizes the run).
func Soak(t testing.TB) bool {
	t.Helper()
	if _, ok := Ops(t); ok {
		return true
	}
	switch s := os.Getenv("RIA_SOAK"); s {
	case "", "0":
		return false
	case "1":
		return true
	default:
		t.Fatalf("RIA_SOAK=%q: want 1 (soak) or 0 (short form)", s)
		return false
	}
}

// Ops returns RIA_SOAK_OPS, and whether it is set.
func Ops(t testing.TB) (int64, bool) {
	t.Helper()
	s := os.Getenv("RIA_SOAK_OPS")
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		t.Fatalf("RIA_SOAK_OPS=%q: want a positive integer", s)
	}
	return n, true
}

// Seed returns RIA_SEED, or a seed drawn from the clock, and logs it.
func Seed(t testing.TB) uint64 {
	t.Helper()
	if s := os.Getenv("RIA_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RIA_SEED=%q: want an unsigned integer", s)
		}
		t.Logf("seed %d (from RIA_SEED)", n)
		return n
	}
	n := uint64(time.Now().UnixNano())
	t.Logf("seed %d (RIA_SEED=%d reruns with the same random choices)", n, n)
	return n
}
