package sampling

import (
	"bytes"
	"math"
	"strconv"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func FuzzUnmarshalReservoir(f *testing.F) {
	for _, tc := range []struct{ k, n int }{{1, 0}, {1, 5}, {4, 2}, {4, 4}, {8, 1000}, {3, 100000}} {
		r, err := NewReservoir[string](tc.k, uint64(tc.n))
		if err != nil {
			f.Fatal(err)
		}
		for i := range tc.n {
			r.Add(strconv.Itoa(i * i))
		}
		enc := sampMarshal(f, r)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		f.Add(envelope.Reseal(sampWithByte(enc, 16, byte(tc.k+1))))
		f.Add(envelope.Reseal(sampWithByte(enc, 24, byte(tc.n+1))))
		f.Add(envelope.Reseal(sampWithByte(enc, 56, 0xff)))
		if len(enc) > 90 {
			f.Add(envelope.Reseal(sampWithByte(enc, 88, 0x81)))
		}
	}
	var zero Reservoir[string]
	f.Add(sampMarshal(f, &zero))
	f.Add([]byte{})
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzReservoir(t, data)
		// Random mutations almost never keep the checksum right; resealing
		// lets the fuzzer reach the payload checks behind it.
		if len(data) >= 60 {
			fuzzReservoir(t, envelope.Reseal(bytes.Clone(data)))
		}
	})
}

func fuzzReservoir(t *testing.T, data []byte) {
	var r Reservoir[string]
	if err := r.UnmarshalBinary(data); err != nil {
		if !envelope.IsDecodeError(err) {
			t.Fatalf("error %v is not a documented sentinel", err)
		}
		return
	}
	again := sampMarshal(t, &r)
	if !bytes.Equal(again, data) {
		t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
	}
	// Whatever decodes is a usable reservoir whose later states still
	// decode.
	if r.Len() > r.K() {
		t.Fatalf("%d items in a reservoir of size %d", r.Len(), r.K())
	}
	wraps := r.Count() > math.MaxUint64-10000 // counts past 2^64 wrap; no stream gets there
	for i := range 100 {
		r.Add(strconv.Itoa(i))
	}
	r.Discard(1000)
	_ = r.Merge(&r)
	var s Reservoir[string]
	if err := s.UnmarshalBinary(sampMarshal(t, &r)); err != nil && !wraps {
		t.Fatalf("state after Add and Merge does not decode: %v", err)
	}
}
