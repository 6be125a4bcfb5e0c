//go:build !linux

package faultproxy

import "time"

// preciseSleep falls back to the runtime's timer; the calibrated margin (at most 500 µs) is spun.
func preciseSleep(d time.Duration) { time.Sleep(d) }
