package pipeline

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// cpuClock returns a clock of the CPU time of the calling goroutine, which
// it locks to its thread until done is called: benchmarks that compare two
// ways in one run time them by CPU, not wall time, which the other work of
// a shared machine inflates.
func cpuClock() (now func() time.Duration, done func()) {
	runtime.LockOSThread()
	return func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
			panic(err)
		}
		return time.Duration(ts.Nano())
	}, runtime.UnlockOSThread
}
