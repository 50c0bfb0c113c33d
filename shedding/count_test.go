package shedding

import (
	"math"
	"testing"

	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

func TestWeightedCount(t *testing.T) {
	var w WeightedCount
	if e := w.Estimate(); !e.Exact || e.Value != 0 {
		t.Errorf("empty count: %v", e)
	}
	w.AddN(10, 0) // never shed
	w.Add(1)
	if e := w.Estimate(); !e.Exact || e.Value != 11 {
		t.Errorf("unshed count: %v, want exact 11", e)
	}
	w.AddN(100, 0.25)
	e := w.Estimate()
	if e.Exact || e.Value != 411 || w.Kept() != 111 || w.Variance() != 100*0.75/0.0625 {
		t.Errorf("estimate %v kept %d variance %v; want 411 from 111, variance 1200", e, w.Kept(), w.Variance())
	}
	if !(e.Lower >= 111 && e.Lower < 411 && e.Upper > 411) {
		t.Errorf("bounds %v do not bracket 411 above the 111 kept", e)
	}
	var o WeightedCount
	o.AddN(100, 0.25)
	o.AddN(11, 1)
	o.Merge(&WeightedCount{})
	if o != w {
		t.Errorf("merge of the same records differs: %+v vs %+v", o, w)
	}
}

func TestWeightedCountNearScaleCount(t *testing.T) {
	// At a constant p the gamma bounds come close to KeySampler.ScaleCount's
	// Wilson-type interval once a few records are kept, and are never
	// narrower than it by much with few.
	for _, p := range []float64{0.1, 0.3, 0.5, 0.9} {
		p = Quantize(p)
		for _, k := range []uint64{1, 7, 100, 12345} {
			var w WeightedCount
			w.AddN(k, float32(p))
			ks, _ := sampling.NewKeySampler(p)
			v, lo, hi := ks.ScaleCount(k, 0.95)
			e := w.EstimateAt(0.95)
			tol := 0.02
			if k < 100 {
				tol = 0.15
			}
			near := func(a, b float64) bool { return math.Abs(a-b) <= tol*b+1 }
			if math.Abs(e.Value-v) > 1e-9*v || !near(e.Lower, lo) || !near(e.Upper, hi) || e.Exact {
				t.Errorf("p %v k %d: %v, ScaleCount %v [%v, %v]", p, k, e, v, lo, hi)
			}
		}
	}
}

func TestUnitsAndWiden(t *testing.T) {
	if Units(0) != Unit || Units(1) != Unit || Units(0.5) != 2*Unit || Units(float32(Quantize(0.3))) != uint64(math.Round(Unit/Quantize(0.3))) {
		t.Error("Units")
	}
	cm, _ := sketch.NewCountMin(0.001, 0.01)
	for range 1000 {
		cm.AddString("x", Units(0.25))
	}
	e := FromUnits(cm.EstimateString("x"))
	if e.Value != 4000 {
		t.Errorf("CountMin in units: %v, want 4000", e)
	}
	w := Widen(e, 3000, 0.95)
	if d := 1.959964 * math.Sqrt(3000); math.Abs(w.Upper-e.Upper-d) > 1e-3 || math.Abs(e.Lower-w.Lower-d) > 1e-3 {
		t.Errorf("widened %v from %v", w, e)
	}
	if c := e.Confidence + 0.95 - 1; math.Abs(w.Confidence-c) > 1e-12 || w.Exact {
		t.Errorf("confidence %v, want %v", w.Confidence, c)
	}
	exact := sketch.Estimate{Value: 5, Lower: 5, Upper: 5, Confidence: 0.95, Exact: true}
	if w := Widen(exact, 100, 0.9); w.Confidence != 0.9 || w.Lower != 0 || w.Exact {
		t.Errorf("widened exact: %v", w)
	}
	if w := Widen(exact, 0, 0.9); w != exact {
		t.Errorf("zero variance changed %v to %v", exact, w)
	}
	s := Summary{Seen: 10, MeanInvP: 3}
	if v := s.CountVariance(50); v != 100 {
		t.Errorf("CountVariance = %v, want 100", v)
	}
}

func TestSummaryMerge(t *testing.T) {
	a := Summary{Seen: 10, Kept: 5, Shed: 5, MinP: 0.5, MeanP: 0.5, MeanInvP: 2}
	b := Summary{Seen: 30, Kept: 30, Shed: 0, MinP: 1, MeanP: 1, MeanInvP: 1}
	m := a.Merge(b)
	want := Summary{Seen: 40, Kept: 35, Shed: 5, MinP: 0.5, MeanP: 0.875, MeanInvP: 1.25}
	if m != want {
		t.Errorf("merge %+v, want %+v", m, want)
	}
	if z := (Summary{}).Merge(Summary{}); z.MinP != 1 || z.Shedding() || z.Fraction() != 0 {
		t.Errorf("empty merge %+v", z)
	}
	if m.String() != "shed 5 of 40 records (12.5%), p min 0.5 mean 0.875" {
		t.Errorf("String() = %q", m.String())
	}
}
