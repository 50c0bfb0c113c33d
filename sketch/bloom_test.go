package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"
)

func mustBloom(t testing.TB, n uint64, p float64) *Bloom {
	t.Helper()
	b, err := NewBloom(n, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustBloomMK(t testing.TB, m uint64, k int) *Bloom {
	t.Helper()
	b, err := NewBloomMK(m, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fillBloom adds the items itemHash(seed, i) for i in [from, to).
func fillBloom(b *Bloom, seed, from, to uint64) {
	for i := from; i < to; i++ {
		b.AddHash(itemHash(seed, i))
	}
}

// measuredFPRate tests q items that were never added (itemHash(seed, i) for
// i in [from, from+q)) and returns the fraction that test positive.
func measuredFPRate(b *Bloom, seed, from, q uint64) float64 {
	fp := 0
	for i := from; i < from+q; i++ {
		if b.TestHash(itemHash(seed, i)) {
			fp++
		}
	}
	return float64(fp) / float64(q)
}

func TestNewBloomSizing(t *testing.T) {
	for _, tc := range []struct {
		n uint64
		p float64
		m uint64
		k int
	}{
		{n: 1e6, p: 0.01, m: 9585059, k: 7},
		{n: 1e6, p: 0.001, m: 14377588, k: 10},
		{n: 1, p: 0.5, m: 2, k: 2},
		{n: 1000, p: 1e-6, m: 28756, k: 20},
	} {
		t.Run(fmt.Sprintf("n=%d,p=%g", tc.n, tc.p), func(t *testing.T) {
			b := mustBloom(t, tc.n, tc.p)
			if b.Cap() != tc.m || b.K() != tc.k {
				t.Errorf("m=%d k=%d, want m=%d k=%d", b.Cap(), b.K(), tc.m, tc.k)
			}
			if b.Fill() != 0 || b.EstimatedFPRate() != 0 {
				t.Errorf("new filter: fill %v, rate %v, want 0", b.Fill(), b.EstimatedFPRate())
			}
		})
	}
}

func TestNewBloomRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() (*Bloom, error)
	}{
		{"n=0", func() (*Bloom, error) { return NewBloom(0, 0.01) }},
		{"p=0", func() (*Bloom, error) { return NewBloom(100, 0) }},
		{"p=1", func() (*Bloom, error) { return NewBloom(100, 1) }},
		{"p=-0.1", func() (*Bloom, error) { return NewBloom(100, -0.1) }},
		{"p=NaN", func() (*Bloom, error) { return NewBloom(100, math.NaN()) }},
		{"too_many_bits", func() (*Bloom, error) { return NewBloom(1<<40, 0.01) }},
		{"max_uint64_items", func() (*Bloom, error) { return NewBloom(math.MaxUint64, 0.5) }},
		{"rate_below_2^-64", func() (*Bloom, error) { return NewBloom(10, 1e-25) }},
		{"m=0", func() (*Bloom, error) { return NewBloomMK(0, 3) }},
		{"m>MaxBloomBits", func() (*Bloom, error) { return NewBloomMK(MaxBloomBits+1, 3) }},
		{"k=0", func() (*Bloom, error) { return NewBloomMK(64, 0) }},
		{"k=-1", func() (*Bloom, error) { return NewBloomMK(64, -1) }},
		{"k>MaxBloomK", func() (*Bloom, error) { return NewBloomMK(64, MaxBloomK+1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.new()
			if !errors.Is(err, ErrInvalidParameter) || b != nil {
				t.Fatalf("got %v, %v; want nil and ErrInvalidParameter", b, err)
			}
			t.Log(err)
		})
	}
}

func TestBloomNoFalseNegatives(t *testing.T) {
	for _, tc := range []struct {
		m uint64
		k int
	}{{1, 1}, {63, 3}, {64, 4}, {65, 5}, {1000, 7}, {1 << 20, 10}, {12345, MaxBloomK}} {
		t.Run(fmt.Sprintf("m=%d,k=%d", tc.m, tc.k), func(t *testing.T) {
			b := mustBloomMK(t, tc.m, tc.k)
			const n = 2000
			fillBloom(b, 1, 0, n)
			for i := range uint64(n) {
				h := itemHash(1, i)
				if !b.TestHash(h) || !b.TestAndAddHash(h) {
					t.Fatalf("item %d added but not found", i)
				}
			}
			if b.bitsSet() > tc.m {
				t.Fatalf("%d bits set in a filter of %d", b.bitsSet(), tc.m)
			}
		})
	}
}

func TestBloomBytesAndStringsHashOnce(t *testing.T) {
	b := mustBloom(t, 1000, 0.01)
	b.Add([]byte("alice"))
	b.AddString("bob")
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"Test(alice)", b.Test([]byte("alice")), true},
		{"TestString(alice)", b.TestString("alice"), true},
		{"TestHash(Hash(bob))", b.TestHash(Hash([]byte("bob"))), true},
		{"TestString(carol)", b.TestString("carol"), false},
		{"TestAndAddString(carol)", b.TestAndAddString("carol"), false},
		{"TestAndAdd(carol) again", b.TestAndAdd([]byte("carol")), true},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// TestBloomTestAndAddDedup checks TestAndAddHash as a deduplicator: each
// distinct item is reported new exactly once, except for false positives.
func TestBloomTestAndAddDedup(t *testing.T) {
	b := mustBloom(t, 10000, 0.001)
	fresh := 0
	for round := range 3 {
		for i := range uint64(10000) {
			if !b.TestAndAddHash(itemHash(2, i)) {
				fresh++
				if round > 0 {
					t.Fatalf("item %d reported new in round %d", i, round)
				}
			}
		}
	}
	if fresh > 10000 || fresh < 10000-50 {
		t.Fatalf("%d items reported new, want 10000 less a few false positives", fresh)
	}
}

// TestBloomFalsePositiveRate measures the rate at the design point: 1e6
// distinct items in, fresh items tested. At 1% 1e6 queries give ~1e4 false
// positives (relative sd 1%); at 0.1% 1e7 queries give ~1e4 too. The
// tolerance is ±15% of the target.
func TestBloomFalsePositiveRate(t *testing.T) {
	cases := []struct {
		n, queries uint64
		p          float64
	}{
		{n: 1e5, queries: 1e5, p: 0.01}, // ~1000 false positives: sd 3%
	}
	if !testing.Short() {
		cases = append(cases,
			struct {
				n, queries uint64
				p          float64
			}{1e6, 1e6, 0.01},
			struct {
				n, queries uint64
				p          float64
			}{1e6, 1e7, 0.001})
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("n=%d,p=%g", tc.n, tc.p), func(t *testing.T) {
			b := mustBloom(t, tc.n, tc.p)
			fillBloom(b, 3, 0, tc.n)
			got := measuredFPRate(b, 3, tc.n, tc.queries)
			est := b.EstimatedFPRate()
			t.Logf("m=%d k=%d: measured %.5f (%.1f%% of target), EstimatedFPRate %.5f, fill %.4f",
				b.Cap(), b.K(), got, 100*got/tc.p, est, b.Fill())
			if math.Abs(got/tc.p-1) > 0.15 {
				t.Errorf("measured rate %.5f not within 15%% of target %g", got, tc.p)
			}
			if math.Abs(est/got-1) > 0.15 {
				t.Errorf("EstimatedFPRate %.5f not within 15%% of measured %.5f", est, got)
			}
		})
	}
}

// TestBloomSaturationVisible overfills a filter tenfold: the reported rate
// must rise with the measured one, not stay at the design rate.
func TestBloomSaturationVisible(t *testing.T) {
	const n = 10000
	b := mustBloom(t, n, 0.01)
	fillBloom(b, 4, 0, n)
	atDesign := b.EstimatedFPRate()
	fillBloom(b, 4, n, 10*n)
	got := measuredFPRate(b, 4, 10*n, 1e5)
	est := b.EstimatedFPRate()
	t.Logf("design point: %.4f; at 10x: estimated %.4f, measured %.4f, fill %.5f", atDesign, est, got, b.Fill())
	if atDesign > 0.012 || est < 0.9 {
		t.Fatalf("EstimatedFPRate %.4f at design n, %.4f at 10x: saturation not visible", atDesign, est)
	}
	if math.Abs(est-got) > 0.01 {
		t.Fatalf("EstimatedFPRate %.4f, measured %.4f", est, got)
	}
	e := b.Estimate()
	if e.Value < 5*n || !(e.Lower <= e.Value && e.Value <= e.Upper) {
		t.Fatalf("Estimate %v of a filter holding %d items", e, 10*n)
	}
}

// TestBloomEstimateCoverage checks that the bounds of Estimate hold the
// true distinct count at least about as often as they claim, from nearly
// empty to well past the design load t = kn/m = ln 2, and that the value is
// nearly unbiased.
func TestBloomEstimateCoverage(t *testing.T) {
	const m, k = 1 << 14, 7
	trials := 400
	if testing.Short() {
		trials = 60
	}
	for _, load := range []float64{0.02, 0.3, math.Ln2, 2, 4} {
		n := uint64(load * m / k)
		t.Run(fmt.Sprintf("t=%.2f,n=%d", load, n), func(t *testing.T) {
			b := mustBloomMK(t, m, k)
			covered, sumRel := 0, 0.0
			for trial := range trials {
				b.Reset()
				seed := uint64(1000 + trial)
				fillBloom(b, seed, 0, n)
				fillBloom(b, seed, 0, n/3) // duplicates change nothing
				e := b.Estimate()
				if !(e.Lower <= e.Value && e.Value <= e.Upper) || e.Confidence != DefaultConfidence {
					t.Fatalf("malformed estimate %v", e)
				}
				if e.Contains(float64(n)) {
					covered++
				}
				sumRel += e.Value/float64(n) - 1
			}
			cov, bias := float64(covered)/float64(trials), sumRel/float64(trials)
			t.Logf("coverage %.3f, mean relative error %+.4f", cov, bias)
			// 95% nominal; with 400 trials the binomial sd is 1.1%.
			if cov < 0.92 && !testing.Short() || cov < 0.85 {
				t.Errorf("coverage %.3f, want about %.2f", cov, DefaultConfidence)
			}
			if math.Abs(bias) > 0.02 {
				t.Errorf("mean relative error %+.4f", bias)
			}
		})
	}
}

func TestBloomEstimateEdges(t *testing.T) {
	b := mustBloomMK(t, 1000, 5)
	if e := b.Estimate(); !e.Exact || e.Value != 0 || e.Upper != 0 {
		t.Fatalf("empty filter: %v, want exact 0", e)
	}
	b.AddString("one")
	if e := b.Estimate(); e.Exact || e.Lower != 1 || e.Value < 1 || e.Value > 1.1 {
		t.Fatalf("one item: %v", e)
	}
	// X bits need at least X/k items: 12 bits set by 3 items at k = 5.
	c := mustBloomMK(t, 1<<20, 5)
	c.AddString("a")
	c.AddString("b")
	c.AddString("c")
	if e := c.Estimate(); c.bitsSet() == 15 && (e.Lower != 3 || e.Value < 3 || e.Value > 3.001) {
		t.Fatalf("three items: %v", e)
	}
	// A full filter has no upper bound.
	f := mustBloomMK(t, 64, 3)
	for i := range uint64(2000) {
		f.AddHash(itemHash(5, i))
	}
	e := f.Estimate()
	if f.Fill() != 1 || !math.IsInf(e.Upper, 1) || math.IsInf(e.Value, 0) || e.Lower > e.Value {
		t.Fatalf("full filter (fill %v): %v", f.Fill(), e)
	}
	if got := f.EstimatedFPRate(); got != 1 {
		t.Fatalf("full filter EstimatedFPRate %v, want 1", got)
	}
	// Wider confidence, wider bounds.
	g := mustBloomMK(t, 1<<14, 7)
	fillBloom(g, 6, 0, 1000)
	e90, e99 := g.EstimateAt(0.9), g.EstimateAt(0.99)
	if !(e99.Lower <= e90.Lower && e90.Upper <= e99.Upper) || e90.Value != e99.Value {
		t.Fatalf("0.9: %v, 0.99: %v", e90, e99)
	}
}

func TestBloomMerge(t *testing.T) {
	a, b, both := mustBloom(t, 5000, 0.01), mustBloom(t, 5000, 0.01), mustBloom(t, 5000, 0.01)
	fillBloom(a, 7, 0, 3000)
	fillBloom(b, 7, 2000, 5000)
	fillBloom(both, 7, 0, 5000)
	bBefore := b.Clone()
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !a.Equal(both) {
		t.Fatal("merge of two halves differs from one filter fed both")
	}
	if !b.Equal(bBefore) {
		t.Fatal("Merge modified its argument")
	}
	if err := a.Merge(a); err != nil || !a.Equal(both) {
		t.Fatalf("self-merge: %v", err)
	}
	if err := a.Merge(nil); err != nil || !a.Equal(both) {
		t.Fatalf("merge of nil: %v", err)
	}
	for _, tc := range []struct {
		name string
		into *Bloom
		from *Bloom
	}{
		{"other_m", a, mustBloomMK(t, a.Cap()+1, a.K())},
		{"other_k", a, mustBloomMK(t, a.Cap(), a.K()+1)},
		{"into_zero", &Bloom{}, a},
		{"zero_into", a, &Bloom{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.into.Merge(tc.from); !errors.Is(err, ErrIncompatible) {
				t.Fatalf("got %v, want ErrIncompatible", err)
			}
		})
	}
	if !a.Equal(both) {
		t.Fatal("failed merges changed the filter")
	}
}

func TestBloomCloneResetEqual(t *testing.T) {
	a := mustBloom(t, 1000, 0.01)
	fillBloom(a, 8, 0, 500)
	c := a.Clone()
	if !c.Equal(a) || c.Cap() != a.Cap() || c.K() != a.K() {
		t.Fatal("clone differs")
	}
	c.AddString("only in the clone")
	if c.Equal(a) || a.TestString("only in the clone") {
		t.Fatal("clone shares state with its original")
	}
	c.Reset()
	if c.Fill() != 0 || c.TestHash(itemHash(8, 1)) || c.Cap() != a.Cap() || c.K() != a.K() {
		t.Fatal("Reset did not empty the filter or changed its shape")
	}
	if !c.Equal(mustBloom(t, 1000, 0.01)) {
		t.Fatal("reset filter differs from a new one")
	}
	var z1, z2 Bloom
	for _, tc := range []struct {
		name string
		a, b *Bloom
		want bool
	}{
		{"zero_zero", &z1, &z2, true},
		{"nil_zero", nil, &z1, true},
		{"zero_filter", &z1, a, false},
		{"other_k", mustBloomMK(t, 100, 3), mustBloomMK(t, 100, 4), false},
		{"other_m", mustBloomMK(t, 100, 3), mustBloomMK(t, 101, 3), false},
		{"zero_clone", &z1, z1.Clone(), true},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%s: Equal = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBloomZeroValue(t *testing.T) {
	var b Bloom
	if b.TestHash(1) || b.TestString("x") || b.Fill() != 0 || b.EstimatedFPRate() != 0 || b.Cap() != 0 || b.K() != 0 {
		t.Fatal("zero Bloom is not an empty filter of no bits")
	}
	if e := b.Estimate(); !e.Exact || e.Value != 0 {
		t.Fatalf("zero Bloom estimate %v", e)
	}
	b.Reset()
	if _, err := b.MarshalBinary(); !errors.Is(err, ErrInvalidParameter) {
		t.Fatalf("marshal of zero Bloom: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("AddHash on a zero Bloom did not panic")
		}
	}()
	b.AddHash(1)
}

func TestBloomHotPathAllocs(t *testing.T) {
	b := mustBloom(t, 1e5, 0.01)
	key := []byte("user-000000000042")
	var h uint64 = 12345
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"AddHash", func() { h++; b.AddHash(h) }},
		{"TestHash", func() { h++; b.TestHash(h) }},
		{"TestAndAddHash", func() { h++; b.TestAndAddHash(h) }},
		{"Add", func() { b.Add(key) }},
		{"Test", func() { b.Test(key) }},
		{"AddString", func() { b.AddString("user-7") }},
		{"TestString", func() { b.TestString("user-7") }},
		{"Merge", func() { _ = b.Merge(b) }},
	} {
		if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
			t.Errorf("%s: got %v allocation(s) (want zero)", tc.name, n)
		}
	}
}

func TestBloomRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		m     uint64
		k     int
		items uint64
	}{{1, 1, 0}, {1, 1, 1}, {63, 2, 10}, {64, 3, 10}, {65, 4, 10}, {1000, 7, 0}, {1000, 7, 100}, {958506, 7, 1e5}} {
		t.Run(fmt.Sprintf("m=%d,k=%d,items=%d", tc.m, tc.k, tc.items), func(t *testing.T) {
			b := mustBloomMK(t, tc.m, tc.k)
			fillBloom(b, 9, 0, tc.items)
			enc := mustMarshal(t, b)
			if want := 60 + 8*int(bloomWords(tc.m)); len(enc) != want {
				t.Fatalf("encoding of %d bytes, want %d", len(enc), want)
			}
			var d Bloom
			if err := d.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			if !d.Equal(b) || d.Cap() != tc.m || d.K() != tc.k {
				t.Fatal("decoded filter differs")
			}
			if again := mustMarshal(t, &d); string(again) != string(enc) {
				t.Fatal("re-encoding differs")
			}
			// The decoded filter works: every item found, new ones added.
			for i := range tc.items {
				if !d.TestHash(itemHash(9, i)) {
					t.Fatalf("item %d lost in decoding", i)
				}
			}
			d.AddString("after decoding")
			if !d.TestString("after decoding") {
				t.Fatal("decoded filter does not take new items")
			}
			app, err := b.AppendBinary([]byte("prefix"))
			if err != nil || string(app) != "prefix"+string(enc) {
				t.Fatalf("AppendBinary: %v", err)
			}
		})
	}
}

// TestBloomCanonicalBytes: the same set of items gives the same bytes
// whatever the order of insertion, and whether inserted or merged.
func TestBloomCanonicalBytes(t *testing.T) {
	fwd, rev, halves, other := mustBloom(t, 1000, 0.01), mustBloom(t, 1000, 0.01), mustBloom(t, 1000, 0.01), mustBloom(t, 1000, 0.01)
	for i := range uint64(800) {
		fwd.AddHash(itemHash(10, i))
		rev.AddHash(itemHash(10, 799-i))
	}
	fillBloom(halves, 10, 0, 400)
	fillBloom(other, 10, 400, 800)
	if err := halves.Merge(other); err != nil {
		t.Fatal(err)
	}
	want := mustMarshal(t, fwd)
	for name, b := range map[string]*Bloom{"reverse": rev, "merged": halves, "clone": fwd.Clone()} {
		if string(mustMarshal(t, b)) != string(want) {
			t.Errorf("%s: bytes differ", name)
		}
	}
}

func TestBloomUnmarshalErrors(t *testing.T) {
	const kind = 4 // envelope.KindBloom
	good := mustBloomMK(t, 100, 3)
	fillBloom(good, 11, 0, 20)
	enc := mustMarshal(t, good)
	words := func(n int, last uint64) []byte {
		p := make([]byte, 8*n)
		binary.LittleEndian.PutUint64(p[8*n-8:], last)
		return p
	}
	hll := mustMarshal(t, mustHLL(t, 4))
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", enc[:len(enc)-1], ErrTruncated},
		{"not_an_encoding", []byte("not a bloom filter at all, but long enough to hold an envelope"), ErrNotEncoding},
		{"bit_flipped", flip(enc, 70), ErrChecksum},
		{"other_kind", hll, ErrKind},
		{"m=0", envelopeOf(t, kind, [4]uint64{0, 3}, nil), ErrCorrupt},
		{"m_too_large", envelopeOf(t, kind, [4]uint64{MaxBloomBits + 1, 3}, words(1, 0)), ErrCorrupt},
		{"m_huge_short_payload", envelopeOf(t, kind, [4]uint64{1 << 34, 3}, words(2, 0)), ErrCorrupt},
		{"k=0", envelopeOf(t, kind, [4]uint64{64, 0}, words(1, 0)), ErrCorrupt},
		{"k_too_large", envelopeOf(t, kind, [4]uint64{64, MaxBloomK + 1}, words(1, 0)), ErrCorrupt},
		{"k_max_uint64", envelopeOf(t, kind, [4]uint64{64, math.MaxUint64}, words(1, 0)), ErrCorrupt},
		{"payload_short", envelopeOf(t, kind, [4]uint64{129, 3}, words(2, 0)), ErrCorrupt},
		{"payload_long", envelopeOf(t, kind, [4]uint64{128, 3}, words(3, 0)), ErrCorrupt},
		{"payload_not_words", envelopeOf(t, kind, [4]uint64{8, 3}, []byte{1}), ErrCorrupt},
		{"bit_at_m", envelopeOf(t, kind, [4]uint64{100, 3}, words(2, 1<<36)), ErrCorrupt},
		{"top_bit_beyond_m", envelopeOf(t, kind, [4]uint64{65, 3}, words(2, 1<<63)), ErrCorrupt},
		{"unused_shape", envelopeOf(t, kind, [4]uint64{64, 3, 0, 1}, words(1, 0)), ErrCorrupt},
		{"trailing_bytes", append(append([]byte(nil), enc...), 0), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := good.Clone()
			err := d.UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !d.Equal(good) {
				t.Fatal("failed decode changed the filter")
			}
		})
	}
	// Bits below m in the last word are fine.
	var d Bloom
	if err := d.UnmarshalBinary(envelopeOf(t, kind, [4]uint64{100, 3}, words(2, 1<<35))); err != nil || d.Fill() != 0.01 {
		t.Fatalf("bit 99 of 100: %v, fill %v", err, d.Fill())
	}
}

// TestBloomPositionsUniform checks the position scheme itself, for filters
// up to MaxBloomBits (too large to allocate in a test): each position is
// uniform at coarse and fine grain (a 32-bit stride would leave most fine
// offsets of a 2^35-bit filter unreachable from a given start), the first
// and second positions are independent (start and stride do not
// correlate), and an item's positions rarely coincide.
func TestBloomPositionsUniform(t *testing.T) {
	const k, items, buckets = 7, 30000, 64
	// chi-square with 63 degrees of freedom: mean 63, sd 11.2; 130 is p < 1e-6.
	// (The small m is a multiple of 64 so that the coarse buckets are equal.)
	const limit = 130
	chi2 := func(c *[buckets]int, total int) float64 {
		want, x := float64(total)/buckets, 0.0
		for _, o := range c {
			x += (float64(o) - want) * (float64(o) - want) / want
		}
		return x
	}
	for _, m := range []uint64{64 * 157, 1e6 + 3, 1<<32 + 15, MaxBloomBits} {
		t.Run(fmt.Sprintf("m=%d", m), func(t *testing.T) {
			var coarse, fine, joint [buckets]int
			repeats := 0
			for i := range uint64(items) {
				h := itemHash(12, i)
				step := bloomStride(h)
				var pos [k]uint64
				for j := range pos {
					pos[j] = bloomPos(h, m)
					h += step
					coarse[pos[j]*buckets/m]++
					fine[pos[j]%buckets]++
					for _, q := range pos[:j] {
						if q == pos[j] {
							repeats++
						}
					}
				}
				joint[pos[0]*8/m*8+pos[1]*8/m]++
			}
			xc, xj := chi2(&coarse, items*k), chi2(&joint, items)
			xf := 0.0
			if m >= 1<<20 { // fine grain is meaningless for tiny m
				xf = chi2(&fine, items*k)
			}
			t.Logf("chi2 coarse %.1f, fine %.1f, first×second %.1f; %d repeated positions", xc, xf, xj, repeats)
			if xc > limit || xf > limit || xj > limit {
				t.Errorf("positions not uniform: chi2 coarse %.1f, fine %.1f, joint %.1f (limit %d)", xc, xf, xj, limit)
			}
			// Expected about items·C(k,2)/m repeats, plus the rare stride near 0.
			if want := float64(items*k*(k-1)/2) / float64(m); float64(repeats) > 3*want+10 {
				t.Errorf("%d repeated positions, expected about %.1f", repeats, want)
			}
		})
	}
}
