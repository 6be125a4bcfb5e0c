package faultproxy

import (
	"runtime"
	"syscall"
	"time"
)

// preciseSleep blocks the thread in the kernel with the thread's timer slack at 1 ns (the default 50 µs
// would make every short sleep that much late): precise, unlike the runtime's timers below a millisecond.
func preciseSleep(d time.Duration) {
	const prSetTimerSlack = 29
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Nanosleep(&ts, nil) // EINTR: waitUntil loops
}
