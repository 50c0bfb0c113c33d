//go:build !linux

package pipeline

import "time"

// cpuClock returns the wall clock where the thread's CPU clock is not at
// hand.
func cpuClock() (now func() time.Duration, done func()) {
	t0 := time.Now()
	return func() time.Duration { return time.Since(t0) }, func() {}
}
