package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// cmKeyHash is the production hash of key id i: xxhash64 of its 8 bytes.
func cmKeyHash(i uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	return Hash(b[:])
}

func mustCountMin(t testing.TB, eps, delta float64) *CountMin {
	t.Helper()
	c, err := NewCountMin(eps, delta)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustCountMinWD(t testing.TB, w, d int) *CountMin {
	t.Helper()
	c, err := NewCountMinWidthDepth(w, d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cmMarshal(t testing.TB, c *CountMin) []byte {
	t.Helper()
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// zipfStream is a deterministic Zipf(1.1) stream of n key ids in [0, keys).
type zipfStream struct {
	ids    []uint32
	hashes []uint64 // by key id
	truth  []uint64 // by key id
}

func newZipfStream(seed uint64, n, keys int) *zipfStream {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	z := rand.NewZipf(r, 1.1, 1, uint64(keys-1))
	s := &zipfStream{ids: make([]uint32, n), hashes: make([]uint64, keys), truth: make([]uint64, keys)}
	for i := range s.ids {
		id := z.Uint64()
		s.ids[i] = uint32(id)
		s.truth[id]++
	}
	for id := range s.hashes {
		s.hashes[id] = cmKeyHash(uint64(id))
	}
	return s
}

func (s *zipfStream) feed(c *CountMin, from, to int) {
	for _, id := range s.ids[from:to] {
		c.AddHash(s.hashes[id], 1)
	}
}

// zipfReport summarizes one sketch's answers over every key of a stream.
type zipfReport struct {
	keys          int     // distinct keys in the stream
	under         int     // estimates below the truth: must be none
	violations    int     // est > truth + Epsilon*N: at most Delta of keys
	covered       int     // Lower <= truth <= Upper at 1-Delta
	covered95     int     // the same at confidence 0.95
	exactWrong    int     // Exact estimates that are not the truth
	mae, maeAbsnt float64 // mean absolute error over present / absent ids
	topLowerRatio float64 // Lower/truth for the most frequent key
}

func reportZipf(c *CountMin, s *zipfStream) zipfReport {
	var r zipfReport
	slack := c.Epsilon() * float64(c.Total())
	var absent int
	top := 0
	for id, f := range s.truth {
		e := c.EstimateHash(s.hashes[id])
		tf := float64(f)
		if f == 0 {
			absent++
			r.maeAbsnt += e.Value
			continue
		}
		r.keys++
		if f > s.truth[top] {
			top = id
		}
		if e.Value < tf {
			r.under++
		}
		if e.Value > tf+slack {
			r.violations++
		}
		if e.Contains(tf) {
			r.covered++
		}
		if e.Exact && e.Value != tf {
			r.exactWrong++
		}
		if c.EstimateHashAt(s.hashes[id], 0.95).Contains(tf) {
			r.covered95++
		}
		r.mae += e.Value - tf
	}
	r.mae /= float64(r.keys)
	if absent > 0 {
		r.maeAbsnt /= float64(absent)
	}
	r.topLowerRatio = c.EstimateHash(s.hashes[top]).Lower / float64(s.truth[top])
	return r
}

// TestCountMinZipf checks the guarantees on a Zipf(1.1) stream of 1e7 events
// over 1e6 key ids at epsilon=0.001, delta=0.01 (4096x5): never an
// underestimate; at most a Delta fraction of keys overestimated by more than
// Epsilon*N; bounds that cover at their confidence; and conservative update
// at most 0.7 times the mean absolute error of plain update.
func TestCountMinZipf(t *testing.T) {
	n, keys := 10_000_000, 1_000_000
	if testing.Short() {
		n, keys = 1_000_000, 100_000
	}
	s := newZipfStream(1, n, keys)
	cu := mustCountMin(t, 0.001, 0.01)
	plain := mustCountMin(t, 0.001, 0.01)
	plain.SetConservative(false)
	s.feed(cu, 0, n)
	s.feed(plain, 0, n)
	if cu.Width() != 4096 || cu.Depth() != 5 || cu.Total() != uint64(n) {
		t.Fatalf("shape %dx%d total %d, want 4096x5 total %d", cu.Width(), cu.Depth(), cu.Total(), n)
	}
	reps := map[string]zipfReport{"conservative": reportZipf(cu, s), "plain": reportZipf(plain, s)}
	for _, name := range []string{"conservative", "plain"} {
		r := reps[name]
		t.Logf("%s: %d keys, %d violations, coverage %.5f (%.5f at 0.95), MAE %.1f (absent ids %.1f), top key Lower/true %.4f",
			name, r.keys, r.violations, float64(r.covered)/float64(r.keys), float64(r.covered95)/float64(r.keys), r.mae, r.maeAbsnt, r.topLowerRatio)
		if r.under != 0 {
			t.Errorf("%s: %d keys underestimated: CountMin never underestimates", name, r.under)
		}
		if rate := float64(r.violations) / float64(r.keys); rate > cu.Delta() {
			t.Errorf("%s: %.5f of keys overestimated by more than epsilon*N, want <= delta = %.5f", name, rate, cu.Delta())
		}
		if rate := float64(r.covered) / float64(r.keys); rate < 1-cu.Delta() {
			t.Errorf("%s: bounds cover %.5f of keys, want >= %.5f", name, rate, 1-cu.Delta())
		}
		if rate := float64(r.covered95) / float64(r.keys); rate < 0.95 {
			t.Errorf("%s: 95%% bounds cover %.5f of keys", name, rate)
		}
		if r.exactWrong != 0 {
			t.Errorf("%s: %d estimates claim to be exact and are not", name, r.exactWrong)
		}
		// The bound must be informative, not just true, for a heavy key.
		if r.topLowerRatio < 0.99 {
			t.Errorf("%s: top key Lower is %.4f of the truth, want >= 0.99", name, r.topLowerRatio)
		}
	}
	ratio := reps["conservative"].mae / reps["plain"].mae
	t.Logf("conservative/plain MAE ratio %.3f", ratio)
	if ratio > 0.7 {
		t.Errorf("conservative/plain mean absolute error %.3f, want <= 0.7", ratio)
	}
}

func TestNewCountMinShape(t *testing.T) {
	for _, tc := range []struct {
		eps, delta float64
		w, d       int
	}{
		{0.001, 0.01, 4096, 5},
		{math.E / 4096, math.Exp(-5), 4096, 5}, // exact boundaries do not round up
		{0.01, 0.001, 512, 7},
		{0.5, 0.5, 8, 1},
		{0.99, 0.99, 4, 1},
		{0.0001, 0.05, 32768, 3},
	} {
		t.Run(fmt.Sprintf("eps=%g,delta=%g", tc.eps, tc.delta), func(t *testing.T) {
			c := mustCountMin(t, tc.eps, tc.delta)
			if c.Width() != tc.w || c.Depth() != tc.d {
				t.Fatalf("shape %dx%d, want %dx%d", c.Width(), c.Depth(), tc.w, tc.d)
			}
			if c.Epsilon() > tc.eps*(1+1e-9) || c.Delta() > tc.delta*(1+1e-9) {
				t.Errorf("guarantee epsilon %g delta %g is worse than asked", c.Epsilon(), c.Delta())
			}
			if !c.Conservative() || c.Total() != 0 {
				t.Errorf("new sketch: conservative %v total %d", c.Conservative(), c.Total())
			}
		})
	}
}

func TestNewCountMinInvalid(t *testing.T) {
	for _, tc := range []struct {
		name       string
		eps, delta float64
	}{
		{"eps=0", 0, 0.01},
		{"eps=1", 1, 0.01},
		{"eps<0", -0.1, 0.01},
		{"eps=NaN", math.NaN(), 0.01},
		{"delta=0", 0.01, 0},
		{"delta=1", 0.01, 1},
		{"delta=NaN", 0.01, math.NaN()},
		{"eps too small for the counter cap", 1e-9, 0.01},
		{"eps=1e-300 does not overflow", 1e-300, 0.01},
		{"delta needs more than 64 rows", 0.01, 1e-30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCountMin(tc.eps, tc.delta)
			if !errors.Is(err, ErrInvalidParameter) || c != nil {
				t.Fatalf("got %v, %v; want ErrInvalidParameter", c, err)
			}
			t.Log(err)
		})
	}
	for _, tc := range []struct {
		name string
		w, d int
	}{
		{"width not a power of two", 3000, 5},
		{"width 0", 0, 5},
		{"width negative", -4096, 5},
		{"depth 0", 4096, 0},
		{"depth 65", 4096, 65},
		{"too many counters", 1 << 30, 2},
		{"width past the cap", MaxCountMinCounters + 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCountMinWidthDepth(tc.w, tc.d)
			if !errors.Is(err, ErrInvalidParameter) || c != nil {
				t.Fatalf("got %v, %v; want ErrInvalidParameter", c, err)
			}
			t.Log(err)
		})
	}
	for _, tc := range []struct{ w, d int }{{1, 1}, {1, 64}, {2, 64}} {
		if _, err := NewCountMinWidthDepth(tc.w, tc.d); err != nil {
			t.Errorf("%dx%d: %v", tc.w, tc.d, err)
		}
	}
}

func TestCountMinZeroValue(t *testing.T) {
	var c CountMin
	if c.Width() != 4096 || c.Depth() != 5 || !c.Conservative() {
		t.Fatalf("zero value: %dx%d conservative %v, want 4096x5 conservative", c.Width(), c.Depth(), c.Conservative())
	}
	if c.Epsilon() != math.E/4096 || c.Delta() != math.Exp(-5) {
		t.Errorf("zero value: epsilon %v delta %v", c.Epsilon(), c.Delta())
	}
	if e := c.EstimateString("x"); !e.Exact || e.Value != 0 || e.Confidence != 1-math.Exp(-5) {
		t.Errorf("empty estimate %v, want exact 0", e)
	}
	if n := testing.AllocsPerRun(10, func() { c.EstimateStringAt("x", 0.95) }); n != 0 || c.counts != nil {
		t.Errorf("queries on the zero value: got %v allocation(s) (want zero)", n)
	}
	def := mustCountMin(t, DefaultCountMinEpsilon, DefaultCountMinDelta)
	if !bytes.Equal(cmMarshal(t, &c), cmMarshal(t, def)) {
		t.Error("empty zero value encodes differently from an empty default sketch")
	}
	c.AddString("x", 3)
	def.AddString("x", 3)
	if e := c.EstimateString("x"); e.Value != 3 || e.Upper != 3 {
		t.Errorf("estimate %v, want 3", e)
	}
	if !bytes.Equal(cmMarshal(t, &c), cmMarshal(t, def)) {
		t.Error("zero value encodes differently from the default sketch after the same adds")
	}
}

// TestCountMinExactAndSmall checks answers that need no probability: a
// sketch wider than the number of keys counts each one exactly unless two
// collide in every row; an absent key reads as an exact 0 unless every one of
// its counters was hit.
func TestCountMinExactAndSmall(t *testing.T) {
	for _, tc := range []struct{ w, d int }{{1 << 16, 4}, {1 << 16, 8}, {1 << 20, 12}, {1 << 8, 64}} {
		t.Run(fmt.Sprintf("w=%d,d=%d", tc.w, tc.d), func(t *testing.T) {
			for _, conservative := range []bool{true, false} {
				c := mustCountMinWD(t, tc.w, tc.d)
				c.SetConservative(conservative)
				for i := range 50 {
					c.AddHash(cmKeyHash(uint64(i)), uint64(i+1))
				}
				for i := range 50 {
					if e := c.EstimateHash(cmKeyHash(uint64(i))); e.Value != float64(i+1) || e.Upper != e.Value {
						t.Errorf("conservative=%v: key %d: %v, want %d", conservative, i, e, i+1)
					}
				}
				zeros := 0
				for i := 1000; i < 1100; i++ {
					if e := c.EstimateHash(cmKeyHash(uint64(i))); e.Exact && e.Value == 0 {
						zeros++
					}
				}
				if zeros < 99 {
					t.Errorf("conservative=%v: only %d of 100 absent keys read as exact 0", conservative, zeros)
				}
			}
		})
	}
}

// TestCountMinRowsUseWholeWidth feeds keys whose raw hashes agree in their low
// and high 16 bits, as inside one partition or after key-hash shedding, and
// checks that every row still spreads them over (nearly) all its columns.
func TestCountMinRowsUseWholeWidth(t *testing.T) {
	for _, tc := range []struct{ w, d int }{{4096, 5}, {1 << 15, 6}, {64, 20}} {
		t.Run(fmt.Sprintf("w=%d,d=%d", tc.w, tc.d), func(t *testing.T) {
			c := mustCountMinWD(t, tc.w, tc.d)
			c.SetConservative(false)
			keys := 16 * tc.w // expect w*e^-16 unused columns per row: none
			for i := range keys {
				h := cmKeyHash(uint64(i))&^(0xffff<<48|0xffff) | 0x1234
				c.AddHash(h, 1)
			}
			for row := range tc.d {
				used := 0
				for _, x := range c.counts[row*tc.w : (row+1)*tc.w] {
					if x != 0 {
						used++
					}
				}
				if frac := float64(used) / float64(tc.w); frac < 0.999 {
					t.Errorf("row %d uses %.3f of its columns", row, frac)
				}
			}
		})
	}
}

func TestCountMinConfidence(t *testing.T) {
	c := mustCountMinWD(t, 1024, 4)
	s := newZipfStream(3, 100_000, 10_000)
	s.feed(c, 0, len(s.ids))
	h := s.hashes[5]
	prev := math.Inf(-1)
	for _, conf := range []float64{0.999, 0.99, 0.95, 0.5, 0.1} {
		e := c.EstimateHashAt(h, conf)
		if e.Confidence != conf || e.Lower < prev || e.Lower > e.Value || e.Upper != e.Value {
			t.Errorf("confidence %v: %v (previous lower %v): lower must grow as confidence falls, up to the value", conf, e, prev)
		}
		prev = e.Lower
	}
	if got, want := c.EstimateHash(h), c.EstimateHashAt(h, 1-c.Delta()); math.Abs(got.Lower-want.Lower) > 1 || got.Confidence != want.Confidence {
		t.Errorf("EstimateHash %v differs from EstimateHashAt(1-Delta) %v", got, want)
	}
	for _, bad := range []float64{0, 1, -1, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("confidence %v: no panic", bad)
				}
			}()
			c.EstimateHashAt(h, bad)
		}()
	}
}

func TestCountMinSaturates(t *testing.T) {
	for _, conservative := range []bool{true, false} {
		c := mustCountMinWD(t, 16, 2)
		c.SetConservative(conservative)
		c.AddString("a", math.MaxUint64-1)
		c.AddString("a", 5)
		if c.Total() != math.MaxUint64 {
			t.Errorf("conservative=%v: total %d, want saturated", conservative, c.Total())
		}
		e := c.EstimateString("a")
		if e.Value != math.MaxUint64 || !math.IsInf(e.Upper, 1) || e.Exact {
			t.Errorf("conservative=%v: %v, want saturated value with an infinite upper bound", conservative, e)
		}
		if err := c.Merge(c); err != nil {
			t.Fatal(err)
		}
		if e := c.EstimateString("a"); e.Value != math.MaxUint64 {
			t.Errorf("conservative=%v: merge wrapped around: %v", conservative, e)
		}
		var d CountMin
		if err := d.UnmarshalBinary(cmMarshal(t, c)); err != nil {
			t.Errorf("conservative=%v: saturated sketch does not decode: %v", conservative, err)
		}
	}
}

// TestCountMinModeSwitch mixes plain and conservative adds in one sketch: no
// key may read below its truth, nor above the all-plain sketch.
func TestCountMinModeSwitch(t *testing.T) {
	s := newZipfStream(4, 200_000, 20_000)
	mixed := mustCountMinWD(t, 256, 3)
	plain := mustCountMinWD(t, 256, 3)
	plain.SetConservative(false)
	for i, id := range s.ids {
		mixed.SetConservative(i%3 != 0)
		mixed.AddHash(s.hashes[id], 1)
		plain.AddHash(s.hashes[id], 1)
	}
	for id, f := range s.truth {
		m, p := mixed.EstimateHash(s.hashes[id]).Value, plain.EstimateHash(s.hashes[id]).Value
		if m < float64(f) || m > p {
			t.Fatalf("key %d: mixed %v, truth %d, plain %v", id, m, f, p)
		}
	}
}

func TestCountMinCloneReset(t *testing.T) {
	c := mustCountMinWD(t, 64, 3)
	c.SetConservative(false)
	c.AddString("a", 7)
	d := c.Clone()
	d.AddString("a", 1)
	if c.EstimateString("a").Value != 7 || d.EstimateString("a").Value != 8 {
		t.Error("clone shares counters with the original")
	}
	if d.Conservative() || d.Width() != 64 || d.Depth() != 3 {
		t.Error("clone lost shape or mode")
	}
	d.Reset()
	if !d.EstimateString("a").Exact || d.Total() != 0 || d.Conservative() || d.Width() != 64 {
		t.Error("reset sketch is not empty or lost shape or mode")
	}
	var z CountMin
	if z.Clone().Width() != 4096 {
		t.Error("clone of the zero value")
	}
}

func TestCountMinMergePlainHalvesEqualWhole(t *testing.T) {
	s := newZipfStream(5, 400_000, 50_000)
	half := len(s.ids) / 2
	whole, a, b := mustCountMinWD(t, 2048, 4), mustCountMinWD(t, 2048, 4), mustCountMinWD(t, 2048, 4)
	for _, c := range []*CountMin{whole, a, b} {
		c.SetConservative(false)
	}
	s.feed(whole, 0, len(s.ids))
	s.feed(a, 0, half)
	s.feed(b, half, len(s.ids))
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cmMarshal(t, a), cmMarshal(t, whole)) {
		t.Error("merge of the halves differs from the sketch of the whole stream")
	}
}

// TestCountMinMergeConservative: merged conservative sketches keep every
// estimate between the truth and the plain sketch of the whole, and the
// epsilon*N bound at rate delta.
func TestCountMinMergeConservative(t *testing.T) {
	s := newZipfStream(6, 1_000_000, 100_000)
	parts := 4
	merged := mustCountMin(t, 0.001, 0.01)
	plain := mustCountMin(t, 0.001, 0.01)
	plain.SetConservative(false)
	s.feed(plain, 0, len(s.ids))
	for p := range parts {
		c := mustCountMin(t, 0.001, 0.01)
		s.feed(c, p*len(s.ids)/parts, (p+1)*len(s.ids)/parts)
		if err := merged.Merge(c); err != nil {
			t.Fatal(err)
		}
	}
	if merged.Total() != uint64(len(s.ids)) {
		t.Fatalf("merged total %d, want %d", merged.Total(), len(s.ids))
	}
	for id, f := range s.truth {
		m, p := merged.EstimateHash(s.hashes[id]).Value, plain.EstimateHash(s.hashes[id]).Value
		if m < float64(f) || m > p {
			t.Fatalf("key %d: merged %v, truth %d, plain %v", id, m, f, p)
		}
	}
	r := reportZipf(merged, s)
	if rate := float64(r.violations) / float64(r.keys); rate > merged.Delta() || r.covered < r.keys*99/100 {
		t.Errorf("merged: violation rate %.5f, coverage %d/%d", rate, r.covered, r.keys)
	}
}

func TestCountMinMergeIncompatible(t *testing.T) {
	for _, tc := range []struct{ w, d int }{{2048, 5}, {4096, 4}, {8192, 6}} {
		t.Run(fmt.Sprintf("%dx%d into 4096x5", tc.w, tc.d), func(t *testing.T) {
			c := mustCountMinWD(t, 4096, 5)
			c.AddString("a", 1)
			before := cmMarshal(t, c)
			o := mustCountMinWD(t, tc.w, tc.d)
			o.AddString("a", 1)
			if err := c.Merge(o); !errors.Is(err, ErrIncompatible) {
				t.Fatalf("got %v, want ErrIncompatible", err)
			}
			if !bytes.Equal(before, cmMarshal(t, c)) {
				t.Error("failed merge changed the receiver")
			}
		})
	}
}

func TestCountMinMergeNilAndZero(t *testing.T) {
	c := mustCountMin(t, 0.001, 0.01)
	c.AddString("a", 2)
	if err := c.Merge(nil); err != nil || c.EstimateString("a").Value != 2 {
		t.Errorf("merge nil: %v", err)
	}
	if err := c.Merge(&CountMin{}); err != nil || c.EstimateString("a").Value != 2 {
		t.Errorf("merge zero value of the default shape: %v", err)
	}
	var z CountMin
	if err := z.Merge(c); err != nil || z.EstimateString("a").Value != 2 || z.Total() != 2 {
		t.Errorf("merge into zero value: %v", err)
	}
	small := mustCountMinWD(t, 16, 2)
	if err := small.Merge(&CountMin{}); !errors.Is(err, ErrIncompatible) {
		t.Errorf("merge of a default-shape zero value into 16x2: %v, want ErrIncompatible", err)
	}
}

func TestCountMinAllocs(t *testing.T) {
	for _, conservative := range []bool{true, false} {
		c := mustCountMin(t, 0.001, 0.01)
		c.SetConservative(conservative)
		deep := mustCountMinWD(t, 1<<16, 12) // wider than one hash word, deeper than 8
		deep.SetConservative(conservative)
		i := uint64(0)
		buf := make([]byte, 0, 1<<20)
		for name, f := range map[string]func(){
			"AddHash":          func() { i++; c.AddHash(i*0x9e3779b97f4a7c15, 1) },
			"AddHash deep":     func() { i++; deep.AddHash(i*0x9e3779b97f4a7c15, 1) },
			"AddString":        func() { c.AddString("some key", 2) },
			"EstimateHash":     func() { i++; c.EstimateHash(i * 0x9e3779b97f4a7c15) },
			"EstimateHashAt":   func() { i++; deep.EstimateHashAt(i*0x9e3779b97f4a7c15, 0.9) },
			"EstimateString":   func() { c.EstimateString("some key") },
			"Merge":            func() { _ = c.Merge(c) },
			"Reset":            func() { deep.Reset() },
			"AppendBinary big": func() { buf, _ = c.AppendBinary(buf[:0]) },
		} {
			if n := testing.AllocsPerRun(200, f); n != 0 {
				t.Errorf("conservative=%v: %s: got %v allocation(s) (want zero)", conservative, name, n)
			}
		}
	}
}

func TestCountMinRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		w, d         int
		conservative bool
		n            int
	}{
		{1, 1, true, 0},
		{1, 1, false, 10},
		{16, 3, true, 1000},
		{4096, 5, true, 100_000},
		{4096, 5, false, 100_000},
		{1 << 14, 9, true, 1000},
	} {
		t.Run(fmt.Sprintf("%dx%d,conservative=%v,n=%d", tc.w, tc.d, tc.conservative, tc.n), func(t *testing.T) {
			c := mustCountMinWD(t, tc.w, tc.d)
			c.SetConservative(tc.conservative)
			r := rand.New(rand.NewPCG(7, uint64(tc.n)))
			for range tc.n {
				c.AddHash(cmKeyHash(r.Uint64N(1000)), 1+r.Uint64N(300))
			}
			enc := cmMarshal(t, c)
			if appended, _ := c.AppendBinary([]byte("prefix")); !bytes.Equal(appended[6:], enc) {
				t.Error("AppendBinary differs from MarshalBinary")
			}
			// Decode into a sketch of another shape and mode: all replaced.
			d := mustCountMinWD(t, 8, 2)
			d.SetConservative(!tc.conservative)
			d.AddString("old", 9)
			if err := d.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			if d.Width() != tc.w || d.Depth() != tc.d || d.Conservative() != tc.conservative || d.Total() != c.Total() {
				t.Fatalf("decoded %dx%d conservative=%v total %d", d.Width(), d.Depth(), d.Conservative(), d.Total())
			}
			for k := range uint64(1100) {
				if a, b := c.EstimateHash(cmKeyHash(k)), d.EstimateHash(cmKeyHash(k)); a != b {
					t.Fatalf("key %d: %v before, %v after", k, a, b)
				}
			}
			if !bytes.Equal(cmMarshal(t, d), enc) {
				t.Error("re-encoding differs")
			}
			c.AddString("more", 1)
			d.AddString("more", 1)
			if !bytes.Equal(cmMarshal(t, c), cmMarshal(t, d)) {
				t.Error("decoded sketch updates differently")
			}
		})
	}
}

// TestCountMinEncodingSize: uvarint counters make a typical snapshot several
// times smaller than 8 bytes per counter.
func TestCountMinEncodingSize(t *testing.T) {
	s := newZipfStream(8, 1_000_000, 100_000)
	c := mustCountMin(t, 0.001, 0.01)
	s.feed(c, 0, len(s.ids))
	enc := cmMarshal(t, c)
	fixed := 8 * c.Width() * c.Depth()
	t.Logf("%d bytes, %.2f per counter (fixed uint64: %d)", len(enc), float64(len(enc))/float64(c.Width()*c.Depth()), fixed)
	if len(enc)*3 > fixed {
		t.Errorf("encoding of %d bytes, want under a third of %d", len(enc), fixed)
	}
}

func TestCountMinOrderIndependentBytesPlain(t *testing.T) {
	a, b := mustCountMinWD(t, 256, 4), mustCountMinWD(t, 256, 4)
	a.SetConservative(false)
	b.SetConservative(false)
	for i := range 5000 {
		a.AddHash(cmKeyHash(uint64(i%700)), 1)
		b.AddHash(cmKeyHash(uint64((4999-i)%700)), 1)
	}
	if !bytes.Equal(cmMarshal(t, a), cmMarshal(t, b)) {
		t.Error("same multiset in another order encodes differently")
	}
}

func TestCountMinUnmarshalErrors(t *testing.T) {
	kind := uint8(2) // envelope.KindCountMin
	good := mustCountMinWD(t, 4, 2)
	good.AddString("a", 3)
	enc := cmMarshal(t, good)
	uv := func(xs ...uint64) []byte {
		var b []byte
		for _, x := range xs {
			b = binary.AppendUvarint(b, x)
		}
		return b
	}
	hll := envelopeOf(t, 1, [4]uint64{4, 1}, make([]byte, 16))
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"not an encoding", []byte("hello, world, this is not a sketch at all; not even close"), ErrNotEncoding},
		{"truncated", enc[:len(enc)-1], ErrTruncated},
		{"bit flipped", func() []byte { b := bytes.Clone(enc); b[60] ^= 4; return b }(), ErrChecksum},
		{"another kind", hll, ErrKind},
		{"width not a power of two", envelopeOf(t, kind, [4]uint64{3, 1, 1, 0}, make([]byte, 3)), ErrCorrupt},
		{"width 0", envelopeOf(t, kind, [4]uint64{0, 1, 1, 0}, nil), ErrCorrupt},
		{"depth 0", envelopeOf(t, kind, [4]uint64{4, 0, 1, 0}, nil), ErrCorrupt},
		{"depth 65", envelopeOf(t, kind, [4]uint64{1, 65, 1, 0}, make([]byte, 65)), ErrCorrupt},
		{"huge shape, tiny payload", envelopeOf(t, kind, [4]uint64{1 << 29, 2, 1, 0}, make([]byte, 16)), ErrCorrupt},
		{"width 2^63", envelopeOf(t, kind, [4]uint64{1 << 63, 2, 1, 0}, make([]byte, 16)), ErrCorrupt},
		{"unknown flag", envelopeOf(t, kind, [4]uint64{4, 1, 3, 0}, make([]byte, 4)), ErrCorrupt},
		{"payload short", envelopeOf(t, kind, [4]uint64{4, 2, 1, 0}, make([]byte, 7)), ErrCorrupt},
		{"payload of overlong varints", envelopeOf(t, kind, [4]uint64{1, 1, 1, 0}, make([]byte, 11)), ErrCorrupt},
		{"non-minimal uvarint", envelopeOf(t, kind, [4]uint64{2, 1, 1, 0}, []byte{0x80, 0x00, 0}), ErrCorrupt},
		{"uvarint overflows", envelopeOf(t, kind, [4]uint64{1, 1, 1, 0}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), ErrCorrupt},
		{"uvarint cut off", envelopeOf(t, kind, [4]uint64{2, 1, 1, 300}, []byte{0, 0x80}), ErrCorrupt},
		{"bytes after the counters", envelopeOf(t, kind, [4]uint64{2, 1, 1, 0}, []byte{0, 0, 0}), ErrCorrupt},
		{"row sums above the total", envelopeOf(t, kind, [4]uint64{2, 2, 1, 5}, uv(3, 2, 3, 3)), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCountMinWD(t, 8, 2)
			c.AddString("keep", 4)
			before := cmMarshal(t, c)
			err := c.UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			t.Log(err)
			if !bytes.Equal(before, cmMarshal(t, c)) {
				t.Error("failed decode changed the sketch")
			}
		})
	}
	// The largest valid row sum is accepted.
	var c CountMin
	if err := c.UnmarshalBinary(envelopeOf(t, kind, [4]uint64{2, 2, 0, 5}, uv(3, 2, 5, 0))); err != nil {
		t.Errorf("rows summing to the total: %v", err)
	}
	if c.Conservative() || c.EstimateHash(0).Value > 5 {
		t.Errorf("decoded %v", c.EstimateHash(0))
	}
}
