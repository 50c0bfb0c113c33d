package shedding

import (
	"fmt"
	"testing"
	"time"
)

// burst is a bursty arrival pattern: Size records due within Spread, one
// burst every Every.
type burst struct {
	Size   float64
	Spread time.Duration
	Every  time.Duration
}

// runBursts runs the plant through n bursts and returns the largest
// latency of a record processed meanwhile.
func (pl *plant) runBursts(b burst, n int) time.Duration {
	var lat time.Duration
	for range n {
		pl.run(b.Spread, b.Size/b.Spread.Seconds())
		lat = max(lat, pl.MaxLatency)
		if b.Every > b.Spread {
			pl.run(b.Every-b.Spread, 0)
			lat = max(lat, pl.MaxLatency)
		}
	}
	return lat
}

// TestControllerBurstsWithinTarget: bursts far above the capacity for a
// moment, each of which drains within the latency target, are not
// overload: nothing is shed, whatever the channel's size and whether the
// capacity is known. (Before the drain-time rule, the arrival rate of a
// burst, or the back-pressure it caused, set off shedding.)
func TestControllerBurstsWithinTarget(t *testing.T) {
	const mu = 100_000.0
	for _, tc := range []struct {
		b        burst
		bufs     int
		known    bool
		target   time.Duration
		maxBatch int
	}{
		// 5000 records at once, every 100 ms: 50 ms to drain, half load.
		{burst{5000, time.Millisecond, 100 * time.Millisecond}, 10, false, 0, 0},
		{burst{5000, time.Millisecond, 100 * time.Millisecond}, 2, false, 0, 0},
		{burst{5000, time.Millisecond, 100 * time.Millisecond}, 2, true, 0, 0},
		// 8000 every 100 ms: 80 ms to drain, 80% load.
		{burst{8000, 2 * time.Millisecond, 100 * time.Millisecond}, 2, false, 0, 0},
		{burst{8000, 2 * time.Millisecond, 100 * time.Millisecond}, 10, true, 0, 0},
		// 50k lines at once every 600 ms against a 2 s target (the
		// CLI's --max-latency 2s): 0.5 s to drain.
		{burst{50_000, 10 * time.Millisecond, 600 * time.Millisecond}, 2, false, 2 * time.Second, 0},
		// Big batches (the CLI's 4096 lines) in a channel of 2.
		{burst{9000, time.Millisecond, 150 * time.Millisecond}, 2, false, 0, 4096},
		// Bursts of 20 ms at 3x capacity every 100 ms (60% load).
		{burst{6000, 20 * time.Millisecond, 100 * time.Millisecond}, 2, false, 0, 0},
	} {
		target := "default target"
		if tc.target > 0 {
			target = fmt.Sprintf("target %v", tc.target)
		}
		name := fmt.Sprintf("%.0f in %v every %v, %d buffers, known capacity %v, %s", tc.b.Size, tc.b.Spread, tc.b.Every, tc.bufs, tc.known, target)
		t.Run(name, func(t *testing.T) {
			cfg := Config{Controller: ControllerConfig{MaxLatency: tc.target}}
			if tc.known {
				cfg.Controller.Capacity = mu
			}
			s := newTestShedder(t, cfg)
			pl := newPlant(t, s, mu)
			pl.Buffers = tc.bufs
			if tc.maxBatch > 0 {
				pl.MaxBatch = tc.maxBatch
			}
			pl.runBursts(tc.b, int(5*time.Second/tc.b.Every))
			if sum := s.Summary(); sum.Shedding() || sum.Seen == 0 {
				t.Errorf("%v: want nothing shed (capacity estimate %.0f)", sum, s.ctrl.st.mu)
			}
		})
	}
}

// TestControllerBurstsOverload: bursts that add up to more than the
// capacity are overload: once settled, the fraction shed is within 1.1x
// the least possible, 1 - capacity/arrival, and the latency stays near
// the target.
func TestControllerBurstsOverload(t *testing.T) {
	const mu = 100_000.0
	for _, tc := range []struct {
		b    burst
		bufs int
		tol  float64 // shed-vs-ideal at most
	}{
		{burst{20_000, 10 * time.Millisecond, 100 * time.Millisecond}, 10, 1.1}, // 2x
		// The channel holds 2 of the 20 batches of a burst: at the ideal
		// p, half of each burst drains in exactly the target, 100 ms, so
		// holding the target takes a little more than the fluid ideal.
		{burst{20_000, 10 * time.Millisecond, 100 * time.Millisecond}, 2, 1.15},
		{burst{10_000, 5 * time.Millisecond, 50 * time.Millisecond}, 2, 1.1},
		{burst{40_000, 50 * time.Millisecond, 100 * time.Millisecond}, 10, 1.1}, // 4x
		{burst{3000, time.Millisecond, 20 * time.Millisecond}, 2, 1.1},          // 1.5x in small bursts
		// Steady 4x into a channel of 2 (a file piped in).
		{burst{40_000, 100 * time.Millisecond, 100 * time.Millisecond}, 2, 1.1},
	} {
		name := fmt.Sprintf("%.0f in %v every %v, %d buffers", tc.b.Size, tc.b.Spread, tc.b.Every, tc.bufs)
		t.Run(name, func(t *testing.T) {
			s := newTestShedder(t, Config{})
			pl := newPlant(t, s, mu)
			pl.Buffers = tc.bufs
			pl.runBursts(tc.b, int(3*time.Second/tc.b.Every))
			before := s.Summary()
			lat := pl.runBursts(tc.b, int(3*time.Second/tc.b.Every))
			after := s.Summary()
			shed := float64(after.Shed-before.Shed) / float64(after.Seen-before.Seen)
			load := tc.b.Size / tc.b.Every.Seconds() / mu
			ideal := 1 - 1/load
			t.Logf("shed %.3f, ideal %.3f: shed-vs-ideal %.3f; max latency %v", shed, ideal, shed/ideal, lat)
			if lat > 2*DefaultMaxLatency {
				t.Errorf("max latency %v once settled, want <= 2x the target %v", lat, DefaultMaxLatency)
			}
			if shed/ideal > tc.tol || shed/ideal < 0.9 {
				t.Errorf("shed %.3f of the records, ideal %.3f: shed-vs-ideal %.3f, want within [0.9, %v]", shed, ideal, shed/ideal, tc.tol)
			}
		})
	}
}
