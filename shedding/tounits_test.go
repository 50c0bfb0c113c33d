package shedding

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestToUnitsIsSelfMerges: ToUnits, which scales through the encoding,
// leaves a TopK byte-identical to what 16 merges with itself (its
// definition, and what it did before) leave, for TopKs not full, full
// with errors, with ties in counts, and with weighted counts; and the
// scaled TopK goes on counting as the merged one does.
func TestToUnitsIsSelfMerges(t *testing.T) {
	for _, tc := range []struct {
		capacity, keys, records int
		weighted                bool
	}{
		{16, 10, 100, false},    // not full: exact counts
		{16, 1000, 5000, false}, // full: errors, ties
		{1024, 50_000, 200_000, false},
		{1024, 50_000, 100_000, true},
		{64, 1, 1, false},
		{64, 0, 0, false},
	} {
		t.Run(fmt.Sprintf("capacity=%d,keys=%d,records=%d,weighted=%v", tc.capacity, tc.keys, tc.records, tc.weighted), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.keys)))
			tk, err := sketch.NewTopK(tc.capacity)
			if err != nil {
				t.Fatal(err)
			}
			for range tc.records {
				k := fmt.Sprintf("k%d", int(float64(tc.keys)*rng.Float64()*rng.Float64()))
				w := uint64(1)
				if tc.weighted {
					w = Units(float32(rng.IntN(1<<16)+1) / (1 << 16))
				}
				tk.AddHash(sketch.HashString(k), []byte(k), w)
			}
			want := tk.Clone()
			for range unitDoublings {
				if err := want.Merge(want); err != nil {
					t.Fatal(err)
				}
			}
			got := tk.Clone()
			ToUnits(got)
			wb, _ := want.MarshalBinary()
			gb, _ := got.MarshalBinary()
			if !bytes.Equal(gb, wb) {
				t.Fatalf("ToUnits differs from %d self-merges", unitDoublings)
			}
			// Both go on alike.
			for i := range 1000 {
				k := fmt.Sprintf("n%d", i%37)
				want.AddHash(sketch.HashString(k), []byte(k), Unit)
				got.AddHash(sketch.HashString(k), []byte(k), Unit)
			}
			wb, _ = want.MarshalBinary()
			gb, _ = got.MarshalBinary()
			if !bytes.Equal(gb, wb) {
				t.Fatal("after more records, ToUnits's TopK differs from the self-merged one")
			}
		})
	}
}

// TestToUnitsOverflow: a TopK whose counts would overflow in units is
// scaled as merges scale it (the fallback), not through the encoding.
func TestToUnitsOverflow(t *testing.T) {
	tk, _ := sketch.NewTopK(8)
	tk.AddHash(sketch.HashString("a"), []byte("a"), 1<<50)
	if scaleTopK(tk.Clone(), unitDoublings) {
		t.Fatal("scaled a total of 2^50 by 2^16")
	}
	want := tk.Clone()
	for range unitDoublings {
		_ = want.Merge(want)
	}
	got := tk.Clone()
	ToUnits(got)
	wb, _ := want.MarshalBinary()
	gb, _ := got.MarshalBinary()
	if !bytes.Equal(gb, wb) {
		t.Fatal("overflowing ToUnits differs from self-merges")
	}
}

// BenchmarkToUnits: ToUnits of top --shed's TopK at the default precision
// (capacity 16384, full), against the 16 merges it replaces.
func BenchmarkToUnits(b *testing.B) {
	tk, _ := sketch.NewTopK(16384)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		k := fmt.Sprintf("key-%d", int(1e6*rng.Float64()*rng.Float64()))
		tk.AddHash(sketch.HashString(k), []byte(k), 1)
	}
	b.Run("encoding", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ToUnits(tk.Clone())
		}
	})
	b.Run("merges", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t := tk.Clone()
			for range unitDoublings {
				_ = t.Merge(t)
			}
		}
	})
}
