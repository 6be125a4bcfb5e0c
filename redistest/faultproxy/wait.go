package faultproxy

import (
	"slices"
	"sync"
	"time"
)

// The Go runtime's timers are coarse for this job: on Linux a sleep under a millisecond lasts about a
// millisecond when the process is idle (the netpoller waits in whole milliseconds). waitUntil therefore
// sleeps in the kernel (nanosleep, with the thread's timer slack at 1 ns) until a calibrated margin
// before the due time, then spins the rest: precise to a few microseconds, and the spin is short.
// It locks the thread only for the sleep itself: a goroutine locked for good would make every channel
// hand-off a thread wake-up (tens of µs each on a VM). The slack stays at 1 ns on the threads used,
// which only makes this process's own timers more punctual.

var (
	marginOnce sync.Once
	margin     time.Duration
)

// spinMargin is how early the kernel sleep must end to wake up in time: the p90 overshoot of short
// nanosleeps on this machine, measured once, plus a little.
func spinMargin() time.Duration {
	marginOnce.Do(func() {
		done := make(chan time.Duration)
		go func() {
			const probe = 20 * time.Microsecond
			over := make([]time.Duration, 0, 25)
			for range cap(over) {
				t := time.Now()
				preciseSleep(probe)
				over = append(over, time.Since(t)-probe)
			}
			slices.Sort(over)
			done <- over[len(over)*9/10]
		}()
		margin = min(max(<-done+10*time.Microsecond, 20*time.Microsecond), 500*time.Microsecond)
	})
	return margin
}

// waitUntil returns at due, or just after it, or within 10 ms of stop closing (a long delay must not
// hold up Close).
func waitUntil(due time.Time, stop <-chan struct{}) {
	m := spinMargin()
	for {
		left := time.Until(due)
		select {
		case <-stop:
			return
		default:
		}
		switch {
		case left <= 0:
			return
		case left > m:
			preciseSleep(min(left-m, 10*time.Millisecond))
		default:
			// spin: at most a margin's worth of CPU
		}
	}
}
