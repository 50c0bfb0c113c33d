package shedding

import (
	"fmt"
	"testing"
	"time"
)

// TestControllerGathering: a source that gathers kept records into full
// batches (as a pipeline source does under shedding) sends fewer, larger
// batches than it sheds. The controller must count the queue in the
// records of the batches sent (Pressure.Batches), and the records held at
// the source, not one shed batch per backlog slot: then overload is shed
// within 1.1x the least possible once settled, the queue stays at its
// setpoint, and bursts that drain within the target shed nothing.
// (Counting a backlog slot as the few records one shed call kept, it
// took the queue for a fraction of what it was, let it stand at about
// twice its setpoint, and the latency of bursts went past 150 ms.)
func TestControllerGathering(t *testing.T) {
	const mu = 100_000.0
	for _, tc := range []struct {
		b      burst
		bufs   int
		within bool          // every burst drains within the target: shed nothing
		maxLat time.Duration // once settled
	}{
		// Steady overload: the standing queue at its setpoint, a quarter
		// of the target, plus a batch (10 ms) and the hold (10 ms).
		{burst{30_000, 100 * time.Millisecond, 100 * time.Millisecond}, 10, false, 60 * time.Millisecond}, // 3x
		{burst{30_000, 100 * time.Millisecond, 100 * time.Millisecond}, 4, false, 60 * time.Millisecond},
		{burst{1_000_000, time.Second, time.Second}, 10, false, 60 * time.Millisecond}, // 10x
		// 2x in bursts of 10 ms: a burst's kept half takes 100 ms to drain.
		{burst{20_000, 10 * time.Millisecond, 100 * time.Millisecond}, 10, false, 130 * time.Millisecond},
		{burst{5000, time.Millisecond, 100 * time.Millisecond}, 10, true, 0},
		{burst{8000, 2 * time.Millisecond, 100 * time.Millisecond}, 4, true, 0},
	} {
		name := fmt.Sprintf("%.0f in %v every %v, %d buffers", tc.b.Size, tc.b.Spread, tc.b.Every, tc.bufs)
		t.Run(name, func(t *testing.T) {
			s := newTestShedder(t, Config{})
			pl := newPlant(t, s, mu)
			pl.Buffers, pl.Gather, pl.MaxBatch = tc.bufs, true, 1024
			pl.Step = 200 * time.Microsecond
			n := max(int(3*time.Second/tc.b.Every), 3)
			pl.runBursts(tc.b, n)
			before := s.Summary()
			lat := pl.runBursts(tc.b, n)
			after := s.Summary()
			shed := float64(after.Shed-before.Shed) / float64(after.Seen-before.Seen)
			if tc.within {
				if after.Shedding() {
					t.Errorf("%v: want nothing shed, every burst drains within the target", after)
				}
				return
			}
			load := tc.b.Size / tc.b.Every.Seconds() / mu
			ideal := 1 - 1/load
			t.Logf("shed %.3f, ideal %.3f: shed-vs-ideal %.3f; max latency %v", shed, ideal, shed/ideal, lat)
			if lat > tc.maxLat {
				t.Errorf("max latency %v once settled, want <= %v (target %v)", lat, tc.maxLat, DefaultMaxLatency)
			}
			if shed/ideal > 1.1 || shed/ideal < 0.9 {
				t.Errorf("shed %.3f of the records, ideal %.3f: shed-vs-ideal %.3f, want within [0.9, 1.1]", shed, ideal, shed/ideal)
			}
		})
	}
}
