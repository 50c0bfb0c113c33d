package sampling

import (
	"bytes"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func FuzzUnmarshalKeySampler(f *testing.F) {
	for _, p := range []float64{0, 1e-30, 0.1, 0.5, 0.999, 1} {
		s, err := NewKeySampler(p)
		if err != nil {
			f.Fatal(err)
		}
		enc := sampMarshal(f, s)
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(envelope.Reseal(sampWithByte(enc, 16, 1)))
		f.Add(envelope.Reseal(sampWithByte(enc, 23, 0xff)))
		f.Add(envelope.Reseal(sampWithByte(enc, 24, 1)))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzKeySampler(t, data)
		if len(data) >= 60 {
			fuzzKeySampler(t, envelope.Reseal(bytes.Clone(data)))
		}
	})
}

func fuzzKeySampler(t *testing.T, data []byte) {
	var s KeySampler
	if err := s.UnmarshalBinary(data); err != nil {
		if !envelope.IsDecodeError(err) {
			t.Fatalf("error %v is not a documented sentinel", err)
		}
		return
	}
	if again := sampMarshal(t, s); !bytes.Equal(again, data) {
		t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
	}
	// Whatever decodes is a threshold SetP produces from its own P.
	var r KeySampler
	if err := r.SetP(s.P()); err != nil || r != s {
		t.Fatalf("P %v does not give back the threshold %#x: %+v, %v", s.P(), s.Threshold(), r, err)
	}
}
