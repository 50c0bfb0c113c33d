package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// BenchmarkHashKeys hashes 4096 keys laid out as lines, of one length or
// of lengths uniform in [L/2, 3L/2] ("mixed"), with xxh64Keys (8 at a time
// where the CPU has AVX-512) and, in the same run, with xxhash.Sum64 key
// by key, both timed by the thread's CPU clock: ns/key and xxhash-ns/key
// are CPU time, speedup the second's over the first's.
func BenchmarkHashKeys(b *testing.B) {
	for _, mixed := range []bool{false, true} {
		for _, l := range []int{4, 8, 16, 32, 64, 128} {
			name := fmt.Sprintf("len=%d", l)
			if mixed {
				name = fmt.Sprintf("mixed=%d..%d", l/2, l*3/2)
			}
			b.Run(name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(uint64(l), 3))
				const keys = 4096
				var data []byte
				offs, lens := make([]uint32, keys), make([]uint32, keys)
				for i := range keys {
					n := l
					if mixed {
						n = l/2 + r.IntN(l+1)
					}
					offs[i], lens[i] = uint32(len(data)), uint32(n)
					for range n {
						data = append(data, 'a'+byte(r.IntN(26)))
					}
					data = append(data, '\n')
				}
				out := make([]uint64, keys)
				var ours, theirs time.Duration
				var sink uint64
				now, done := cpuClock()
				defer done()
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					start := now()
					xxh64Keys(data, offs, lens, out)
					ours += now() - start
					start = now()
					for i := range out {
						sink += xxhash.Sum64(data[offs[i] : offs[i]+lens[i]])
					}
					theirs += now() - start
				}
				_ = sink
				n := float64(b.N) * keys
				b.ReportMetric(float64(ours.Nanoseconds())/n, "ns/key")
				b.ReportMetric(float64(theirs.Nanoseconds())/n, "xxhash-ns/key")
				b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
			})
		}
	}
}
