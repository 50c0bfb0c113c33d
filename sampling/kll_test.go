package sampling

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNewKLLParameters(t *testing.T) {
	for _, tc := range []struct {
		k, wantK int
		ok       bool
	}{
		{0, DefaultKLLK, true},
		{MinKLLK, MinKLLK, true},
		{200, 200, true},
		{MaxKLLK, MaxKLLK, true},
		{-1, 0, false},
		{MinKLLK - 1, 0, false},
		{MaxKLLK + 1, 0, false},
	} {
		t.Run(fmt.Sprintf("k=%d", tc.k), func(t *testing.T) {
			s, err := NewKLL(tc.k, 1)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidParameter) {
					t.Fatalf("err = %v, want ErrInvalidParameter", err)
				}
				return
			}
			if err != nil || s.K() != tc.wantK {
				t.Fatalf("NewKLL(%d) = k %d, %v; want k %d", tc.k, s.K(), err, tc.wantK)
			}
		})
	}
}

// The capacities must be DataSketches' (round(k*(2/3)^depth), at least 8):
// RankError's constant was fitted to exactly this schedule.
func TestKLLLevelCapacities(t *testing.T) {
	for _, tc := range []struct {
		k    int
		want []int
	}{
		{200, []int{200, 133, 89, 59, 40, 26, 18, 12, 8, 8, 8}},
		{8, []int{8, 8, 8}},
		{MaxKLLK, []int{65535, 43690, 29127, 19418}},
	} {
		t.Run(fmt.Sprintf("k=%d", tc.k), func(t *testing.T) {
			for d, want := range tc.want {
				if got := kllDepthCap(tc.k, d); got != want {
					t.Errorf("depth %d: capacity %d, want %d", d, got, want)
				}
			}
			if got := kllDepthCap(tc.k, 63); got != kllMinWidth {
				t.Errorf("depth 63: capacity %d, want %d", got, kllMinWidth)
			}
		})
	}
}

func TestKLLEmpty(t *testing.T) {
	var zero KLL
	fresh := mkKLL(t, 0, 0)
	for name, s := range map[string]*KLL{"zero value": &zero, "NewKLL": fresh} {
		t.Run(name, func(t *testing.T) {
			v, lo, hi := s.QuantileBounds(0.5)
			for what, x := range map[string]float64{"Quantile": s.Quantile(0.5), "Rank": s.Rank(1), "Min": s.Min(), "Max": s.Max(), "value": v, "lower": lo, "upper": hi} {
				if !math.IsNaN(x) {
					t.Errorf("%s of an empty sketch = %v, want NaN", what, x)
				}
			}
			if s.Count() != 0 || s.Retained() != 0 || s.RankError() != 0 || s.K() != DefaultKLLK {
				t.Errorf("count %d retained %d eps %v k %d", s.Count(), s.Retained(), s.RankError(), s.K())
			}
		})
	}
	if !bytes.Equal(mkMarshal(t, &zero), mkMarshal(t, fresh)) {
		t.Error("zero value and NewKLL(DefaultKLLK, 0) encode differently")
	}
	// The zero value is usable as is.
	var z KLL
	z.Add(3)
	if z.Quantile(0.5) != 3 || z.Count() != 1 {
		t.Errorf("zero value after Add(3): median %v count %d", z.Quantile(0.5), z.Count())
	}
}

// kllExactQuantile is the inclusive-rank quantile of sorted: the value at
// natural rank ceil(q*n).
func kllExactQuantile(sorted []float64, q float64) float64 {
	r := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(r, 1)-1]
}

func TestKLLExactWhileSmall(t *testing.T) {
	for _, n := range []int{1, 2, 7, 100, 200} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			s := mkKLL(t, 200, 3)
			g := rand.NewPCG(uint64(n), 1)
			var vals []float64
			for range n {
				x := math.Round(mkUniform(g)*50) - 25 // ties included
				vals = append(vals, x)
				s.Add(x)
			}
			slices.Sort(vals)
			if s.RankError() != 0 {
				t.Fatalf("RankError %v with every value retained", s.RankError())
			}
			for q := 0.0; q <= 1; q += 1.0 / 64 {
				if got, want := s.Quantile(q), kllExactQuantile(vals, q); got != want {
					t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
				}
			}
			for _, x := range vals {
				want := float64(kllCountLE(vals, x)) / float64(n)
				if got := s.Rank(x); got != want {
					t.Errorf("Rank(%v) = %v, want %v", x, got, want)
				}
			}
			if s.Quantile(0) != vals[0] || s.Quantile(1) != vals[n-1] {
				t.Errorf("extremes %v %v, want %v %v", s.Quantile(0), s.Quantile(1), vals[0], vals[n-1])
			}
		})
	}
}

func kllCountLE(sorted []float64, x float64) int {
	i, _ := slices.BinarySearchFunc(sorted, x, func(e, x float64) int {
		if e <= x {
			return -1
		}
		return 1
	})
	return i
}

func TestKLLSpecialValues(t *testing.T) {
	s := mkKLL(t, 8, 1)
	for _, x := range []float64{math.NaN(), 1, math.Inf(1), math.NaN(), math.Inf(-1), 2} {
		s.Add(x)
	}
	if s.NaNs() != 2 || s.Count() != 4 {
		t.Errorf("NaNs %d count %d, want 2 and 4", s.NaNs(), s.Count())
	}
	if s.Min() != math.Inf(-1) || s.Max() != math.Inf(1) || s.Quantile(0.5) != 1 {
		t.Errorf("min %v max %v median %v", s.Min(), s.Max(), s.Quantile(0.5))
	}
	if r := s.Rank(math.NaN()); !math.IsNaN(r) {
		t.Errorf("Rank(NaN) = %v", r)
	}
	for _, q := range []float64{-0.1, 1.1, math.NaN()} {
		if v := s.Quantile(q); !math.IsNaN(v) {
			t.Errorf("Quantile(%v) = %v, want NaN", q, v)
		}
	}
	// -0 and +0 are the same value: same state, same bytes.
	a, b := mkKLL(t, 8, 1), mkKLL(t, 8, 1)
	for i := range 100 {
		a.Add(float64(i % 3))
		if i%3 == 0 {
			b.Add(math.Copysign(0, -1))
		} else {
			b.Add(float64(i % 3))
		}
	}
	if !bytes.Equal(mkMarshal(t, a), mkMarshal(t, b)) {
		t.Error("-0 and +0 streams encode differently")
	}
}

// streams used across the KLL tests: n values 0..n-1 in a given order.
var kllOrders = []struct {
	name string
	fill func(v []float64, g *rand.PCG)
}{
	{"shuffled", func(v []float64, g *rand.PCG) {
		for i := range v {
			v[i] = float64(i)
		}
		r := rand.New(g)
		r.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] })
	}},
	{"sorted", func(v []float64, _ *rand.PCG) {
		for i := range v {
			v[i] = float64(i)
		}
	}},
	{"reversed", func(v []float64, _ *rand.PCG) {
		for i := range v {
			v[i] = float64(len(v) - 1 - i)
		}
	}},
	{"zigzag", func(v []float64, _ *rand.PCG) { // 0, n-1, 1, n-2, ...
		lo, hi := 0, len(v)-1
		for i := range v {
			if i%2 == 0 {
				v[i] = float64(lo)
				lo++
			} else {
				v[i] = float64(hi)
				hi--
			}
		}
	}},
}

func TestKLLInvariants(t *testing.T) {
	for _, k := range []int{8, 20, 200} {
		for _, o := range kllOrders {
			t.Run(fmt.Sprintf("k=%d/%s", k, o.name), func(t *testing.T) {
				g := rand.NewPCG(uint64(k), 7)
				vals := make([]float64, 20000)
				o.fill(vals, g)
				s := mkKLL(t, k, 11)
				for i, x := range vals {
					s.Add(x)
					if i%997 == 0 {
						mkCheckKLL(t, s)
					}
				}
				mkCheckKLL(t, s)
				// Merging odd-sized pieces keeps the invariants too.
				for i := range 5 {
					p := mkKLL(t, k, uint64(i))
					for _, x := range vals[:1+i*777] {
						p.Add(x)
					}
					if err := s.Merge(p); err != nil {
						t.Fatal(err)
					}
					mkCheckKLL(t, s)
					for _, x := range vals[:300] {
						s.Add(x)
					}
					mkCheckKLL(t, s)
				}
			})
		}
	}
}

func TestKLLDeterministicAndSeeded(t *testing.T) {
	feed := func(seed uint64) []byte {
		s := mkKLL(t, 50, seed)
		g := rand.NewPCG(1, 2)
		for range 10000 {
			s.Add(mkUniform(g))
		}
		return mkMarshal(t, s)
	}
	if !bytes.Equal(feed(5), feed(5)) {
		t.Error("same seed and stream gave different sketches")
	}
	if bytes.Equal(feed(5), feed(6)) {
		t.Error("different seeds gave identical sketches: the coin is not used")
	}
}

// The coin's state travels with the encoding: a restored sketch goes on
// exactly as the original.
func TestKLLRestoreContinuesIdentically(t *testing.T) {
	for _, k := range []int{8, 200} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			g := rand.NewPCG(9, 9)
			a := mkKLL(t, k, 77)
			for range 100000 {
				a.Add(mkUniform(g))
			}
			var b KLL
			if err := b.UnmarshalBinary(mkMarshal(t, a)); err != nil {
				t.Fatal(err)
			}
			mkCheckKLL(t, &b)
			for range 100000 {
				x := mkUniform(g)
				a.Add(x)
				b.Add(x)
			}
			other := mkKLL(t, k, 1)
			other.Add(0.5)
			for range 3000 {
				other.Add(mkUniform(g))
			}
			if err := a.Merge(other); err != nil {
				t.Fatal(err)
			}
			if err := b.Merge(other); err != nil {
				t.Fatal(err)
			}
			ea, eb := mkMarshal(t, a), mkMarshal(t, &b)
			if !bytes.Equal(ea, eb) {
				t.Fatal("restored sketch diverged from the original")
			}
			if a.Quantile(0.3) != b.Quantile(0.3) {
				t.Fatal("restored sketch answers differently")
			}
		})
	}
}

// Level 0 is kept in arrival order but encoded sorted: the order in which
// values reach level 0 between compactions is not state.
func TestKLLCanonicalLevelZeroOrder(t *testing.T) {
	g := rand.NewPCG(4, 4)
	base := make([]float64, 1000)
	for i := range base {
		base[i] = mkUniform(g)
	}
	a, b := mkKLL(t, 30, 3), mkKLL(t, 30, 3)
	for _, x := range base {
		a.Add(x)
		b.Add(x)
	}
	room := int(a.levels[0]) // values that fit before the next compaction
	if room < 2 {
		t.Fatalf("test needs free space, have %d", room)
	}
	tail := base[:room]
	for i := range tail {
		a.Add(tail[i])
		b.Add(tail[len(tail)-1-i])
	}
	if !bytes.Equal(mkMarshal(t, a), mkMarshal(t, b)) {
		t.Error("same values in a different order within level 0 encode differently")
	}
	// And they keep behaving identically.
	for range 5000 {
		x := mkUniform(g)
		a.Add(x)
		b.Add(x)
	}
	if !bytes.Equal(mkMarshal(t, a), mkMarshal(t, b)) {
		t.Error("level-0 order changed later compactions")
	}
}

func TestKLLMergeRules(t *testing.T) {
	t.Run("different k", func(t *testing.T) {
		a, b := mkKLL(t, 100, 1), mkKLL(t, 200, 1)
		a.Add(1)
		b.Add(2)
		before := mkMarshal(t, a)
		if err := a.Merge(b); !errors.Is(err, ErrIncompatible) {
			t.Fatalf("err = %v, want ErrIncompatible", err)
		}
		if !bytes.Equal(before, mkMarshal(t, a)) {
			t.Error("failed merge changed the sketch")
		}
		var zero KLL // k = 200
		if err := a.Merge(&zero); !errors.Is(err, ErrIncompatible) {
			t.Fatalf("merge of a zero value (k=200) into k=100: err = %v", err)
		}
	})
	t.Run("empty into empty", func(t *testing.T) {
		var a, b KLL
		b.Add(math.NaN())
		if err := a.Merge(&b); err != nil {
			t.Fatal(err)
		}
		if a.Count() != 0 || a.NaNs() != 1 || !math.IsNaN(a.Quantile(0.5)) {
			t.Errorf("count %d NaNs %d median %v", a.Count(), a.NaNs(), a.Quantile(0.5))
		}
	})
	t.Run("small stays exact", func(t *testing.T) {
		a, b := mkKLL(t, 200, 1), mkKLL(t, 200, 2)
		var all []float64
		for i := range 150 {
			x := float64((i * 37) % 150)
			all = append(all, x)
			if i%3 == 0 {
				a.Add(x)
			} else {
				b.Add(x)
			}
		}
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		slices.Sort(all)
		if a.RankError() != 0 || a.Count() != 150 {
			t.Fatalf("eps %v count %d", a.RankError(), a.Count())
		}
		for q := 0.0; q <= 1; q += 0.05 {
			if got, want := a.Quantile(q), kllExactQuantile(all, q); got != want {
				t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
			}
		}
	})
	t.Run("other unchanged", func(t *testing.T) {
		a, b := mkKLL(t, 20, 1), mkKLL(t, 20, 2)
		for i := range 3000 {
			a.Add(float64(i))
			b.Add(float64(3000 - i))
		}
		before := mkMarshal(t, b)
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, mkMarshal(t, b)) {
			t.Error("Merge changed its argument")
		}
	})
	t.Run("self merge doubles", func(t *testing.T) {
		a := mkKLL(t, 20, 1)
		for i := range 1000 {
			a.Add(float64(i))
		}
		a.Add(math.NaN())
		if err := a.Merge(a); err != nil {
			t.Fatal(err)
		}
		mkCheckKLL(t, a)
		if a.Count() != 2000 || a.NaNs() != 2 || a.Min() != 0 || a.Max() != 999 {
			t.Errorf("count %d NaNs %d min %v max %v", a.Count(), a.NaNs(), a.Min(), a.Max())
		}
		if m := a.Quantile(0.5); math.Abs(m-500) > 2*a.RankError()*1000 {
			t.Errorf("median %v after self-merge", m)
		}
	})
	t.Run("count overflow", func(t *testing.T) {
		a := mkKLL(t, 8, 1)
		a.Add(1)
		a.n = math.MaxUint64 // forged, to reach the check
		b := mkKLL(t, 8, 1)
		b.Add(2)
		if err := a.Merge(b); !errors.Is(err, ErrIncompatible) {
			t.Fatalf("err = %v, want ErrIncompatible", err)
		}
	})
}

func TestKLLQueries(t *testing.T) {
	s := mkKLL(t, 64, 5)
	g := rand.NewPCG(5, 5)
	for range 50000 {
		s.Add(mkUniform(g) * 100)
	}
	qs := []float64{0, 0.01, 0.25, 0.5, 0.75, 0.99, 1}
	got := s.Quantiles(qs)
	if !slices.IsSorted(got) {
		t.Errorf("Quantiles not monotone: %v", got)
	}
	for i, q := range qs {
		if got[i] != s.Quantile(q) {
			t.Errorf("Quantiles[%d] = %v, Quantile = %v", i, got[i], s.Quantile(q))
		}
		v, lo, hi := s.QuantileBounds(q)
		if !(lo <= v && v <= hi) {
			t.Errorf("QuantileBounds(%v) = %v [%v, %v]", q, v, lo, hi)
		}
	}
	splits := []float64{-1, 10, 50, 90, 200}
	cdf := s.CDF(splits)
	if cdf[0] != 0 || cdf[4] != 1 || !slices.IsSorted(cdf) {
		t.Errorf("CDF = %v", cdf)
	}
	eps := s.RankError()
	for i, x := range splits[1:4] {
		if math.Abs(cdf[i+1]-x/100) > eps {
			t.Errorf("CDF(%v) = %v, want %v ± %v", x, cdf[i+1], x/100, eps)
		}
	}
	// Rank and Quantile are near-inverses.
	for _, q := range qs[1:6] {
		if r := s.Rank(s.Quantile(q)); r < q || r > q+eps {
			t.Errorf("Rank(Quantile(%v)) = %v", q, r)
		}
	}
	// Answers are cached, and the cache follows updates.
	if p := s.Quantile(0.999); p > 100 {
		t.Fatalf("p99.9 %v before the update", p)
	}
	for range 10000 {
		s.Add(1000)
	}
	if p := s.Quantile(0.999); p != 1000 {
		t.Errorf("p99.9 = %v after a sixth of the values became 1000: stale cache", p)
	}
}

func TestKLLReset(t *testing.T) {
	s := mkKLL(t, 16, 3)
	for i := range 5000 {
		s.Add(float64(i))
	}
	s.Add(math.NaN())
	s.Reset()
	mkCheckKLL(t, s)
	if s.Count() != 0 || s.NaNs() != 0 || s.Retained() != 0 || s.K() != 16 || !math.IsNaN(s.Quantile(0.5)) {
		t.Fatalf("after Reset: count %d NaNs %d retained %d k %d", s.Count(), s.NaNs(), s.Retained(), s.K())
	}
	for i := range 5000 {
		s.Add(float64(i))
	}
	mkCheckKLL(t, s)
}

func TestKLLAddAllocs(t *testing.T) {
	s := mkKLL(t, 200, 1)
	g := rand.NewPCG(1, 1)
	for range 1_000_000 {
		s.Add(mkUniform(g))
	}
	if n := testing.AllocsPerRun(200_000, func() { s.Add(mkUniform(g)) }); n != 0 {
		t.Fatalf("got %v allocation(s) (want zero)", n)
	}
	s.Quantile(0.5)
	if n := testing.AllocsPerRun(1000, func() { s.Quantile(0.9) }); n != 0 {
		t.Fatalf("cached Quantile: got %v allocation(s) (want zero)", n)
	}
}
