package sampling

import (
	"fmt"
	"math"
	"math/bits"
	"testing"
)

// The statistical tests use fixed seeds, so they are deterministic: a
// failure is a real change in behaviour, not bad luck. Their verdict is a
// chi-square test at p > 0.01, with the chi-square tail computed by
// sampChiSquareSF (regularized incomplete gamma).

func TestSampChiSquareSF(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		df   int
		want float64
	}{
		{3.841458820694124, 1, 0.05},
		{6.634896601021214, 1, 0.01},
		{2, 2, math.Exp(-1)},
		{23.209251158954356, 10, 0.01},
		{124.34211340400407, 100, 0.05},
		{0.5, 30, 1},
		{1073.6426, 999, 0.05},
	} {
		t.Run(fmt.Sprintf("x=%g,df=%d", tc.x, tc.df), func(t *testing.T) {
			if got := sampChiSquareSF(tc.x, tc.df); math.Abs(got-tc.want) > 1e-5 {
				t.Errorf("got %.8f, want %.8f", got, tc.want)
			}
		})
	}
}

// inclusionTrials runs trials of sample(trial) and counts how often each
// item (an index below n) is in the sample.
func inclusionTrials(t *testing.T, n, trials int, sample func() []uint64) []int {
	t.Helper()
	counts := make([]int, n)
	for range trials {
		for _, v := range sample() {
			if v >= uint64(n) {
				t.Fatalf("sampled item %d outside the stream [0, %d)", v, n)
			}
			counts[v]++
		}
	}
	return counts
}

// checkUniform tests observed inclusion counts of bins of equal width against
// the uniform expectation. Counts of a without-replacement sample are
// slightly less variable than multinomial ones (by a factor 1-k/n), which
// only makes the test conservative.
func checkUniform(t *testing.T, counts []int, total float64) {
	t.Helper()
	expected := make([]float64, len(counts))
	var sum int
	for i, c := range counts {
		expected[i] = total / float64(len(counts))
		sum += c
	}
	if float64(sum) != total {
		t.Fatalf("%d inclusions, want %g", sum, total)
	}
	x := sampChiSquare(counts, expected)
	p := sampChiSquareSF(x, len(counts)-1)
	t.Logf("chi-square %.1f on %d df, p = %.3f", x, len(counts)-1, p)
	if p < 0.01 {
		t.Errorf("inclusion not uniform: chi-square %.1f on %d df, p = %.2g", x, len(counts)-1, p)
	}
}

func stream(from, to uint64, add func(uint64)) {
	for i := from; i < to; i++ {
		add(i)
	}
}

func mustReservoir(t testing.TB, k int, seed uint64) *Reservoir[uint64] {
	t.Helper()
	r, err := NewReservoir[uint64](k, seed)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReservoirUniformInclusion: every item of the stream is in the sample
// with probability k/n, for a single reservoir, one fed by AddSlice over a
// long stream, and merges of unequal disjoint streams (also continued after
// the merge, which exercises the redrawn skip state).
func TestReservoirUniformInclusion(t *testing.T) {
	trials := 20000
	if testing.Short() {
		trials = 2000
	}
	for _, tc := range []struct {
		name  string
		n, k  int
		parts []int // stream lengths merged in order; the last is added after the merges
	}{
		{name: "single/n=1000,k=10", n: 1000, k: 10, parts: []int{1000}},
		{name: "single/n=1000,k=1", n: 1000, k: 1, parts: []int{1000}},
		{name: "merge/300+700,k=10", n: 1000, k: 10, parts: []int{300, 700, 0}},
		{name: "merge/5+995,k=10", n: 1000, k: 10, parts: []int{5, 995, 0}},
		{name: "merge/995+5,k=10", n: 1000, k: 10, parts: []int{995, 5, 0}},
		{name: "merge/8+12,k=10", n: 20, k: 10, parts: []int{8, 12, 0}},
		{name: "merge/3+4,k=10", n: 7, k: 10, parts: []int{3, 4, 0}},
		{name: "merge/300+400then300,k=10", n: 1000, k: 10, parts: []int{300, 400, 300}},
		{name: "merge/4+6then990,k=10", n: 1000, k: 10, parts: []int{4, 6, 990}},
		{name: "merge/100+200+300then400,k=10", n: 1000, k: 10, parts: []int{100, 200, 300, 400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acc := mustReservoir(t, tc.k, 1)
			other := mustReservoir(t, tc.k, 2)
			counts := inclusionTrials(t, tc.n, trials, func() []uint64 {
				acc.Reset()
				var at uint64
				for i, p := range tc.parts {
					end := at + uint64(p)
					switch {
					case i == 0 || i == len(tc.parts)-1:
						stream(at, end, acc.Add)
					default:
						other.Reset()
						stream(at, end, other.Add)
						if err := acc.Merge(other); err != nil {
							t.Fatal(err)
						}
					}
					at = end
				}
				if acc.Count() != uint64(tc.n) {
					t.Fatalf("count %d, want %d", acc.Count(), tc.n)
				}
				return acc.items
			})
			checkUniform(t, counts, float64(trials*min(tc.k, tc.n)))
		})
	}
}

// TestReservoirUniformLongStream checks Algorithm L's skips over a stream
// much longer than the reservoir, fed through AddSlice (Discard and Add), in
// 100 bins of equal width.
func TestReservoirUniformLongStream(t *testing.T) {
	const n, k, bins = 100000, 50, 100
	trials := 4000
	if testing.Short() {
		trials = 400
	}
	items := make([]uint64, n)
	for i := range items {
		items[i] = uint64(i)
	}
	r := mustReservoir(t, k, 3)
	counts := make([]int, bins)
	for range trials {
		r.Reset()
		r.AddSlice(items)
		for _, v := range r.items {
			counts[v/(n/bins)]++
		}
	}
	checkUniform(t, counts, float64(trials*k))
}

// TestReservoirUniformSubsets checks the whole joint distribution on a tiny
// stream: each of the C(8,3) = 56 subsets must be equally likely, single and
// merged.
func TestReservoirUniformSubsets(t *testing.T) {
	const n, k = 8, 3
	trials := 56 * 500
	if testing.Short() {
		trials = 56 * 50
	}
	for _, split := range []int{8, 3, 5, 1} {
		t.Run(fmt.Sprintf("split=%d+%d", split, n-split), func(t *testing.T) {
			a, b := mustReservoir(t, k, 4), mustReservoir(t, k, 5)
			index := map[uint64]int{}
			for mask := range uint64(1 << n) {
				if bits.OnesCount64(mask) == k {
					index[mask] = len(index)
				}
			}
			counts := make([]int, len(index))
			for range trials {
				a.Reset()
				b.Reset()
				stream(0, uint64(split), a.Add)
				stream(uint64(split), n, b.Add)
				if err := a.Merge(b); err != nil {
					t.Fatal(err)
				}
				var mask uint64
				for _, v := range a.items {
					mask |= 1 << v
				}
				i, ok := index[mask]
				if !ok {
					t.Fatalf("sample %v is not a %d-subset", a.items, k)
				}
				counts[i]++
			}
			checkUniform(t, counts, float64(trials))
		})
	}
}
