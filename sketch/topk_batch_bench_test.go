package sketch

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkTopKAddHashes runs AddHashes over batches of 1024 keys beside
// AddHash key by key (the naive loop's way) on the same events, two
// sketches at capacity 4096 as the CLI's top, alternating stretches, and
// reports the median time ratio batch/key: on the inputs of
// BenchmarkTopKAddVsRef.
func BenchmarkTopKAddHashes(b *testing.B) {
	const n = 1 << 21
	for _, in := range topkBenchInputs(n) {
		ev := in.ev()
		keys := make([][]byte, ev.n())
		for i := range keys {
			keys[i] = ev.key(i)
		}
		b.Run(in.name, func(b *testing.B) {
			batch, one := topkNew(b, 4096), topkNew(b, 4096)
			for i := range ev.n() {
				batch.AddHash(ev.hashes[i], ev.key(i), 1)
				one.AddHash(ev.hashes[i], ev.key(i), 1)
			}
			const chunk, size = 1 << 14, 1024
			time1 := func(f func(j int), j int) float64 {
				t0 := time.Now()
				f(j)
				return float64(time.Since(t0).Nanoseconds()) / chunk
			}
			addBatch := func(j int) {
				for x := j; x < j+chunk; x += size {
					batch.AddHashes(ev.hashes[x:x+size], keys[x:x+size], nil)
				}
			}
			addOne := func(j int) {
				for x := j; x < j+chunk; x++ {
					one.AddHash(ev.hashes[x], ev.key(x), 1)
				}
			}
			var tb, to, ratio []float64
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i * chunk & (n - 1)
				var x, y float64
				if i&1 == 0 {
					x, y = time1(addBatch, j), time1(addOne, j)
				} else {
					y, x = time1(addOne, j), time1(addBatch, j)
				}
				tb, to, ratio = append(tb, x), append(to, y), append(ratio, x/y)
			}
			med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
			b.ReportMetric(med(tb), "ns/update")
			b.ReportMetric(med(to), "ns/update-AddHash")
			b.ReportMetric(med(ratio), "batch/key")
		})
	}
}
