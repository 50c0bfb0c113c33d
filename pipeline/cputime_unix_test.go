//go:build unix

package pipeline

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used, so a
// benchmark can compare work done on a machine whose other load changes
// the wall time of each run.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
