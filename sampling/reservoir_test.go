package sampling

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestNewReservoirRejectsBadSize(t *testing.T) {
	for _, k := range []int{0, -1, math.MinInt} {
		if _, err := NewReservoir[int](k, 1); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("k=%d: err %v, want ErrInvalidParameter", k, err)
		}
	}
}

func TestReservoirKeepsEverythingWhileFilling(t *testing.T) {
	r := mustReservoir(t, 5, 1)
	for i := range uint64(5) {
		if got := r.Skip(); got != 0 {
			t.Fatalf("Skip while filling = %d, want 0", got)
		}
		r.Add(i)
		if want := []uint64{0, 1, 2, 3, 4}[:i+1]; !slices.Equal(r.Sample(), want) {
			t.Fatalf("after %d items sample %v, want %v", i+1, r.Sample(), want)
		}
	}
	if r.Count() != 5 || r.Len() != 5 || r.K() != 5 {
		t.Fatalf("Count %d Len %d K %d, want 5 5 5", r.Count(), r.Len(), r.K())
	}
	for i := range uint64(10000) {
		r.Add(i + 5)
	}
	if r.Count() != 10005 || r.Len() != 5 {
		t.Fatalf("Count %d Len %d, want 10005 5", r.Count(), r.Len())
	}
}

func TestReservoirSameSeedSameSample(t *testing.T) {
	a, b, c := mustReservoir(t, 16, 42), mustReservoir(t, 16, 42), mustReservoir(t, 16, 43)
	for i := range uint64(100000) {
		a.Add(i)
		b.Add(i)
		c.Add(i)
	}
	if !slices.Equal(a.Sample(), b.Sample()) {
		t.Fatalf("same seed, different samples:\n%v\n%v", a.Sample(), b.Sample())
	}
	if slices.Equal(a.Sample(), c.Sample()) {
		t.Fatalf("seeds 42 and 43 gave the same sample %v", a.Sample())
	}
}

// TestReservoirRestoreContinuesExactly is what checkpoint recovery relies
// on: a reservoir decoded from an encoding taken after n1 items, fed the same
// n2 items as the original, ends with the same sample and the same bytes.
func TestReservoirRestoreContinuesExactly(t *testing.T) {
	for _, tc := range []struct{ k, n1, n2 int }{
		{k: 1, n1: 0, n2: 1000},
		{k: 10, n1: 3, n2: 1000},  // checkpoint while filling
		{k: 10, n1: 10, n2: 1000}, // checkpoint right as it fills
		{k: 10, n1: 5000, n2: 100000},
		{k: 1024, n1: 1 << 20, n2: 1 << 20},
	} {
		t.Run(fmt.Sprintf("k=%d,n1=%d,n2=%d", tc.k, tc.n1, tc.n2), func(t *testing.T) {
			a := mustReservoir(t, tc.k, 7)
			stream(0, uint64(tc.n1), a.Add)
			enc := sampMarshal(t, a)
			var b Reservoir[uint64]
			if err := b.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			if again := sampMarshal(t, &b); !bytes.Equal(again, enc) {
				t.Fatal("decoded reservoir encodes differently")
			}
			end := uint64(tc.n1 + tc.n2)
			stream(uint64(tc.n1), end, a.Add)
			stream(uint64(tc.n1), end, b.Add)
			if !slices.Equal(a.Sample(), b.Sample()) {
				t.Fatalf("samples diverged after restore:\n%v\n%v", a.Sample(), b.Sample())
			}
			if !bytes.Equal(sampMarshal(t, a), sampMarshal(t, &b)) {
				t.Fatal("encodings diverged after restore")
			}
		})
	}
}

// TestReservoirDiscardIsAdd: skipping with Discard/AddSlice leaves exactly
// the state that Add of every item leaves.
func TestReservoirDiscardIsAdd(t *testing.T) {
	items := make([]uint64, 200000)
	for i := range items {
		items[i] = uint64(i)
	}
	for _, k := range []int{1, 7, 1000} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			a, b, c := mustReservoir(t, k, 9), mustReservoir(t, k, 9), mustReservoir(t, k, 9)
			for _, v := range items {
				a.Add(v)
			}
			for chunk := range slices.Chunk(items, 333) {
				b.AddSlice(chunk)
			}
			for i := 0; i < len(items); {
				i += int(c.Discard(uint64(len(items) - i)))
				if i < len(items) {
					if c.Skip() != 0 {
						t.Fatalf("Skip %d right after Discard", c.Skip())
					}
					c.Add(items[i])
					i++
				}
			}
			want := sampMarshal(t, a)
			if !bytes.Equal(sampMarshal(t, b), want) || !bytes.Equal(sampMarshal(t, c), want) {
				t.Fatal("AddSlice or Discard left another state than Add")
			}
		})
	}
}

func TestReservoirZeroValue(t *testing.T) {
	var r Reservoir[string]
	r.Add("a")
	r.AddSlice([]string{"b", "c"})
	if r.Count() != 3 || r.Len() != 0 || len(r.Sample()) != 0 || r.K() != 0 {
		t.Fatalf("zero value: Count %d Len %d Sample %v K %d", r.Count(), r.Len(), r.Sample(), r.K())
	}
	if got := r.Discard(10); got != 10 {
		t.Fatalf("Discard(10) on a size-0 reservoir = %d", got)
	}
	enc := sampMarshal(t, &r)
	var s Reservoir[string]
	if err := s.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if s.Count() != 13 {
		t.Fatalf("decoded count %d, want 13", s.Count())
	}
	var o Reservoir[string]
	o.Add("x")
	if err := r.Merge(&o); err != nil || r.Count() != 14 {
		t.Fatalf("merge of zero values: %v, count %d", err, r.Count())
	}
}

func TestReservoirReset(t *testing.T) {
	r := mustReservoir(t, 4, 1)
	stream(0, 100, r.Add)
	r.Reset()
	if r.Count() != 0 || r.Len() != 0 || r.Skip() != 0 {
		t.Fatalf("after Reset: Count %d Len %d Skip %d", r.Count(), r.Len(), r.Skip())
	}
	stream(100, 102, r.Add)
	if !slices.Equal(r.Sample(), []uint64{100, 101}) {
		t.Fatalf("after Reset and 2 items: %v", r.Sample())
	}
}

func TestReservoirMerge(t *testing.T) {
	t.Run("different sizes", func(t *testing.T) {
		a, b := mustReservoir(t, 4, 1), mustReservoir(t, 5, 1)
		b.Add(1)
		if err := a.Merge(b); !errors.Is(err, ErrIncompatible) {
			t.Fatalf("err %v, want ErrIncompatible", err)
		}
	})
	t.Run("empty other is a no-op", func(t *testing.T) {
		a, b := mustReservoir(t, 4, 1), mustReservoir(t, 4, 2)
		stream(0, 100, a.Add)
		before := sampMarshal(t, a)
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sampMarshal(t, a), before) {
			t.Fatal("merging an empty reservoir changed the state")
		}
	})
	t.Run("into empty", func(t *testing.T) {
		a, b := mustReservoir(t, 4, 1), mustReservoir(t, 4, 2)
		stream(0, 3, b.Add)
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		got := a.Sample()
		slices.Sort(got)
		if !slices.Equal(got, []uint64{0, 1, 2}) || a.Count() != 3 {
			t.Fatalf("got %v count %d", got, a.Count())
		}
	})
	t.Run("count overflow", func(t *testing.T) {
		a, b := mustReservoir(t, 4, 1), mustReservoir(t, 4, 2)
		a.Add(1)
		b.Add(2)
		b.n = math.MaxUint64 // as after 2^64-1 items
		if err := a.Merge(b); !errors.Is(err, ErrIncompatible) {
			t.Fatalf("err %v, want ErrIncompatible", err)
		}
	})
	t.Run("with itself", func(t *testing.T) {
		a := mustReservoir(t, 4, 1)
		stream(0, 100, a.Add)
		if err := a.Merge(a); err != nil {
			t.Fatal(err)
		}
		if a.Count() != 200 || a.Len() != 4 {
			t.Fatalf("Count %d Len %d", a.Count(), a.Len())
		}
	})
	t.Run("state valid for continuing", func(t *testing.T) {
		a, b := mustReservoir(t, 8, 1), mustReservoir(t, 8, 2)
		stream(0, 1000, a.Add)
		stream(1000, 3000, b.Add)
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		enc := sampMarshal(t, a) // the decoder checks next > count, W in (0, 1]
		var c Reservoir[uint64]
		if err := c.UnmarshalBinary(enc); err != nil {
			t.Fatalf("merged state does not decode: %v", err)
		}
	})
}

type point struct{ X, Y int32 }

type pointCodec struct{}

func (pointCodec) AppendItem(dst []byte, p point) []byte {
	return append(dst, byte(p.X), byte(p.X>>8), byte(p.Y), byte(p.Y>>8))
}

func (pointCodec) DecodeItem(b []byte) (point, error) {
	if len(b) != 4 {
		return point{}, fmt.Errorf("point of %d bytes", len(b))
	}
	return point{int32(int16(uint16(b[0]) | uint16(b[1])<<8)), int32(int16(uint16(b[2]) | uint16(b[3])<<8))}, nil
}

func roundTrip[T any](t *testing.T, items []T, c Codec[T]) []T {
	t.Helper()
	r, err := NewReservoir[T](len(items)+1, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.SetCodec(c)
	r.AddSlice(items)
	enc := sampMarshal(t, r)
	var s Reservoir[T]
	s.SetCodec(c)
	if err := s.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sampMarshal(t, &s), enc) {
		t.Fatal("re-encoding differs")
	}
	return s.Sample()
}

func TestReservoirCodecs(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 300)) // a two-byte length prefix
	if got := roundTrip(t, []string{"", "a", long, "ü"}, nil); !slices.Equal(got, []string{"", "a", long, "ü"}) {
		t.Errorf("string: %q", got)
	}
	if got := roundTrip(t, [][]byte{{}, {1, 2}, []byte(long)}, nil); len(got) != 3 || !bytes.Equal(got[2], []byte(long)) {
		t.Errorf("[]byte: %v", got)
	}
	if got := roundTrip(t, []int64{math.MinInt64, -1, 0, math.MaxInt64}, nil); !slices.Equal(got, []int64{math.MinInt64, -1, 0, math.MaxInt64}) {
		t.Errorf("int64: %v", got)
	}
	if got := roundTrip(t, []uint64{0, math.MaxUint64}, nil); !slices.Equal(got, []uint64{0, math.MaxUint64}) {
		t.Errorf("uint64: %v", got)
	}
	if got := roundTrip(t, []float64{math.Inf(-1), math.Copysign(0, -1), 1.5}, nil); math.Float64bits(got[1]) != 1<<63 || got[2] != 1.5 {
		t.Errorf("float64: %v", got)
	}
	if got := roundTrip(t, []point{{1, -2}, {300, 4}}, pointCodec{}); !slices.Equal(got, []point{{1, -2}, {300, 4}}) {
		t.Errorf("custom: %v", got)
	}
	t.Run("no codec", func(t *testing.T) {
		r, _ := NewReservoir[point](2, 1)
		if _, err := r.MarshalBinary(); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("MarshalBinary without codec: err %v, want ErrInvalidParameter", err)
		}
		if err := r.UnmarshalBinary(nil); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("UnmarshalBinary without codec: err %v, want ErrInvalidParameter", err)
		}
	})
}

func TestReservoirUnmarshalRejects(t *testing.T) {
	const kind = 16
	item := []byte{8, 1, 2, 3, 4, 5, 6, 7, 8} // one uint64 item
	fill := func(next, w uint64) []byte { return sampPayload([]uint64{next, w, 1, 2}) }
	valid := sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, append(fill(0, 0), item...))
	var ok Reservoir[uint64]
	if err := ok.UnmarshalBinary(valid); err != nil {
		t.Fatalf("the base case does not decode: %v", err)
	}
	half := math.Float64bits(0.5)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"not an encoding", []byte("hello, world, this is not a sketch encoding at all........"), ErrNotEncoding},
		{"other kind", sampEnvelope(17, [4]uint64{2, 1, 1, 0}, append(fill(0, 0), item...)), ErrKind},
		{"truncated", valid[:len(valid)-1], ErrTruncated},
		{"bit flip", sampWithByte(valid, 60, valid[60]^1), ErrChecksum},
		{"items not min(count, k)", sampEnvelope(kind, [4]uint64{2, 5, 1, 0}, append(fill(0, 0), item...)), ErrCorrupt},
		{"shape[3] set", sampEnvelope(kind, [4]uint64{2, 1, 1, 9}, append(fill(0, 0), item...)), ErrCorrupt},
		{"huge k", sampEnvelope(kind, [4]uint64{1 << 63, 1, 1, 0}, append(fill(0, 0), item...)), ErrCorrupt},
		{"many items, short payload", sampEnvelope(kind, [4]uint64{1 << 40, 1 << 40, 1 << 40, 0}, append(fill(0, 0), item...)), ErrCorrupt},
		{"filling with next set", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, append(fill(5, 0), item...)), ErrCorrupt},
		{"filling with W set", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, append(fill(0, half), item...)), ErrCorrupt},
		{"full with W 0", sampEnvelope(kind, [4]uint64{1, 1, 1, 0}, append(fill(5, 0), item...)), ErrCorrupt},
		{"full with W NaN", sampEnvelope(kind, [4]uint64{1, 1, 1, 0}, append(fill(5, math.Float64bits(math.NaN())), item...)), ErrCorrupt},
		{"full with W > 1", sampEnvelope(kind, [4]uint64{1, 1, 1, 0}, append(fill(5, math.Float64bits(1.5)), item...)), ErrCorrupt},
		{"full with next <= count", sampEnvelope(kind, [4]uint64{1, 1, 1, 0}, append(fill(1, half), item...)), ErrCorrupt},
		{"item length beyond payload", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, append(fill(0, 0), 9, 1, 2, 3, 4, 5, 6, 7, 8)), ErrCorrupt},
		{"item length not minimal", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, append(fill(0, 0), 0x88, 0, 1, 2, 3, 4, 5, 6, 7, 8)), ErrCorrupt},
		{"item the codec rejects", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, append(fill(0, 0), 2, 1, 2)), ErrCorrupt},
		{"trailing bytes", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, append(append(fill(0, 0), item...), 0)), ErrCorrupt},
		{"bad varint", sampEnvelope(kind, [4]uint64{2, 1, 1, 0}, append(fill(0, 0), 0x80)), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustReservoir(t, 3, 1)
			r.Add(99)
			before := sampMarshal(t, r)
			err := r.UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if !bytes.Equal(sampMarshal(t, r), before) {
				t.Fatal("a failed decode changed the reservoir")
			}
		})
	}
}

func TestReservoirAddAllocs(t *testing.T) {
	// Each run refills a reset reservoir and goes on well past full, so an
	// allocation while filling or replacing shows as at least one per run.
	r := mustReservoir(t, 64, 1)
	var i uint64
	if n := testing.AllocsPerRun(100, func() {
		r.Reset()
		for range 10000 {
			r.Add(i)
			i++
		}
	}); n != 0 {
		t.Fatalf("Add: got %v allocation(s) (want zero)", n)
	}
	batch := make([]uint64, 1000)
	if n := testing.AllocsPerRun(100, func() { r.Reset(); r.AddSlice(batch) }); n != 0 {
		t.Fatalf("AddSlice: got %v allocation(s) (want zero)", n)
	}
	// A decoded full reservoir is in steady state at once.
	var d Reservoir[uint64]
	stream(0, 100, r.Add)
	if err := d.UnmarshalBinary(sampMarshal(t, r)); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { d.Add(i); i++ }); n != 0 {
		t.Fatalf("Add after decoding: got %v allocation(s) (want zero)", n)
	}
}
