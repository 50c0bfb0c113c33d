package sampling

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func FuzzUnmarshalKLL(f *testing.F) {
	for _, tc := range []struct {
		k, n int
		nans bool
	}{{8, 0, true}, {8, 5, false}, {8, 1000, true}, {20, 3000, false}, {200, 100, false}, {200, 5000, true}} {
		s := mkKLL(f, tc.k, uint64(tc.n))
		g := rand.NewPCG(uint64(tc.k), uint64(tc.n))
		for i := range tc.n {
			x := math.Round(mkUniform(g)*1000) - 500
			if i == 3 {
				x = math.Inf(1)
			}
			s.Add(x)
		}
		if tc.nans {
			s.Add(math.NaN())
		}
		enc := mkMarshal(f, s)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		for _, off := range []int{16, 24, 32, 56, 64, 72, 80, 96, 100, len(enc) - 12} {
			if off+1 < len(enc)-4 {
				b := bytes.Clone(enc)
				b[off] ^= 0x81
				f.Add(envelope.Reseal(b))
			}
		}
	}
	var zero KLL
	f.Add(mkMarshal(f, &zero))
	f.Add([]byte{})
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzKLL(t, data)
		// Random mutations rarely keep the checksum right; resealing lets
		// the fuzzer reach the payload checks behind it.
		if len(data) >= 60 {
			fuzzKLL(t, envelope.Reseal(bytes.Clone(data)))
		}
	})
}

func fuzzKLL(t *testing.T, data []byte) {
	var s KLL
	if err := s.UnmarshalBinary(data); err != nil {
		if !envelope.IsDecodeError(err) {
			t.Fatalf("error %v is not a documented sentinel", err)
		}
		return
	}
	if again := mkMarshal(t, &s); !bytes.Equal(again, data) {
		t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
	}
	mkCheckKLL(t, &s)
	// Whatever decodes is a working sketch.
	if v, lo, hi := s.QuantileBounds(0.5); s.Count() > 0 && !(lo <= v && v <= hi) {
		t.Fatalf("quantile %v outside its bounds [%v, %v]", v, lo, hi)
	}
	if r := s.Rank(0); s.Count() > 0 && !(r >= 0 && r <= 1) {
		t.Fatalf("rank %v", r)
	}
	if s.Count() > math.MaxUint64/4 {
		return // a forged count near 2^64: merging would (rightly) refuse
	}
	for i := range 3 * s.K() {
		s.Add(float64(i))
	}
	if err := s.Merge(&s); err != nil {
		t.Fatal(err)
	}
	mkCheckKLL(t, &s)
	var back KLL
	if err := back.UnmarshalBinary(mkMarshal(t, &s)); err != nil {
		t.Fatalf("a sketch grown from a decoded one does not decode: %v", err)
	}
}
