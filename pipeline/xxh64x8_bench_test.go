package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
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

// BenchmarkHashKeys hashes 4096 keys (see benchHashLengths) with xxh64Keys
// (8 at a time where the CPU has AVX-512) and, in the same run, with
// xxhash.Sum64 key by key, both timed by the thread's CPU clock: ns/key
// and xxhash-ns/key are CPU time, speedup the second's over the first's.
func BenchmarkHashKeys(b *testing.B) {
	benchHashLengths(b, 4096, 3, func(b *testing.B, data []byte, recs []Record) {
		offs, lens := make([]uint32, len(recs)), make([]uint32, len(recs))
		for i, rec := range recs {
			offs[i], lens[i] = rec.keyOff, rec.keyLen
		}
		out := make([]uint64, len(recs))
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
		n := float64(b.N) * float64(len(recs))
		b.ReportMetric(float64(ours.Nanoseconds())/n, "ns/key")
		b.ReportMetric(float64(theirs.Nanoseconds())/n, "xxhash-ns/key")
		b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
	})
}
