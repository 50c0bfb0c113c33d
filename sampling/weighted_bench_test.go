package sampling

import "testing"

// BenchmarkWeightedReservoirAdd measures Add in steady state (k = 1024,
// weights cycling 1..16), amortized over the jumps.
func BenchmarkWeightedReservoirAdd(b *testing.B) {
	r := mustWeighted(b, 1024, 1)
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		r.Add(i, float64(1+i&15))
		i++
	}
}

func BenchmarkWeightedReservoirMerge(b *testing.B) {
	x, y := mustWeighted(b, 1024, 1), mustWeighted(b, 1024, 2)
	for i := range uint64(1_000_000) {
		x.Add(i, float64(1+i&15))
		y.Add(i, float64(1+i&7))
	}
	enc := sampMarshal(b, x)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if err := x.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := x.Merge(y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWeightedReservoirSample(b *testing.B) {
	r := mustWeighted(b, 1024, 1)
	for i := range uint64(1_000_000) {
		r.Add(i, float64(1+i&15))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Sample()
	}
}

func BenchmarkWeightedReservoirMarshal(b *testing.B) {
	r := mustWeighted(b, 1024, 1)
	for i := range uint64(1_000_000) {
		r.Add(i, float64(1+i&15))
	}
	buf := make([]byte, 0, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = r.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkWeightedReservoirUnmarshal(b *testing.B) {
	r := mustWeighted(b, 1024, 1)
	for i := range uint64(1_000_000) {
		r.Add(i, float64(1+i&15))
	}
	enc := sampMarshal(b, r)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	var s WeightedReservoir[uint64]
	for b.Loop() {
		if err := s.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
