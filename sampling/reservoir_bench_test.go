package sampling

import (
	"math/rand/v2"
	"testing"
	"time"
)

// algorithmR is the textbook reservoir sampler (Vitter's Algorithm R, after
// Waterman): one random draw per item. It is the baseline Algorithm L is
// measured against, with the same generator and bounded draw.
type algorithmR struct {
	n     uint64
	items []uint64
	rng   rand.PCG
}

func (r *algorithmR) add(v uint64) {
	r.n++
	if len(r.items) < cap(r.items) {
		r.items = append(r.items, v)
		return
	}
	if j := boundedN(&r.rng, r.n); j < uint64(len(r.items)) {
		r.items[j] = v
	}
}

// BenchmarkReservoir runs Algorithm L (Add on every item) and Algorithm R on
// the same stream of 1e8 items (the loop index, so making items costs
// nothing), k = 1024, in each iteration, and reports both per-item costs and
// their ratio. It also times L fed through Discard, for callers that can skip
// items without materialising them.
func BenchmarkReservoir(b *testing.B) {
	const n, k = 100_000_000, 1024
	b.ReportAllocs()
	var tL, tR, tD time.Duration
	var sink uint64
	for b.Loop() {
		l := mustReservoir(b, k, 1)
		start := time.Now()
		for i := range uint64(n) {
			l.Add(i)
		}
		tL += time.Since(start)

		r := &algorithmR{items: make([]uint64, 0, k)}
		seedPCG(&r.rng, 1, reservoirStream)
		start = time.Now()
		for i := range uint64(n) {
			r.add(i)
		}
		tR += time.Since(start)

		d := mustReservoir(b, k, 1)
		start = time.Now()
		for i := uint64(0); i < n; {
			i += d.Discard(n - i)
			if i < n {
				d.Add(i)
				i++
			}
		}
		tD += time.Since(start)
		sink += l.items[0] + r.items[0] + d.items[0]
	}
	items := float64(b.N) * n
	b.ReportMetric(float64(tL.Nanoseconds())/items, "ns/item-L")
	b.ReportMetric(float64(tR.Nanoseconds())/items, "ns/item-R")
	b.ReportMetric(float64(tD.Nanoseconds())/items, "ns/item-L-discard")
	b.ReportMetric(tR.Seconds()/tL.Seconds(), "speedup-vs-R")
	b.ReportMetric(tR.Seconds()/tD.Seconds(), "speedup-discard-vs-R")
	_ = sink
}

func BenchmarkReservoirAdd(b *testing.B) {
	r := mustReservoir(b, 1024, 1)
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		r.Add(i)
		i++
	}
}

// BenchmarkReservoirAddSlice feeds a fresh stream of 1e6 items (k = 1024)
// in batches of 4096 per iteration, so the skips stay those of a 1e6 stream
// instead of growing without end.
func BenchmarkReservoirAddSlice(b *testing.B) {
	const n = 1_000_000
	r := mustReservoir(b, 1024, 1)
	batch := make([]uint64, 4096)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		for range n / len(batch) {
			r.AddSlice(batch)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n/len(batch)*len(batch)), "ns/item")
}

func BenchmarkReservoirMerge(b *testing.B) {
	x, y := mustReservoir(b, 1024, 1), mustReservoir(b, 1024, 2)
	stream(0, 1_000_000, x.Add)
	stream(1_000_000, 3_000_000, y.Add)
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

func BenchmarkReservoirSample(b *testing.B) {
	r := mustReservoir(b, 1024, 1)
	stream(0, 1_000_000, r.Add)
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Sample()
	}
}

func BenchmarkReservoirMarshal(b *testing.B) {
	r := mustReservoir(b, 1024, 1)
	stream(0, 1_000_000, r.Add)
	buf := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = r.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkReservoirUnmarshal(b *testing.B) {
	r := mustReservoir(b, 1024, 1)
	stream(0, 1_000_000, r.Add)
	enc := sampMarshal(b, r)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	var s Reservoir[uint64]
	for b.Loop() {
		if err := s.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
