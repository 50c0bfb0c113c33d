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
			addBatch := func(j int) {
				for x := j; x < j+chunk; x += size {
					batch.AddHashes(ev.hashes[x:x+size], keys[x:x+size])
				}
			}
			addOne := func(j int) {
				for x := j; x < j+chunk; x++ {
					one.AddHash(ev.hashes[x], ev.key(x), 1)
				}
			}
			topkBenchAlternate(b, n, chunk, addBatch, addOne, "ns/update", "ns/update-AddHash", "batch/key")
		})
	}
}

// topkBenchAlternate times fa and fb, two ways of doing the updates of the
// chunk events from j on (n a power of two, the events' count), on
// successive stretches, alternating which goes first, and reports the
// medians of their times per update (units ua and ub) and of the ratio
// fa/fb (ur): other work on the machine hits one stretch, not the ratio of
// the next.
func topkBenchAlternate(b *testing.B, n, chunk int, fa, fb func(j int), ua, ub, ur string) {
	time1 := func(f func(j int), j int) float64 {
		t0 := time.Now()
		f(j)
		return float64(time.Since(t0).Nanoseconds()) / float64(chunk)
	}
	var ta, tb, ratio []float64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i * chunk & (n - 1)
		var x, y float64
		if i&1 == 0 {
			x, y = time1(fa, j), time1(fb, j)
		} else {
			y, x = time1(fb, j), time1(fa, j)
		}
		ta, tb, ratio = append(ta, x), append(tb, y), append(ratio, x/y)
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(med(ta), ua)
	b.ReportMetric(med(tb), ub)
	b.ReportMetric(med(ratio), ur)
}
