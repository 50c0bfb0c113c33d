package pipeline

import (
	"fmt"
	"math"
	"math/bits"
	"testing"
)

func TestZipfTailSum(t *testing.T) {
	for _, q := range []float64{1.01, 1.1, 1.5, 2, 3} {
		for _, b := range []float64{zipfHead + 1, zipfHead + 2, 20_000, 1_000_000} {
			a := float64(zipfHead + 1)
			var want float64
			for x := b; x >= a; x-- {
				want += math.Pow(x, -q)
			}
			if got := zipfTailSum(a, b, q); math.Abs(got-want) > 1e-12*want {
				t.Errorf("q=%v, [%v, %v]: got %v, want %v", q, a, b, got, want)
			}
		}
	}
}

// TestZipfSamplerBuckets compares the counts of ranks in power-of-two
// buckets with the exact probabilities, across the head/tail boundary.
func TestZipfSamplerBuckets(t *testing.T) {
	samples := 400_000
	if testing.Short() {
		samples = 100_000
	}
	for _, tc := range []struct {
		n uint64
		q float64
	}{{1, 1.1}, {2, 3}, {1000, 1.1}, {zipfHead, 1.1}, {zipfHead + 1, 1.1}, {1_000_000, 1.1}, {1_000_000, 1.01}, {1_000_000, 2}, {1 << 40, 1.1}} {
		t.Run(fmt.Sprintf("n=%d,q=%v", tc.n, tc.q), func(t *testing.T) {
			z := newZipfSampler(tc.n, tc.q)
			var counts [64]float64
			st := uint64(12345)
			for range samples {
				k := z.sample(&st)
				if k >= tc.n {
					t.Fatalf("rank %d >= n %d", k, tc.n)
				}
				counts[bits.Len64(k)]++ // bucket b holds ranks [2^(b-1), 2^b)
			}
			want := zipfBucketProbs(tc.n, tc.q)
			for b, p := range want {
				mean := p * float64(samples)
				sd := math.Sqrt(mean * (1 - p))
				if math.Abs(counts[b]-mean) > 5*sd+1 {
					t.Errorf("bucket %d: %v ranks, want %.0f ± %.0f", b, counts[b], mean, 5*sd)
				}
			}
		})
	}
}

// zipfBucketProbs sums the exact probabilities per power-of-two bucket,
// term by term up to 2^21 ranks and by zipfTailSum beyond.
func zipfBucketProbs(n uint64, q float64) []float64 {
	probs := make([]float64, bits.Len64(n-1)+1)
	var total float64
	for b := range probs {
		lo, hi := uint64(0), uint64(0) // ranks [lo, hi]
		if b > 0 {
			lo, hi = 1<<(b-1), min(1<<b-1, n-1)
		}
		var w float64
		if hi < 1<<21 {
			for k := hi; ; k-- {
				w += math.Pow(float64(k+1), -q)
				if k == lo {
					break
				}
			}
		} else {
			w = zipfTailSum(float64(lo+1), float64(hi+1), q)
		}
		probs[b] = w
		total += w
	}
	for b := range probs {
		probs[b] /= total
	}
	return probs
}

func BenchmarkZipfSampler(b *testing.B) {
	z := newZipfSampler(1_000_000, 1.1)
	st := uint64(1)
	var sink uint64
	b.ReportAllocs()
	for b.Loop() {
		sink += z.sample(&st)
	}
	_ = sink
}

func BenchmarkNewGenerator(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewGenerator(GeneratorConfig{Keys: 1_000_000}); err != nil {
			b.Fatal(err)
		}
	}
}
