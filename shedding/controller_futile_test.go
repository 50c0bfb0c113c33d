package shedding

import (
	"testing"
	"time"
)

// TestControllerFutileShedding: a source and its operator sharing one CPU,
// fed far faster than either can go (a file piped in). Where the operator
// is cheap beside the source and shedding adds work of its own (the
// decision, weighted counts), dropping records cannot raise the rate at
// which the input is read: the controller must find that out and stop
// shedding, so that the job is no slower than without shedding (but for
// its trials, which cost about 1.3% over these 5 s and less over longer
// runs) and loses few records. A trial is short: with trials of 10 ticks
// they cost 2.5-3% and shed 2.3-3.1%, with 5 1.7% and 1.1-1.5%, and these
// cases fail. Where the operator is the bottleneck, shedding must
// go on and read the input much faster. Times are simulated: the rates
// are records offered per simulated second. (Without the futility check
// the controller shed 90% or more in the first case and read the input
// 10-15% slower than without shedding.)
func TestControllerFutileShedding(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		source, shed, op, opShed     float64 // µs per record
		minSpeedup, maxShed, minShed float64
	}{
		{"cheap operator, shedding costs", 1, 0.5, 0.3, 2, 0.985, 0.012, 0},
		{"cheap operator, weighted counts cost 3x", 1, 0.2, 0.6, 3, 0.985, 0.012, 0},
		{"operator the bottleneck", 1, 0.2, 5, 2, 1.5, 1, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(cfg Config) (rate float64, s Summary) {
				sh := newTestShedder(t, cfg)
				pl := newPlant(t, sh, 0)
				pl.CPU, pl.Gather, pl.MaxBatch = true, true, 1024
				pl.SourceCost, pl.ShedCost = tc.source*1e-6, tc.shed*1e-6
				pl.OpCost, pl.OpShedFactor = tc.op*1e-6, tc.opShed
				pl.Step = 200 * time.Microsecond
				const d = 5 * time.Second
				pl.run(d, 5e6) // far above what the source can read
				return float64(pl.Offered) / d.Seconds(), sh.Summary()
			}
			base, _ := run(Config{Controller: ControllerConfig{Fixed: 1}})
			rate, s := run(Config{})
			t.Logf("%.0f records/s without shedding, %.0f with (x%.3f), shed %.3f", base, rate, rate/base, s.Fraction())
			if rate < tc.minSpeedup*base {
				t.Errorf("read %.0f records/s with shedding, %.0f without: x%.3f, want >= %v", rate, base, rate/base, tc.minSpeedup)
			}
			if f := s.Fraction(); f > tc.maxShed || f < tc.minShed {
				t.Errorf("shed %.3f, want within [%v, %v]", f, tc.minShed, tc.maxShed)
			}
		})
	}
}
