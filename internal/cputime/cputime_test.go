package cputime

import (
	"testing"
	"time"
)

// TestProcessCountsWork: spinning adds CPU time. The spin lasts until
// 10 ms of CPU time show or 10 s of wall time pass: on a loaded machine
// 50 ms of wall time can hold well under 10 ms of this process's CPU
// time, but 10 s of spinning hold far more unless Process counts nothing.
func TestProcessCountsWork(t *testing.T) {
	if !Available {
		t.Skip("no CPU time on this system")
	}
	before := Process()
	x := uint64(1)
	start := time.Now()
	for time.Since(start) < 10*time.Second && Process()-before < 10*time.Millisecond {
		for range 100_000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 0 {
		t.Log(x)
	}
	if d := Process() - before; d < 10*time.Millisecond {
		t.Errorf("%v of spinning added %v of CPU time", time.Since(start), d)
	}
	if d, wall := Process()-before, time.Since(start); d > 2*wall+50*time.Millisecond {
		t.Errorf("%v of spinning on one goroutine added %v of CPU time", wall, d)
	}
}
