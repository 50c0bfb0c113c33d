package sampling

import (
	"testing"
	"time"
)

// plainWelford is the textbook update without the compensated mean, the
// baseline for what the compensation costs.
type plainWelford struct{ n, mean, m2 float64 }

func (p *plainWelford) add(x float64) {
	p.n++
	d := x - p.mean
	p.mean += d / p.n
	p.m2 += d * (x - p.mean)
}

// BenchmarkMomentsAdd times Add and, over the same values in the same run,
// plain Welford; it reports the plain cost and the ratio.
func BenchmarkMomentsAdd(b *testing.B) {
	vals := kllBenchValues(false)
	mask := len(vals) - 1
	var m Moments
	b.ReportAllocs()
	i := 0
	start := time.Now()
	for b.Loop() {
		m.Add(vals[i&mask])
		i++
	}
	ours := time.Since(start)
	var p plainWelford
	start = time.Now()
	for j := range i {
		p.add(vals[j&mask])
	}
	plain := time.Since(start)
	if p.m2 < 0 || m.m2 < 0 {
		b.Fatal("impossible")
	}
	b.ReportMetric(float64(plain.Nanoseconds())/float64(i), "plain-welford-ns/op")
	b.ReportMetric(float64(ours)/float64(plain), "x-plain-welford")
}

func BenchmarkMomentsAddWeighted(b *testing.B) {
	vals := kllBenchValues(false)
	mask := len(vals) - 1
	var m Moments
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.AddWeighted(vals[i&mask], 1.5)
		i++
	}
}

func BenchmarkMomentsMerge(b *testing.B) {
	var acc, o Moments
	for _, x := range kllBenchValues(false)[:1000] {
		o.Add(x)
	}
	b.ReportAllocs()
	for b.Loop() {
		acc.Merge(&o)
	}
}

func BenchmarkMomentsMarshal(b *testing.B) {
	var m Moments
	m.Add(1)
	m.Add(2)
	buf, _ := m.AppendBinary(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = m.AppendBinary(buf[:0])
	}
}

func BenchmarkMomentsUnmarshal(b *testing.B) {
	var m Moments
	m.Add(1)
	m.Add(2)
	data := mkMarshal(b, &m)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var d Moments
	for b.Loop() {
		if err := d.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}
