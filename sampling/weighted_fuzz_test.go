package sampling

import (
	"bytes"
	"math"
	"strconv"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func FuzzUnmarshalWeightedReservoir(f *testing.F) {
	for _, tc := range []struct{ k, n int }{{1, 0}, {1, 5}, {4, 2}, {4, 4}, {8, 1000}, {3, 50000}} {
		r, err := NewWeightedReservoir[string](tc.k, uint64(tc.n))
		if err != nil {
			f.Fatal(err)
		}
		for i := range tc.n {
			r.Add(strconv.Itoa(i), float64(1+i%9))
		}
		enc := sampMarshal(f, r)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		f.Add(envelope.Reseal(sampWithByte(enc, 16, byte(tc.k+1))))
		f.Add(envelope.Reseal(sampWithByte(enc, 32, byte(tc.k+1))))
		f.Add(envelope.Reseal(sampWithByte(enc, 63, 0xff)))
		if len(enc) > 100 {
			f.Add(envelope.Reseal(sampWithByte(enc, 95, 0x3f)))
		}
	}
	var zero WeightedReservoir[string]
	f.Add(sampMarshal(f, &zero))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzWeighted(t, data)
		// Random mutations almost never keep the checksum right; resealing
		// lets the fuzzer reach the payload checks behind it.
		if len(data) >= 60 {
			fuzzWeighted(t, envelope.Reseal(bytes.Clone(data)))
		}
	})
}

func fuzzWeighted(t *testing.T, data []byte) {
	var r WeightedReservoir[string]
	if err := r.UnmarshalBinary(data); err != nil {
		if !envelope.IsDecodeError(err) {
			t.Fatalf("error %v is not a documented sentinel", err)
		}
		return
	}
	if again := sampMarshal(t, &r); !bytes.Equal(again, data) {
		t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
	}
	if r.Len() > r.K() {
		t.Fatalf("%d items in a sampler of size %d", r.Len(), r.K())
	}
	wraps := r.Count() > math.MaxUint64-10000
	for i := range 100 {
		r.Add(strconv.Itoa(i), float64(i%4))
	}
	_ = r.Merge(&r)
	if len(r.Sample()) != r.Len() {
		t.Fatal("Sample and Len disagree")
	}
	var s WeightedReservoir[string]
	if err := s.UnmarshalBinary(sampMarshal(t, &r)); err != nil && !wraps {
		t.Fatalf("state after Add and Merge does not decode: %v", err)
	}
}
