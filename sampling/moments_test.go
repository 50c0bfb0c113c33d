package sampling

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func mkRelErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Abs(want)
}

func TestMomentsZeroValue(t *testing.T) {
	var m Moments
	for name, x := range map[string]float64{"Mean": m.Mean(), "Variance": m.Variance(), "PopulationVariance": m.PopulationVariance(), "StdDev": m.StdDev(), "Min": m.Min(), "Max": m.Max()} {
		if !math.IsNaN(x) {
			t.Errorf("%s of an empty Moments = %v, want NaN", name, x)
		}
	}
	if m.Count() != 0 || m.Weight() != 0 {
		t.Errorf("count %d weight %v", m.Count(), m.Weight())
	}
	m.Add(3)
	if m.Mean() != 3 || m.PopulationVariance() != 0 || !math.IsNaN(m.Variance()) || m.Min() != 3 || m.Max() != 3 {
		t.Errorf("one value: mean %v popvar %v var %v min %v max %v", m.Mean(), m.PopulationVariance(), m.Variance(), m.Min(), m.Max())
	}
}

func TestMomentsKnownValues(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		xs                    []float64
		mean, popVar, sampVar float64
		min, max              float64
	}{
		{"textbook", []float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, 4, 32.0 / 7, 2, 9},
		{"two values", []float64{-1, 1}, 0, 1, 2, -1, 1},
		{"constant", []float64{7, 7, 7}, 7, 0, 0, 7, 7},
		{"far from zero", []float64{1e12 + 1, 1e12 + 2, 1e12 + 3}, 1e12 + 2, 2.0 / 3, 1, 1e12 + 1, 1e12 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Moments
			for _, x := range tc.xs {
				m.Add(x)
			}
			for what, got := range map[string][2]float64{
				"mean": {m.Mean(), tc.mean}, "population variance": {m.PopulationVariance(), tc.popVar},
				"variance": {m.Variance(), tc.sampVar}, "min": {m.Min(), tc.min}, "max": {m.Max(), tc.max},
				"stddev": {m.StdDev(), math.Sqrt(tc.sampVar)}, "population stddev": {m.PopulationStdDev(), math.Sqrt(tc.popVar)},
			} {
				if mkRelErr(got[0], got[1]) > 1e-15 {
					t.Errorf("%s = %v, want %v", what, got[0], got[1])
				}
			}
			if m.Count() != uint64(len(tc.xs)) || m.Weight() != float64(len(tc.xs)) {
				t.Errorf("count %d weight %v", m.Count(), m.Weight())
			}
		})
	}
}

func TestMomentsNonFinite(t *testing.T) {
	var m Moments
	nan, inf := math.NaN(), math.Inf(1)
	m.Add(1)
	m.Add(nan)
	m.Add(inf)
	m.Add(-inf)
	m.Add(3)
	m.AddWeighted(nan, 2)  // NaN value
	m.AddWeighted(5, nan)  // NaN weight
	m.AddWeighted(-inf, 1) // infinite value
	m.AddWeighted(5, inf)  // infinite weight
	m.AddWeighted(5, 0)    // nothing at all
	if m.NaNs() != 3 || m.Infs() != 4 || m.Count() != 2 {
		t.Fatalf("NaNs %d Infs %d count %d, want 3, 4, 2", m.NaNs(), m.Infs(), m.Count())
	}
	if m.Mean() != 2 || m.Min() != 1 || m.Max() != 3 || m.Variance() != 2 {
		t.Errorf("finite statistics disturbed: mean %v min %v max %v var %v", m.Mean(), m.Min(), m.Max(), m.Variance())
	}
	defer func() {
		if recover() == nil {
			t.Error("negative weight did not panic")
		}
	}()
	m.AddWeighted(1, -1)
}

// Integer frequency weights give what repeating the value gives.
func TestMomentsWeightedEqualsRepeated(t *testing.T) {
	for _, center := range []float64{0, 1e9} {
		t.Run(fmt.Sprintf("center=%g", center), func(t *testing.T) {
			g := rand.NewPCG(3, uint64(center))
			var w, r Moments
			for range 20000 {
				x := center + 10*mkUniform(g) - 3
				k := 1 + g.Uint64()%10
				w.AddWeighted(x, float64(k))
				for range k {
					r.Add(x)
				}
			}
			if w.Weight() != r.Weight() || w.Min() != r.Min() || w.Max() != r.Max() {
				t.Errorf("weight %v/%v min %v/%v max %v/%v", w.Weight(), r.Weight(), w.Min(), r.Min(), w.Max(), r.Max())
			}
			if e := mkRelErr(w.Mean(), r.Mean()); e > 1e-14 {
				t.Errorf("mean %v vs repeated %v: relative error %g", w.Mean(), r.Mean(), e)
			}
			if e := mkRelErr(w.Variance(), r.Variance()); e > 1e-12 {
				t.Errorf("variance %v vs repeated %v: relative error %g", w.Variance(), r.Variance(), e)
			}
			// Fractional weights scale like frequencies too: w/2 each
			// gives the same mean and population variance.
			var h Moments
			g = rand.NewPCG(3, uint64(center))
			for range 20000 {
				x := center + 10*mkUniform(g) - 3
				h.AddWeighted(x, float64(1+g.Uint64()%10)/2)
			}
			if mkRelErr(h.Mean(), w.Mean()) > 1e-14 || mkRelErr(h.PopulationVariance(), w.PopulationVariance()) > 1e-12 {
				t.Errorf("halved weights: mean %v popvar %v, want %v %v", h.Mean(), h.PopulationVariance(), w.Mean(), w.PopulationVariance())
			}
		})
	}
}

// Merging many shards (Chan et al.) equals one sequential pass to 1e-12.
func TestMomentsMergeShards(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	for _, tc := range []struct {
		name         string
		center, unit float64
	}{
		{"standard", 10, 3},
		{"far from zero", 1e9, 1},
		{"tiny spread", -5e6, 1e-6},
	} {
		for _, shards := range []int{2, 1000} {
			t.Run(fmt.Sprintf("%s/shards=%d", tc.name, shards), func(t *testing.T) {
				g := rand.NewPCG(8, uint64(shards))
				r := rand.New(g)
				var seq Moments
				parts := make([]Moments, shards)
				for i := range n {
					x := tc.center + tc.unit*r.NormFloat64()
					seq.Add(x)
					// Uneven shards: shard index skewed towards 0.
					s := int(float64(shards) * math.Pow(float64(i%977)/977, 2))
					parts[s].Add(x)
				}
				var seqMerge, tree Moments
				for i := range parts {
					seqMerge.Merge(&parts[i])
				}
				for len(parts) > 1 {
					var next []Moments
					for i := 0; i < len(parts); i += 2 {
						if i+1 < len(parts) {
							parts[i].Merge(&parts[i+1])
						}
						next = append(next, parts[i])
					}
					parts = next
				}
				tree = parts[0]
				for name, m := range map[string]*Moments{"sequential merge": &seqMerge, "tree merge": &tree} {
					if m.Count() != seq.Count() || m.Min() != seq.Min() || m.Max() != seq.Max() {
						t.Errorf("%s: count %d min %v max %v, want %d %v %v", name, m.Count(), m.Min(), m.Max(), seq.Count(), seq.Min(), seq.Max())
					}
					if e := mkRelErr(m.Mean(), seq.Mean()); e > 1e-12 {
						t.Errorf("%s: mean %v vs %v, relative error %g", name, m.Mean(), seq.Mean(), e)
					}
					if e := mkRelErr(m.Variance(), seq.Variance()); e > 1e-12 {
						t.Errorf("%s: variance %v vs %v, relative error %g", name, m.Variance(), seq.Variance(), e)
					}
				}
			})
		}
	}
}

func TestMomentsMergeEdgeCases(t *testing.T) {
	var empty, a, b Moments
	b.Add(math.NaN())
	a.Merge(&empty)
	a.Merge(&b)
	if a.Count() != 0 || a.NaNs() != 1 || !math.IsNaN(a.Mean()) {
		t.Errorf("empty merges: count %d NaNs %d mean %v", a.Count(), a.NaNs(), a.Mean())
	}
	for _, x := range []float64{1, 2, 3, 4} {
		b.Add(x)
	}
	a.Merge(&b) // into empty: a copy
	want := b
	want.nans = 2
	if a != want {
		t.Errorf("merge into empty = %+v, want %+v", a, want)
	}
	a.Merge(&a) // self: every weight doubled
	if a.Count() != 8 || a.Weight() != 8 || a.NaNs() != 4 || a.Mean() != 2.5 || a.PopulationVariance() != 1.25 || a.Variance() != 10.0/7 {
		t.Errorf("self merge: count %d weight %v NaNs %d mean %v popvar %v var %v", a.Count(), a.Weight(), a.NaNs(), a.Mean(), a.PopulationVariance(), a.Variance())
	}
}

func TestMomentsReset(t *testing.T) {
	var m Moments
	m.Add(1)
	m.Add(math.Inf(1))
	m.Reset()
	if m != (Moments{}) {
		t.Errorf("after Reset: %+v", m)
	}
}

func TestMomentsAllocs(t *testing.T) {
	var m, o Moments
	o.Add(1)
	x := 0.0
	for name, f := range map[string]func(){
		"Add":         func() { x += 1.5; m.Add(x) },
		"AddWeighted": func() { x += 1.5; m.AddWeighted(x, 2) },
		"Merge":       func() { m.Merge(&o) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: got %v allocation(s) (want zero)", name, n)
		}
	}
}

func TestMomentsEncodingRoundTrip(t *testing.T) {
	cases := map[string]func(*Moments){
		"empty":       func(*Moments) {},
		"only NaNs":   func(m *Moments) { m.Add(math.NaN()); m.Add(math.Inf(-1)) },
		"one value":   func(m *Moments) { m.Add(-2.5) },
		"weighted":    func(m *Moments) { m.AddWeighted(1, 0.25); m.AddWeighted(3, 7); m.Add(math.NaN()) },
		"overflowing": func(m *Moments) { m.Add(1e308); m.Add(-1e308); m.Add(1e308) },
	}
	for name, fill := range cases {
		t.Run(name, func(t *testing.T) {
			var m Moments
			fill(&m)
			enc := mkMarshal(t, &m)
			var d Moments
			if err := d.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mkMarshal(t, &d), enc) {
				t.Fatal("re-encoding differs")
			}
			same := func(a, b float64) bool { return a == b || (a != a && b != b) }
			if d.Count() != m.Count() || d.NaNs() != m.NaNs() || d.Infs() != m.Infs() || !same(d.Mean(), m.Mean()) || !same(d.Variance(), m.Variance()) || !same(d.Min(), m.Min()) {
				t.Errorf("decoded %+v, want %+v", d, m)
			}
			dst := []byte("prefix")
			out, err := m.AppendBinary(dst)
			if err != nil || !bytes.Equal(out[:6], dst) || !bytes.Equal(out[6:], enc) {
				t.Errorf("AppendBinary did not append the encoding")
			}
		})
	}
	// -0 is +0: same state, same bytes.
	var a, b Moments
	a.Add(0)
	b.Add(math.Copysign(0, -1))
	if !bytes.Equal(mkMarshal(t, &a), mkMarshal(t, &b)) {
		t.Error("-0 and +0 encode differently")
	}
}

// Moments payload offsets within the encoding (after the 56-byte header).
const (
	mOffN    = 56
	mOffW    = 56 + 24
	mOffM2   = 56 + 48
	mOffMin  = 56 + 56
	mOffMax  = 56 + 64
	mOffHiLo = 56 + 32
)

func TestMomentsDecodeErrors(t *testing.T) {
	var m Moments
	m.Add(1)
	m.Add(4)
	good := mkMarshal(t, &m)
	var empty Moments
	emptyEnc := mkMarshal(t, &empty)
	negZero := uint64(1) << 63
	otherNaN := math.Float64bits(math.NaN()) ^ 2
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"bit flip", func() []byte { b := append([]byte(nil), good...); b[70] ^= 1; return b }(), ErrChecksum},
		{"wrong kind", func() []byte { b := append([]byte(nil), good...); b[5] = 19; return envelope.Reseal(b) }(), ErrKind},
		{"non-zero shape", mkEdit(good, 16, 1), ErrCorrupt},
		{"-0 min", mkEdit(good, mOffMin, negZero), ErrCorrupt},
		{"non-canonical NaN", mkEdit(good, mOffM2, otherNaN), ErrCorrupt},
		{"negative M2", mkEdit(good, mOffM2, math.Float64bits(-1)), ErrCorrupt},
		{"zero weight", mkEdit(good, mOffW, 0), ErrCorrupt},
		{"min above max", mkEdit(good, mOffMin, math.Float64bits(5)), ErrCorrupt},
		{"infinite max", mkEdit(good, mOffMax, math.Float64bits(math.Inf(1))), ErrCorrupt},
		{"empty with a mean", mkEdit(emptyEnc, mOffHiLo, math.Float64bits(1)), ErrCorrupt},
		{"count without weight", mkEdit(emptyEnc, mOffN, 3), ErrCorrupt},
		{"short payload", mkEnvelope(envelope.KindMoments, [4]uint64{}, good[56:56+63]), ErrCorrupt},
		{"long payload", mkEnvelope(envelope.KindMoments, [4]uint64{}, append(good[56:56+64:56+64], 0)), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := m
			err := d.UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if d != m {
				t.Error("failed decode changed the receiver")
			}
		})
	}
}
