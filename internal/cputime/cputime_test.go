package cputime

import (
	"testing"
	"time"
)

// TestProcessCountsWork: spinning for 50 ms of wall time adds CPU time.
func TestProcessCountsWork(t *testing.T) {
	if !Available {
		t.Skip("no CPU time on this system")
	}
	before := Process()
	x := uint64(1)
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x = x*6364136223846793005 + 1442695040888963407
	}
	if x == 0 {
		t.Log(x)
	}
	if d := Process() - before; d < 10*time.Millisecond {
		t.Errorf("50 ms of spinning added %v of CPU time", d)
	}
}
