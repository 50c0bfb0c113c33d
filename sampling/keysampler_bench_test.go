package sampling

import "testing"

func BenchmarkKeySamplerKeepHash(b *testing.B) {
	s := mustKeySampler(b, 0.3)
	b.ReportAllocs()
	var h uint64
	kept := 0
	for b.Loop() {
		if s.KeepHash(h) {
			kept++
		}
		h += 0x9e3779b97f4a7c15
	}
	keepSink = kept > 0
}

func BenchmarkKeySamplerScaleCount(b *testing.B) {
	s := mustKeySampler(b, 0.3)
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = s.ScaleCount(123456, 0.95)
	}
}

func BenchmarkKeySamplerMarshal(b *testing.B) {
	s := mustKeySampler(b, 0.3)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
}

func BenchmarkKeySamplerUnmarshal(b *testing.B) {
	enc := sampMarshal(b, mustKeySampler(b, 0.3))
	b.ReportAllocs()
	var s KeySampler
	for b.Loop() {
		if err := s.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
