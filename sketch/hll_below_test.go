package sketch

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestHLLEstimateBelow: EstimateBelow reads only the items below the
// line: a sketch of every item and one of those below it alone answer
// alike, sparse and dense, with the cover the doc gives; frac >= 1 is
// EstimateAt's answer.
func TestHLLEstimateBelow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for _, tc := range []struct {
		name  string
		p     int
		n     int
		dense bool // both sketches dense (else both sparse)
	}{
		{"sparse", 14, 3000, false},
		{"sparse-p4", 4, 3, false},
		{"dense", 10, 200_000, true},
		{"dense-p14", 14, 1_000_000, true},
	} {
		for _, frac := range []float64{0.9, 0.5, 0.1, 0.01, 1.0 / 1024} {
			all, _ := NewHLL(tc.p)
			below, _ := NewHLL(tc.p)
			line := uint64(frac * 0x1p64)
			for range tc.n {
				x := r.Uint64()
				all.AddHash(x)
				if x < line {
					below.AddHash(x)
				}
			}
			if tc.dense {
				finer, _ := NewHLL(tc.p + 1)
				_ = below.Merge(finer) // folded: dense
			}
			m := math.Ldexp(1, tc.p)
			want := math.Floor(frac*m) / m
			if !tc.dense {
				want = math.Floor(frac*(1<<sparsePrecision)) / (1 << sparsePrecision)
			} else if math.Floor(frac*m) < 16 {
				want = 0
			}
			ea, ca := all.EstimateBelow(frac, 0.95)
			eb, cb := below.EstimateBelow(frac, 0.95)
			if ca != want || cb != want || ea != eb {
				t.Errorf("%s, frac %v: %+v cover %v from every item, %+v cover %v from those below; want equal, cover %v", tc.name, frac, ea, ca, eb, cb, want)
			}
			if want == 0 && (ea != Estimate{Confidence: 0.95}) {
				t.Errorf("%s, frac %v: cover 0 with %+v, want the zero estimate", tc.name, frac, ea)
			}
		}
	}
}

// TestHLLEstimateBelowEnds: frac >= 1 is EstimateAt's answer; frac <= 0
// or NaN covers nothing.
func TestHLLEstimateBelowEnds(t *testing.T) {
	h, _ := NewHLL(12)
	for i := range 100_000 {
		h.AddHash(uint64(i) * 0x9e3779b97f4a7c15)
	}
	for _, f := range []float64{1, 2, math.Inf(1)} {
		if e, c := h.EstimateBelow(f, 0.9); c != 1 || e != h.EstimateAt(0.9) {
			t.Errorf("frac %v: %+v cover %v, want EstimateAt's, cover 1", f, e, c)
		}
	}
	for _, f := range []float64{0, -1, math.NaN()} {
		if e, c := h.EstimateBelow(f, 0.9); c != 0 || e != (Estimate{Confidence: 0.9}) {
			t.Errorf("frac %v: %+v cover %v, want nothing, cover 0", f, e, c)
		}
	}
}

// TestHLLEstimateBelowSaturated: the first registers of a saturated
// sketch are a saturated sketch of their part of the hash space: the
// answer is within the hashes below the line (cover·2^64), not 2^64, and
// of nonzero width.
func TestHLLEstimateBelowSaturated(t *testing.T) {
	for _, p := range []int{MinPrecision, 10, 14} {
		h, _ := NewHLL(p)
		for j := range uint64(1) << p {
			h.AddHash(j << (64 - p)) // index j, every other bit zero: the top rank
		}
		if !h.Saturated() {
			t.Fatalf("p=%d: not saturated", p)
		}
		for _, frac := range []float64{0.5, 16 / math.Ldexp(1, p)} {
			if frac*math.Ldexp(1, p) < 16 {
				continue // cover 0: TestHLLEstimateBelow
			}
			e, cover := h.EstimateBelow(frac, 0.95)
			space := cover * 0x1p64
			if !(cover > 0 && e.Upper == space && e.Lower < e.Upper && e.Lower > 0.75*space && e.Value == e.Lower) {
				t.Errorf("p=%d, frac %v: %+v cover %v, want a value and bounds within the %g hashes below the line, of nonzero width", p, frac, e, cover, space)
			}
		}
	}
}
