package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// gogc reads the collector's GOGC without setting it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestStartGC: streamstat runs with gcStartPercent until its first
// collection, then with the GOGC it had; a GOGC the user set is left alone.
func TestStartGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		name        string
		set         bool
		start, then int
	}{
		{"GOGC unset", false, gcStartPercent, 100},
		{"GOGC set", true, 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			startGC(tc.set)
			if got := gogc(); got != tc.start {
				t.Fatalf("GOGC %d at the start, want %d", got, tc.start)
			}
			// The cleanup that restores it runs after the collection,
			// on the runtime's cleanup goroutine.
			for i := 0; i < 500 && gogc() != tc.then; i++ {
				runtime.GC()
				time.Sleep(time.Millisecond)
			}
			if got := gogc(); got != tc.then {
				t.Errorf("GOGC %d after a collection, want %d", got, tc.then)
			}
		})
	}
}
