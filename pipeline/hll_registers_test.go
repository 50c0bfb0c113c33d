package pipeline

import (
	"math/rand/v2"
	"testing"
)

// TestMaxRegisters: at every precision, each register holds the largest
// rank of the hashes indexed to it (the p = 14 array loop included), and
// a warmed call allocates nothing.
func TestMaxRegisters(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([]Record, 50000)
	for i := range recs {
		recs[i].Hash = r.Uint64() >> (r.Uint64() % 3 * 20) // some with leading zeros: low indexes, long ranks
	}
	for _, p := range []uint8{4, 10, 14, 18} {
		want := make([]uint8, 1<<p)
		for _, rec := range recs {
			j := rec.Hash >> (64 - p)
			rank, rest := uint8(1), rec.Hash<<p
			for rank <= 64-p && rest>>63 == 0 { // the zeros after the index, one by one
				rest <<= 1
				rank++
			}
			want[j] = max(want[j], rank)
		}
		got := make([]uint8, 1<<p)
		MaxRegisters(got[:], p, recs[:20000])
		MaxRegisters(got[:], p, recs[20000:])
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("p=%d register %d: %d, want %d", p, j, got[j], want[j])
			}
		}
		if a := testing.AllocsPerRun(10, func() { MaxRegisters(got, p, recs) }); a != 0 {
			t.Errorf("p=%d: %v allocs", p, a)
		}
	}
}
