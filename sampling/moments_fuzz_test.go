package sampling

import (
	"bytes"
	"math"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func FuzzUnmarshalMoments(f *testing.F) {
	fills := []func(*Moments){
		func(*Moments) {},
		func(m *Moments) { m.Add(math.NaN()) },
		func(m *Moments) { m.Add(-3) },
		func(m *Moments) { m.Add(1); m.Add(2); m.Add(math.Inf(1)) },
		func(m *Moments) { m.AddWeighted(1e9, 0.5); m.AddWeighted(1e9+1, 3) },
		func(m *Moments) { m.Add(1e308); m.Add(-1e308) }, // overflows to NaN
	}
	for _, fill := range fills {
		var m Moments
		fill(&m)
		enc := mkMarshal(f, &m)
		f.Add(enc)
		f.Add(enc[:len(enc)-5])
		for _, off := range []int{16, 56, 64, 80, 88, 104, 112, 119} {
			b := bytes.Clone(enc)
			b[off] ^= 0x80
			f.Add(envelope.Reseal(b))
		}
	}
	f.Add([]byte{})
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzMoments(t, data)
		if len(data) >= 60 {
			fuzzMoments(t, envelope.Reseal(bytes.Clone(data)))
		}
	})
}

func fuzzMoments(t *testing.T, data []byte) {
	var m Moments
	if err := m.UnmarshalBinary(data); err != nil {
		if !envelope.IsDecodeError(err) {
			t.Fatalf("error %v is not a documented sentinel", err)
		}
		return
	}
	if again := mkMarshal(t, &m); !bytes.Equal(again, data) {
		t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
	}
	if m.Count() > 0 && !(m.Min() <= m.Max()) {
		t.Fatalf("min %v > max %v", m.Min(), m.Max())
	}
	if v := m.PopulationVariance(); v < 0 {
		t.Fatalf("negative variance %v", v)
	}
	if m.Count() > 1 && m.Weight() > 1 {
		m.MeanInterval(0.95)
	}
	if m.Count() > math.MaxUint64/4 {
		return // a forged count near 2^64 would wrap; no stream gets there
	}
	// Whatever decodes keeps working and re-decodes after more updates.
	m.Add(1)
	m.AddWeighted(2, 0.5)
	m.Merge(&m)
	var back Moments
	if err := back.UnmarshalBinary(mkMarshal(t, &m)); err != nil {
		t.Fatalf("an updated decoded Moments does not decode: %v", err)
	}
}
