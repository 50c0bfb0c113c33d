package sampling

import (
	"math/rand/v2"
	"testing"
)

// kllBenchValues is a fixed pool of values the benchmarks cycle through, so
// that generating them costs nothing in the loop.
func kllBenchValues(sorted bool) []float64 {
	v := make([]float64, 1<<20)
	g := rand.NewPCG(1, 2)
	for i := range v {
		if sorted {
			v[i] = float64(i)
		} else {
			v[i] = mkUniform(g)
		}
	}
	return v
}

// kllWarm returns a sketch of k that has seen n values from vals.
func kllWarm(b *testing.B, k, n int, vals []float64) *KLL {
	s := mkKLL(b, k, 3)
	for i := range n {
		s.Add(vals[i&(len(vals)-1)])
	}
	return s
}

// BenchmarkKLLAdd is the amortized cost of Add (compactions included) on a
// sketch already holding 1e6 values.
func BenchmarkKLLAdd(b *testing.B) {
	for _, tc := range []struct {
		name   string
		k      int
		sorted bool
	}{{"k=200/random", 200, false}, {"k=200/sorted", 200, true}, {"k=1600/random", 1600, false}} {
		b.Run(tc.name, func(b *testing.B) {
			vals := kllBenchValues(tc.sorted)
			s := kllWarm(b, tc.k, 1_000_000, vals)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Add(vals[i&(len(vals)-1)])
				i++
			}
		})
	}
}

func BenchmarkKLLQuantile(b *testing.B) {
	vals := kllBenchValues(false)
	s := kllWarm(b, 200, 1_000_000, vals)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		q := 0.0
		for b.Loop() {
			s.Quantile(q)
			q += 0.001
			if q > 1 {
				q = 0
			}
		}
	})
	// After an Add the sorted view is rebuilt once (the cost of the first
	// query after updates).
	b.Run("after-add", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s.Add(vals[i&(len(vals)-1)])
			s.Quantile(0.5)
			i++
		}
	})
}

func BenchmarkKLLRank(b *testing.B) {
	vals := kllBenchValues(false)
	s := kllWarm(b, 200, 1_000_000, vals)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Rank(vals[i&(len(vals)-1)])
		i++
	}
}

// BenchmarkKLLMerge merges a 1e5-value shard into an accumulating sketch.
func BenchmarkKLLMerge(b *testing.B) {
	vals := kllBenchValues(false)
	shard := kllWarm(b, 200, 100_000, vals)
	acc := kllWarm(b, 200, 1_000_000, vals)
	b.ReportAllocs()
	for b.Loop() {
		if err := acc.Merge(shard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKLLMarshal(b *testing.B) {
	s := kllWarm(b, 200, 1_000_000, kllBenchValues(false))
	buf, _ := s.AppendBinary(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
}

func BenchmarkKLLUnmarshal(b *testing.B) {
	s := kllWarm(b, 200, 1_000_000, kllBenchValues(false))
	data := mkMarshal(b, s)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var d KLL
	for b.Loop() {
		if err := d.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}
