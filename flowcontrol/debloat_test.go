package flowcontrol

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestDebloaterSmoothsAndClamps(t *testing.T) {
	d, err := NewDebloater(DebloatConfig{
		Target: time.Second, MinBatch: 10, MaxBatch: 1000,
		Samples:   3, // alpha = 2/(3+1) = 0.5
		Threshold: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	steps := []struct {
		name            string
		advance         time.Duration
		records, flight int
		wantSize        int
		wantThroughput  float64
	}{
		{"first call starts the clock, records before it are ignored", 0, 123, 4, 1000, 0},
		{"first sample is taken as is: 2000/s over 4 buffers", time.Second, 2000, 4, 500, 2000},
		{"EWMA: 2000 + 0.5*(1000-2000)", time.Second, 1000, 4, 375, 1500},
		{"no time passed: records wait for the next sample", 0, 500, 4, 375, 1500},
		{"500 records over 0.5s = 1000/s; 1250*1s/4 rounds to 313", 500 * time.Millisecond, 0, 4, 313, 1250},
		{"idle: throughput halves", time.Second, 0, 4, 156, 625},
		{"fewer buffers in flight: bigger batches", time.Second, 625, 1, 625, 625},
		{"zero in flight counts as one", time.Second, 625, 0, 625, 625},
		{"throughput collapse clamps to the minimum", time.Second, 0, 100, 10, 312.5},
		{"throughput surge clamps to the maximum", time.Second, 1_000_000, 1, 1000, 500156.25},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		got := d.Observe(clk.Now(), st.records, st.flight)
		if got != st.wantSize || d.BatchSize() != got || d.Throughput() != st.wantThroughput {
			t.Fatalf("%s: size %d (BatchSize %d), throughput %v; want %d, %v",
				st.name, got, d.BatchSize(), d.Throughput(), st.wantSize, st.wantThroughput)
		}
	}
}

func TestDebloaterThreshold(t *testing.T) {
	d, err := NewDebloater(DebloatConfig{MinBatch: 100, MaxBatch: 1000, Samples: 1}) // alpha 1: no smoothing
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	d.Observe(clk.Now(), 0, 1)
	for _, st := range []struct {
		name     string
		rate     int // records per second, one buffer in flight, 1s target
		wantSize int
	}{
		{"starts at the maximum", 1000, 1000},
		{"20% down is under the 25% threshold", 800, 1000},
		{"30% down moves", 700, 700},
		{"a 20% step stays", 560, 700},
		{"the minimum is always reachable", 90, 100},
		{"up 20% from the minimum stays", 120, 100},
		{"up 30% moves", 130, 130},
		{"the maximum is always reachable", 5000, 1000},
	} {
		clk.Advance(time.Second)
		if got := d.Observe(clk.Now(), st.rate, 1); got != st.wantSize {
			t.Fatalf("%s: size %d, want %d", st.name, got, st.wantSize)
		}
	}
}

func TestNewDebloaterParameters(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  DebloatConfig
		ok   bool
	}{
		{"zero config means defaults", DebloatConfig{}, true},
		{"negative target", DebloatConfig{Target: -time.Second}, false},
		{"min above max", DebloatConfig{MinBatch: 10, MaxBatch: 5}, false},
		{"negative min", DebloatConfig{MinBatch: -1}, false},
		{"negative samples", DebloatConfig{Samples: -3}, false},
		{"threshold of 100%", DebloatConfig{Threshold: 1}, false},
		{"NaN threshold", DebloatConfig{Threshold: math.NaN()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDebloater(tc.cfg)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if d.BatchSize() != DefaultMaxBatch {
					t.Errorf("starts at %d, want DefaultMaxBatch", d.BatchSize())
				}
				return
			}
			if !errors.Is(err, ErrInvalidParameter) {
				t.Fatalf("err = %v, want ErrInvalidParameter", err)
			}
		})
	}
}

// TestDebloaterFromGateStats drives the Debloater the way a pipeline
// would: from the records a gate received, with the gate's clock.
func TestDebloaterFromGateStats(t *testing.T) {
	clk := newFakeClock()
	g := mustGate(t, Config{Exclusive: 2, Floating: 2, Clock: clk})
	d, err := NewDebloater(DebloatConfig{Target: 100 * time.Millisecond, MinBatch: 1, MaxBatch: 1 << 20, Samples: 1, Threshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	var seen uint64
	observe := func() int {
		gs := g.Stats()
		n := d.Observe(clk.Now(), int(gs.Records-seen), gs.InFlight)
		seen = gs.Records
		return n
	}
	observe()
	s := g.Sender(0)
	for k := 0; k < 3; k++ {
		send(t, s, make([]uint64, 100)...)
	}
	for k := 0; k < 2; k++ {
		g.Release(0, recv(t, g, 0))
	}
	clk.Advance(time.Second)
	// 200 records/s; in flight: 1 queued + the spare = 2; 200*0.1/2 = 10.
	if got := observe(); got != 10 {
		t.Fatalf("batch size %d, want 10", got)
	}
}
