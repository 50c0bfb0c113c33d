package shedding

import (
	"errors"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

func newTestShedder(t testing.TB, cfg Config) *Shedder {
	t.Helper()
	s, err := NewShedder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestControllerNothingShedWithoutOverload(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity float64 // configured; 0 means measured
		load     float64 // arrival / true capacity
		noPress  bool
	}{
		{"measured capacity, load 0.5", 0, 0.5, false},
		{"measured capacity, load 0.9", 0, 0.9, false},
		{"measured capacity, load 0.97", 0, 0.97, false},
		{"known capacity, load 0.9", 100_000, 0.9, false},
		{"known capacity, chained, load 0.9", 100_000, 0.9, true},
		{"unknown capacity, chained, load 3", 0, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestShedder(t, Config{Controller: ControllerConfig{Capacity: tc.capacity}})
			pl := newPlant(t, s, 100_000)
			pl.NoPress = tc.noPress
			for range 50 {
				pl.run(100*time.Millisecond, tc.load*100_000)
				if p := s.P(); p != 1 {
					t.Fatalf("p = %v at %v, want 1", p, pl.now)
				}
			}
			if sum := s.Summary(); sum.Shedding() || sum.Seen == 0 || sum.MinP != 1 {
				t.Errorf("summary %+v: want nothing shed", sum)
			}
		})
	}
}

func TestControllerOverload(t *testing.T) {
	const mu = 100_000.0
	for _, tc := range []struct {
		name      string
		load      float64
		known     bool
		bufs      int
		batchStep time.Duration
		keptTol   float64 // kept fraction at least keptTol·ideal
		maxLat    time.Duration
	}{
		{"2x, measured", 2, false, 10, time.Millisecond, 0.97, DefaultMaxLatency / 2},
		{"4x, measured", 4, false, 10, time.Millisecond, 0.97, DefaultMaxLatency / 2},
		{"2x, known capacity", 2, true, 10, time.Millisecond, 0.97, DefaultMaxLatency / 2},
		{"10x, measured", 10, false, 10, time.Millisecond, 0.97, DefaultMaxLatency / 2},
		// Coarse: the source delivers 5 ms of records at once into a
		// channel of 3 batches.
		{"2x, few buffers, long steps", 2, false, 3, 5 * time.Millisecond, 0.9, DefaultMaxLatency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{}
			if tc.known {
				cfg.Controller.Capacity = mu
			}
			s := newTestShedder(t, cfg)
			pl := newPlant(t, s, mu)
			pl.Buffers, pl.Step = tc.bufs, tc.batchStep
			pl.run(time.Second, 0.5*mu)
			// The step: 2 s to settle, then measure 2 s.
			var ps []float64
			for range 200 {
				pl.run(10*time.Millisecond, tc.load*mu)
				ps = append(ps, s.P())
			}
			pl.run(2*time.Second, tc.load*mu)
			kept := float64(pl.Kept) / float64(pl.Offered)
			ideal := mu / (tc.load * mu)
			if kept < tc.keptTol*ideal || kept > 1.01*ideal {
				t.Errorf("kept %.4f of the records after settling, ideal %.4f", kept, ideal)
			}
			if shed, min := 1-kept, 1-ideal; shed/min > 1.1 {
				t.Errorf("shed-vs-ideal %.3f, want <= 1.1", shed/min)
			}
			if pl.MaxLatency > tc.maxLat {
				t.Errorf("max latency %v after settling, want <= %v", pl.MaxLatency, tc.maxLat)
			}
			// Smooth: p never falls by more than half, nor rises by more
			// than 1/64 + a fraction of the gap, per tick.
			for i := 1; i < len(ps); i++ {
				if ps[i] < ps[i-1]/2-PStep {
					t.Errorf("p fell from %v to %v in one tick", ps[i-1], ps[i])
				}
			}
			// Load drops: p returns to 1 within a second and stays.
			pl.run(time.Second, 0.5*mu)
			before := s.Summary()
			pl.run(time.Second, 0.5*mu)
			if p, after := s.P(), s.Summary(); p != 1 || after.Shed != before.Shed {
				t.Errorf("after the load dropped: p %v, shed %d more", p, after.Shed-before.Shed)
			}
		})
	}
}

func TestControllerCapacityChanges(t *testing.T) {
	s := newTestShedder(t, Config{})
	pl := newPlant(t, s, 100_000)
	pl.run(2*time.Second, 200_000)
	for _, c := range []float64{50_000, 150_000} {
		pl.Capacity = c
		pl.run(3*time.Second, 200_000)
		pl.run(time.Second, 200_000)
		kept := float64(pl.Kept) / float64(pl.Offered)
		if ideal := c / 200_000; kept < 0.95*ideal || kept > 1.02*ideal {
			t.Errorf("capacity %v: kept %.3f, ideal %.3f", c, kept, ideal)
		}
		if pl.MaxLatency > DefaultMaxLatency/2 {
			t.Errorf("capacity %v: max latency %v", c, pl.MaxLatency)
		}
	}
}

func TestControllerOpenLoop(t *testing.T) {
	// No channel to watch (operators chained to the source): Aurora's rule
	// alone, p = Headroom·capacity/arrival.
	s := newTestShedder(t, Config{Controller: ControllerConfig{Capacity: 100_000, Headroom: 0.8}})
	pl := newPlant(t, s, 100_000)
	pl.NoPress = true
	pl.run(3*time.Second, 400_000)
	if p := s.P(); p < 0.195 || p > 0.2 {
		t.Errorf("p = %v, want 0.8·100k/400k = 0.2", p)
	}
}

func TestControllerFixed(t *testing.T) {
	s := newTestShedder(t, Config{Controller: ControllerConfig{Fixed: 0.3}})
	pl := newPlant(t, s, 1e9)
	pl.run(time.Second, 100_000)
	if p := s.P(); p != Quantize(0.3) {
		t.Errorf("p = %v, want %v", p, Quantize(0.3))
	}
	if f := float64(pl.Kept) / float64(pl.Offered); f < 0.29 || f > 0.31 {
		t.Errorf("kept fraction %v, want 0.3", f)
	}
}

func TestControllerConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ControllerConfig
	}{
		{"negative latency", ControllerConfig{MaxLatency: -1}},
		{"negative capacity", ControllerConfig{Capacity: -1}},
		{"headroom above 1", ControllerConfig{Headroom: 1.5}},
		{"negative headroom", ControllerConfig{Headroom: -0.5}},
		{"negative interval", ControllerConfig{Interval: -time.Second}},
		{"min p above 1", ControllerConfig{MinP: 2}},
		{"min p below the grid", ControllerConfig{MinP: 1e-9}},
		{"fixed above 1", ControllerConfig{Fixed: 1.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewController(tc.cfg); !errors.Is(err, ErrInvalidParameter) {
				t.Errorf("error %v, want ErrInvalidParameter", err)
			}
		})
	}
}

func TestControllerTimeGoesBackwards(t *testing.T) {
	// A restored state meets a new pipeline: its channel counters restart
	// at zero and its clock may be earlier. The controller restarts its
	// tick and keeps p, instead of computing nonsense rates.
	c, err := NewController(ControllerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(100, 0)
	c.Update(t0, pipeline.Pressure{Buffers: 10, Records: 5000, BackPressured: time.Second})
	c.st.p = 0.5
	c.Observed(100, 50)
	p := c.Update(t0.Add(time.Second), pipeline.Pressure{Buffers: 10})
	p = c.Update(t0.Add(-time.Second), pipeline.Pressure{Buffers: 10})
	if p != 0.5 {
		t.Errorf("p = %v after counters and time went back, want 0.5 kept", p)
	}
}
