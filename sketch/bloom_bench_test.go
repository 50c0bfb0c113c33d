package sketch

import "testing"

// benchBloom returns a filter sized for 1e6 items at 1% holding n of them:
// 1.2 MB of bits, more than L2, as in production.
func benchBloom(b *testing.B, n uint64) *Bloom {
	f := mustBloom(b, 1e6, 0.01)
	fillBloom(f, 31, 0, n)
	return f
}

func BenchmarkBloomAddHash(b *testing.B) {
	hs := benchHashes(1 << 16)
	f := benchBloom(b, 5e5)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.AddHash(hs[i&(1<<16-1)])
	}
}

// BenchmarkBloomTestHash tests items never added (most are rejected at the
// first or second clear bit) and items added (all k bits read).
func BenchmarkBloomTestHash(b *testing.B) {
	f := benchBloom(b, 1e6)
	for _, tc := range []struct {
		name string
		seed uint64
	}{{"absent", 32}, {"present", 31}} {
		hs := make([]uint64, 1<<16)
		for i := range hs {
			hs[i] = itemHash(tc.seed, uint64(i))
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			hits := 0
			for i := 0; b.Loop(); i++ {
				if f.TestHash(hs[i&(1<<16-1)]) {
					hits++
				}
			}
			b.ReportMetric(float64(hits)/float64(b.N), "hit-rate")
		})
	}
}

func BenchmarkBloomTestAndAddHash(b *testing.B) {
	hs := benchHashes(1 << 16)
	f := benchBloom(b, 5e5)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.TestAndAddHash(hs[i&(1<<16-1)])
	}
}

func BenchmarkBloomAdd(b *testing.B) {
	key := []byte("user-000000000042")
	f := benchBloom(b, 5e5)
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		f.Add(key)
	}
}

// BenchmarkBloomFill measures the popcount behind Fill, EstimatedFPRate and
// Estimate (1.2 MB of bits).
func BenchmarkBloomFill(b *testing.B) {
	f := benchBloom(b, 1e6)
	b.ReportAllocs()
	b.SetBytes(int64(8 * len(f.words)))
	for b.Loop() {
		f.Fill()
	}
}

func BenchmarkBloomEstimate(b *testing.B) {
	f := benchBloom(b, 1e6)
	b.ReportAllocs()
	for b.Loop() {
		f.Estimate()
	}
}

func BenchmarkBloomMerge(b *testing.B) {
	f, o := benchBloom(b, 1e6), benchBloom(b, 5e5)
	b.ReportAllocs()
	b.SetBytes(int64(8 * len(f.words)))
	for b.Loop() {
		if err := f.Merge(o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBloomMarshal(b *testing.B) {
	f := benchBloom(b, 1e6)
	buf, _ := f.AppendBinary(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf, _ = f.AppendBinary(buf[:0])
	}
}

func BenchmarkBloomUnmarshal(b *testing.B) {
	enc, _ := benchBloom(b, 1e6).MarshalBinary()
	var f Bloom
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if err := f.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
