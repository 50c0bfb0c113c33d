package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchHashLengths runs f, as a sub-benchmark, on keys records of one
// length L or of lengths uniform in [L/2, 3L/2] ("mixed"), L from 4 to
// 128, laid out as lines (one byte between keys) from offset 0 of data.
func benchHashLengths(b *testing.B, keys int, seed uint64, f func(b *testing.B, data []byte, recs []Record)) {
	for _, mixed := range []bool{false, true} {
		for _, l := range []int{4, 8, 16, 32, 64, 128} {
			name := fmt.Sprintf("len=%d", l)
			if mixed {
				name = fmt.Sprintf("mixed=%d..%d", l/2, l*3/2)
			}
			b.Run(name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(uint64(l), seed))
				lens := make([]int, keys)
				for i := range lens {
					lens[i] = l
					if mixed {
						lens[i] = l/2 + r.IntN(l+1)
					}
				}
				data, recs := hlRecords(r, lens, []int{1}, 0)
				f(b, data, recs)
			})
		}
	}
}

// BenchmarkHashLinesX8 hashes a batch of 8192 records (see
// benchHashLengths) with hashLines 8 keys at a time (where the CPU can)
// and, in the same run, with hashLines forced scalar (xxhash.Sum64 and
// hashOfLen), both timed by the thread's CPU clock; speedup is the scalar
// time over the 8-wide.
func BenchmarkHashLinesX8(b *testing.B) {
	if !hasXXH64x8 {
		b.Skip("no AVX-512")
	}
	benchHashLengths(b, 8192, 5, func(b *testing.B, data []byte, recs []Record) {
		by := new(byLength)
		defer func(old bool) { useXXH64x8 = old }(useXXH64x8)
		now, done := cpuClock()
		defer done()
		var x8, scalar time.Duration
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			useXXH64x8 = true
			start := now()
			hashLines(recs, data, 0, by)
			x8 += now() - start
			useXXH64x8 = false
			start = now()
			hashLines(recs, data, 0, by)
			scalar += now() - start
		}
		n := float64(b.N) * float64(len(recs))
		b.ReportMetric(float64(x8.Nanoseconds())/n, "ns/key")
		b.ReportMetric(float64(scalar.Nanoseconds())/n, "scalar-ns/key")
		b.ReportMetric(scalar.Seconds()/x8.Seconds(), "speedup")
	})
}
