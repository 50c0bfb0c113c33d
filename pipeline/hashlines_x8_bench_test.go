package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkHashLinesX8 hashes a batch of 8192 records whose keys have one
// length or lengths uniform in [L/2, 3L/2] ("mixed"), with hashLines 8 keys
// at a time (where the CPU can) and, in the same run, with hashLines forced
// scalar (xxhash.Sum64 and hashOfLen), both timed by the thread's CPU
// clock; speedup is the scalar time over the 8-wide.
func BenchmarkHashLinesX8(b *testing.B) {
	if !hasXXH64x8 {
		b.Skip("no AVX-512")
	}
	for _, mixed := range []bool{false, true} {
		for _, l := range []int{4, 8, 16, 32, 64, 128} {
			name := fmt.Sprintf("len=%d", l)
			if mixed {
				name = fmt.Sprintf("mixed=%d..%d", l/2, l*3/2)
			}
			b.Run(name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(uint64(l), 5))
				lens := make([]int, 8192)
				for i := range lens {
					lens[i] = l
					if mixed {
						lens[i] = l/2 + r.IntN(l+1)
					}
				}
				data, recs := hlRecords(r, lens, []int{1}, 0)
				by := new(byLength)
				defer func(old bool) { useXXH64x8 = old }(useXXH64x8)
				now, done := cpuClock()
				defer done()
				var x8, scalar time.Duration
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
	}
}
