package sampling

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestNewWeightedReservoirRejectsBadSize(t *testing.T) {
	for _, k := range []int{0, -3} {
		if _, err := NewWeightedReservoir[int](k, 1); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("k=%d: err %v, want ErrInvalidParameter", k, err)
		}
	}
}

func TestWeightedUnsampleableWeights(t *testing.T) {
	r := mustWeighted(t, 3, 1)
	for _, w := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1)} {
		r.Add(7, w)
	}
	if r.Len() != 0 || r.Count() != 6 || r.Weight() != 0 {
		t.Fatalf("Len %d Count %d Weight %v, want 0 6 0", r.Len(), r.Count(), r.Weight())
	}
	r.Add(1, 2)
	r.Add(2, math.SmallestNonzeroFloat64)
	r.Add(3, math.MaxFloat64)
	r.Add(4, 1) // full: may or may not enter, must not panic
	if r.Len() != 3 || r.Count() != 10 {
		t.Fatalf("Len %d Count %d", r.Len(), r.Count())
	}
	enc := sampMarshal(t, r)
	var s WeightedReservoir[uint64]
	if err := s.UnmarshalBinary(enc); err != nil {
		t.Fatalf("state after extreme weights does not decode: %v", err)
	}
}

func TestWeightedSampleOrder(t *testing.T) {
	r := mustWeighted(t, 16, 1)
	for i := range uint64(1000) {
		r.Add(i, float64(1+i%13))
	}
	keys := map[uint64]float64{}
	for _, e := range r.heap {
		keys[e.v] = e.key
	}
	got := r.Sample()
	if !slices.IsSortedFunc(got, func(a, b uint64) int { return cmp.Compare(keys[b], keys[a]) }) {
		t.Fatalf("Sample not by decreasing key: %v", got)
	}
}

func TestWeightedRestoreContinuesExactly(t *testing.T) {
	for _, tc := range []struct{ k, n1, n2 int }{
		{k: 1, n1: 0, n2: 1000},
		{k: 10, n1: 4, n2: 1000},
		{k: 10, n1: 10, n2: 1000},
		{k: 64, n1: 100000, n2: 100000},
	} {
		t.Run(fmt.Sprintf("k=%d,n1=%d,n2=%d", tc.k, tc.n1, tc.n2), func(t *testing.T) {
			weight := func(i int) float64 { return float64(1+i%17) / 3 }
			a := mustWeighted(t, tc.k, 5)
			for i := range tc.n1 {
				a.Add(uint64(i), weight(i))
			}
			enc := sampMarshal(t, a)
			var b WeightedReservoir[uint64]
			if err := b.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sampMarshal(t, &b), enc) {
				t.Fatal("decoded sampler encodes differently")
			}
			for i := tc.n1; i < tc.n1+tc.n2; i++ {
				a.Add(uint64(i), weight(i))
				b.Add(uint64(i), weight(i))
			}
			if !slices.Equal(a.Sample(), b.Sample()) || !bytes.Equal(sampMarshal(t, a), sampMarshal(t, &b)) {
				t.Fatal("restored sampler diverged")
			}
		})
	}
}

func TestWeightedZeroValue(t *testing.T) {
	var r WeightedReservoir[string]
	r.Add("a", 1)
	r.Add("b", 2)
	if r.Count() != 2 || r.Weight() != 3 || r.Len() != 0 || len(r.Sample()) != 0 {
		t.Fatalf("zero value: Count %d Weight %v Len %d", r.Count(), r.Weight(), r.Len())
	}
	var s WeightedReservoir[string]
	if err := s.UnmarshalBinary(sampMarshal(t, &r)); err != nil || s.Count() != 2 {
		t.Fatalf("decode: %v, count %d", err, s.Count())
	}
	if err := r.Merge(&s); err != nil || r.Count() != 4 {
		t.Fatalf("merge: %v, count %d", err, r.Count())
	}
}

func TestWeightedMerge(t *testing.T) {
	t.Run("different sizes", func(t *testing.T) {
		a, b := mustWeighted(t, 2, 1), mustWeighted(t, 3, 1)
		b.Add(1, 1)
		if err := a.Merge(b); !errors.Is(err, ErrIncompatible) {
			t.Fatalf("err %v, want ErrIncompatible", err)
		}
	})
	t.Run("count overflow", func(t *testing.T) {
		a, b := mustWeighted(t, 2, 1), mustWeighted(t, 2, 1)
		a.Add(1, 1)
		b.n = math.MaxUint64
		if err := a.Merge(b); !errors.Is(err, ErrIncompatible) {
			t.Fatalf("err %v, want ErrIncompatible", err)
		}
	})
	t.Run("keeps the top keys", func(t *testing.T) {
		a, b := mustWeighted(t, 5, 1), mustWeighted(t, 5, 2)
		for i := range uint64(100) {
			a.Add(i, 1)
			b.Add(i+100, 1)
		}
		var all []float64
		for _, e := range append(slices.Clone(a.heap), b.heap...) {
			all = append(all, e.key)
		}
		slices.Sort(all)
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		var got []float64
		for _, e := range a.heap {
			got = append(got, e.key)
		}
		slices.Sort(got)
		if !slices.Equal(got, all[len(all)-5:]) || a.Count() != 200 || a.Weight() != 200 {
			t.Fatalf("merged keys %v, want %v; count %d weight %v", got, all[len(all)-5:], a.Count(), a.Weight())
		}
		if err := a.Merge(a); err != nil || a.Len() != 5 {
			t.Fatalf("merge with itself: %v, len %d", err, a.Len())
		}
	})
}

func TestWeightedReset(t *testing.T) {
	r := mustWeighted(t, 2, 1)
	for i := range uint64(50) {
		r.Add(i, 1)
	}
	r.Reset()
	if r.Len() != 0 || r.Count() != 0 || r.Weight() != 0 || r.x != 0 {
		t.Fatalf("after Reset: Len %d Count %d Weight %v", r.Len(), r.Count(), r.Weight())
	}
	r.Add(7, 1)
	if !slices.Equal(r.Sample(), []uint64{7}) {
		t.Fatalf("after Reset: %v", r.Sample())
	}
}

func TestWeightedUnmarshalRejects(t *testing.T) {
	const kind = 17
	key := math.Float64bits(-0.5)
	entry := func(key uint64) []byte { return sampPayload([]uint64{key}, 8, 1, 0, 0, 0, 0, 0, 0, 0) }
	head := func(total, x float64) []byte {
		return sampPayload([]uint64{math.Float64bits(total), math.Float64bits(x), 1, 2})
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	valid := sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(1, 0), entry(key)))
	var ok WeightedReservoir[uint64]
	if err := ok.UnmarshalBinary(valid); err != nil {
		t.Fatalf("the base case does not decode: %v", err)
	}
	full := sampEnvelope(kind, [4]uint64{2, 2, 2, 0}, cat(head(2, 0.5), entry(key), entry(math.Float64bits(-0.25))))
	if err := ok.UnmarshalBinary(full); err != nil {
		t.Fatalf("the full base case does not decode: %v", err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"other kind", sampEnvelope(16, [4]uint64{2, 1, 1, 0}, cat(head(1, 0), entry(key))), ErrKind},
		{"truncated", valid[:len(valid)-2], ErrTruncated},
		{"bit flip", sampWithByte(valid, 70, valid[70]^4), ErrChecksum},
		{"more items than k", sampEnvelope(kind, [4]uint64{0, 1, 1, 0}, cat(head(1, 0), entry(key))), ErrCorrupt},
		{"more items than count", sampEnvelope(kind, [4]uint64{2, 0, 1, 0}, cat(head(1, 0), entry(key))), ErrCorrupt},
		{"huge k", sampEnvelope(kind, [4]uint64{1 << 63, 1, 1, 0}, cat(head(1, 0), entry(key))), ErrCorrupt},
		{"many items, short payload", sampEnvelope(kind, [4]uint64{1 << 50, 1 << 50, 1 << 50, 0}, cat(head(1, 0), entry(key))), ErrCorrupt},
		{"shape[3] set", sampEnvelope(kind, [4]uint64{2, 1, 1, 1}, cat(head(1, 0), entry(key))), ErrCorrupt},
		{"total NaN", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(math.NaN(), 0), entry(key))), ErrCorrupt},
		{"total negative", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(-1, 0), entry(key))), ErrCorrupt},
		{"filling with a jump", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(1, 3), entry(key))), ErrCorrupt},
		{"full with jump NaN", sampEnvelope(kind, [4]uint64{1, 1, 1, 0}, cat(head(1, math.NaN()), entry(key))), ErrCorrupt},
		{"full with jump negative", sampEnvelope(kind, [4]uint64{1, 1, 1, 0}, cat(head(1, -1), entry(key))), ErrCorrupt},
		{"key positive", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(1, 0), entry(math.Float64bits(0.5)))), ErrCorrupt},
		{"key +0", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(1, 0), entry(0))), ErrCorrupt},
		{"key NaN", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(1, 0), entry(math.Float64bits(math.NaN())|1<<63))), ErrCorrupt},
		{"keys out of heap order", sampEnvelope(kind, [4]uint64{2, 2, 2, 0}, cat(head(2, 0.5), entry(math.Float64bits(-0.25)), entry(key))), ErrCorrupt},
		{"item the codec rejects", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(1, 0), sampPayload([]uint64{key}, 1, 0))), ErrCorrupt},
		{"trailing bytes", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, cat(head(1, 0), entry(key), []byte{0})), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustWeighted(t, 3, 1)
			r.Add(99, 1)
			before := sampMarshal(t, r)
			if err := r.UnmarshalBinary(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if !bytes.Equal(sampMarshal(t, r), before) {
				t.Fatal("a failed decode changed the sampler")
			}
		})
	}
}

func TestWeightedAddAllocs(t *testing.T) {
	// Each run refills a reset sampler and goes on well past full, so an
	// allocation while filling or replacing shows as at least one per run.
	r := mustWeighted(t, 64, 1)
	var i uint64
	if n := testing.AllocsPerRun(100, func() {
		r.Reset()
		for range 1000 {
			r.Add(i, float64(1+i%5))
			i++
		}
	}); n != 0 {
		t.Fatalf("Add: got %v allocation(s) (want zero)", n)
	}
	// A decoded full sampler is in steady state at once.
	var s WeightedReservoir[string]
	full := mustWeighted(t, 64, 1)
	for range 100 {
		full.Add(1, 2)
	}
	if err := s.UnmarshalBinary(sampMarshal(t, full)); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { s.Add("x", 2) }); n != 0 {
		t.Fatalf("Add after decoding: got %v allocation(s) (want zero)", n)
	}
}
