package shedding

import (
	"fmt"
	"math"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// The statistical tests: over many trials with fixed seeds, the truth must
// fall inside the ~95% bounds in at least 92.5% of trials, and, where the
// sampling error dominates (p <= 0.5), in at most 97.5% (the bounds are
// calibrated, not padded); and estimates must be unbiased, the mean
// relative error at most 1%. Under -short they run a few trials as a
// smoke test.

type tally struct {
	n, covered int
	relErr     float64 // sum of (estimate - truth)/truth
}

func (c *tally) add(e sketch.Estimate, truth float64) {
	c.n++
	if e.Contains(truth) {
		c.covered++
	}
	c.relErr += (e.Value - truth) / truth
}

func (c *tally) check(t *testing.T, upper bool) {
	t.Helper()
	cov, bias := float64(c.covered)/float64(c.n), c.relErr/float64(c.n)
	t.Logf("%d trials: coverage %.2f%%, mean relative error %+.3f%%", c.n, 100*cov, 100*bias)
	if testing.Short() {
		if cov < 0.85 {
			t.Errorf("coverage %.1f%% in %d trials", 100*cov, c.n)
		}
		return
	}
	if cov < 0.925 {
		t.Errorf("coverage %.2f%%, want >= 92.5%%", 100*cov)
	}
	if upper && cov > 0.975 {
		t.Errorf("coverage %.2f%%, want <= 97.5%%: bounds padded", 100*cov)
	}
	if math.Abs(bias) > 0.01 {
		t.Errorf("mean relative error %+.3f%%, want within 1%%", 100*bias)
	}
}

func trials(full int) int {
	if testing.Short() {
		return full / 20
	}
	return full
}

func TestCountCoverage(t *testing.T) {
	// Random shedding at p, then the HT count of the records in a subset
	// (those whose hash is 0 mod 4, about a quarter, a different number in
	// each trial) from the kept records alone.
	const n = 8000
	for _, p := range []float64{0.1, 0.3, 0.5, 1} {
		t.Run(fmt.Sprintf("p=%g", p), func(t *testing.T) {
			var c tally
			var b pipeline.Batch
			for trial := range trials(2000) {
				s := newTestShedder(t, Config{Salt: uint64(trial), Controller: ControllerConfig{Fixed: p}})
				r := pcg(uint64(trial))
				b.Reset()
				truth := 0
				for range n {
					h := r.Uint64()
					b.AddHashed(nil, h)
					if h%4 == 0 {
						truth++
					}
				}
				s.Shed(&b, t0, pipeline.Pressure{})
				var w WeightedCount
				for i := range b.Records {
					if b.Records[i].Hash%4 == 0 {
						w.Add(b.Records[i].KeepP)
					}
				}
				c.add(w.Estimate(), float64(truth))
			}
			c.check(t, p <= 0.5)
		})
	}
}

func TestCountCoverageVaryingP(t *testing.T) {
	// p changes from batch to batch, as a controller would change it.
	ps := []float64{1, 0.5, 0.1, 0.3, 0.8, 0.2}
	var c tally
	var b pipeline.Batch
	for trial := range trials(2000) {
		s := newTestShedder(t, Config{Salt: uint64(trial)})
		r := pcg(uint64(trial) + 1e6)
		var w WeightedCount
		truth := 0
		for _, p := range ps {
			s.ctrl.cfg.Fixed, s.ctrl.st.p = p, Quantize(p)
			fillBatch(&b, 0, 0, nil, 0)
			for range 2000 {
				b.AddHashed(nil, r.Uint64())
			}
			truth += b.Len()
			s.Shed(&b, t0, pipeline.Pressure{})
			for i := range b.Records {
				w.Add(b.Records[i].KeepP)
			}
		}
		c.add(w.Estimate(), float64(truth))
	}
	c.check(t, true)
}

func TestPerKeyCountCoverage(t *testing.T) {
	// A key's count from a CountMin fed Units(p) under Random shedding,
	// widened by the sampling variance: the CountMin's own error only
	// adds, so only the lower limit on coverage applies.
	const n = 20_000
	for _, p := range []float64{0.1, 0.5} {
		t.Run(fmt.Sprintf("p=%g", p), func(t *testing.T) {
			var c tally
			var b pipeline.Batch
			for trial := range trials(1000) {
				g := newTestShedder(t, Config{Salt: uint64(trial), Controller: ControllerConfig{Fixed: p}})
				fillBatch(&b, n, 10, pcg(uint64(trial)+2e6), 0)
				truth := 0
				for i := range b.Records {
					if b.Records[i].Value == 3 {
						truth++
					}
				}
				h := sketch.HashString("k3")
				g.Shed(&b, t0, pipeline.Pressure{})
				cm, _ := sketch.NewCountMin(0.001, 0.01)
				for i := range b.Records {
					cm.AddHash(b.Records[i].Hash, Units(b.Records[i].KeepP))
				}
				e := FromUnits(cm.EstimateHashAt(h, 0.999))
				c.add(Widen(e, g.Summary().CountVariance(e.Value), 0.951), float64(truth))
			}
			c.check(t, false)
		})
	}
}

// distinctStream offers d distinct keys (random hashes), each 1 to 3
// times, in random order, to add.
func distinctStream(r interface{ Uint64() uint64 }, d int, add func(h uint64)) {
	hs := make([]uint64, 0, 3*d)
	for range d {
		h := r.Uint64()
		for range 1 + h%3 {
			hs = append(hs, h)
		}
	}
	for i := len(hs) - 1; i > 0; i-- {
		j := int(r.Uint64() % uint64(i+1))
		hs[i], hs[j] = hs[j], hs[i]
	}
	for _, h := range hs {
		add(h)
	}
}

func TestThetaCoverage(t *testing.T) {
	for _, tc := range []struct {
		k, d int
		p    float64
	}{
		{4096, 5000, 0.1}, {4096, 5000, 0.3}, {4096, 5000, 0.5}, {4096, 5000, 1},
		// Full sketches: theta is the KMV threshold, below p.
		{1024, 20_000, 0.5}, {1024, 20_000, 1},
	} {
		t.Run(fmt.Sprintf("k=%d,distinct=%d,p=%g", tc.k, tc.d, tc.p), func(t *testing.T) {
			var c tally
			p := Quantize(tc.p)
			for trial := range trials(2000) {
				th, _ := NewThetaDistinct(tc.k)
				distinctStream(pcg(uint64(trial)+3e6), tc.d, func(h uint64) {
					if KeepKey(h, p) {
						th.AddHashP(h, float32(p))
					}
				})
				c.add(th.Estimate(), float64(tc.d))
			}
			c.check(t, tc.p <= 0.5)
		})
	}
}

func TestThetaCoverageVaryingP(t *testing.T) {
	// Key-hash shedding whose p changes over time, through a Shedder
	// replaying a schedule, keys arriving at random times: the keys kept
	// at every appearance are those below the smallest p, and the
	// estimate from them is calibrated and unbiased. Counting every key
	// kept (at any time) over the mean p would be biased upward.
	const d = 6000
	sched := []Epoch{{0, 1}, {2000, Quantize(0.6)}, {5000, Quantize(0.3)}, {8000, Quantize(0.8)}, {10000, Quantize(0.45)}}
	var c, naive tally
	var b pipeline.Batch
	for trial := range trials(2000) {
		s := newTestShedder(t, Config{Policy: KeyHash})
		if err := s.Replay(sched, 1<<62); err != nil {
			t.Fatal(err)
		}
		th, _ := NewThetaDistinct(4096)
		seen := map[uint64]bool{}
		distinctStream(pcg(uint64(trial)+4e6), d, func(h uint64) {
			b.Reset()
			b.AddHashed(nil, h)
			s.Shed(&b, t0, pipeline.Pressure{})
			for i := range b.Records {
				th.AddHashP(b.Records[i].Hash, b.Records[i].KeepP)
				seen[b.Records[i].Hash] = true
			}
		})
		if err := th.LowerTheta(s.Summary().MinP); err != nil {
			t.Fatal(err)
		}
		c.add(th.Estimate(), d)
		sum := s.Summary()
		naive.add(sketch.Estimate{Value: float64(len(seen)) / sum.MeanP}, d)
	}
	c.check(t, true)
	t.Logf("naive kept-keys/mean-p: mean relative error %+.2f%%", 100*naive.relErr/float64(naive.n))
}

func TestReservoirStaysUniform(t *testing.T) {
	// Half the stream kept at p = 1, half at p = 0.2 (Random): a weighted
	// reservoir with weight 1/p samples both halves alike, where a plain
	// one would favour the first five to one.
	const n, k = 20_000, 100
	var fromFirst, plainFirst float64
	tr := trials(400)
	var b pipeline.Batch
	for trial := range tr {
		s := newTestShedder(t, Config{Salt: uint64(trial)})
		wr, _ := sampling.NewWeightedReservoir[int](k, uint64(trial))
		plain, _ := sampling.NewReservoir[int](k, uint64(trial))
		for half, p := range []float64{1, 0.2} {
			s.ctrl.cfg.Fixed, s.ctrl.st.p = p, Quantize(p)
			fillBatch(&b, n/2, 0, nil, uint64(half*n/2))
			s.Shed(&b, t0, pipeline.Pressure{})
			for i := range b.Records {
				AddSample(wr, int(b.Records[i].Value), b.Records[i].KeepP)
				plain.Add(int(b.Records[i].Value))
			}
		}
		for _, v := range wr.Sample() {
			if v < n/2 {
				fromFirst++
			}
		}
		for _, v := range plain.Sample() {
			if v < n/2 {
				plainFirst++
			}
		}
	}
	f, pf := fromFirst/float64(tr*k), plainFirst/float64(tr*k)
	t.Logf("first half's share of the sample: weighted %.3f, plain %.3f", f, pf)
	if math.Abs(f-0.5) > 0.02 {
		t.Errorf("weighted reservoir took %.3f of its sample from the first half, want 0.5", f)
	}
	if pf < 0.75 {
		t.Errorf("plain reservoir took %.3f from the first half; expected about 5/6", pf)
	}
}
