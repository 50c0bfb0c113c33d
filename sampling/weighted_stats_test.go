package sampling

import (
	"fmt"
	"math"
	"testing"
)

// exactInclusion returns, for successive sampling without replacement of k
// items with probabilities proportional to weights (what A-Res and A-ExpJ
// produce), each item's inclusion probability and each unordered set's
// probability (keyed by bitmask), by enumerating every ordered draw.
func exactInclusion(weights []float64, k int) (items []float64, sets map[uint64]float64) {
	items, sets = make([]float64, len(weights)), map[uint64]float64{}
	var total float64
	for _, w := range weights {
		total += w
	}
	var walk func(mask uint64, left float64, p float64, depth int)
	walk = func(mask uint64, left float64, p float64, depth int) {
		if depth == k {
			sets[mask] += p
			for i := range weights {
				if mask&(1<<i) != 0 {
					items[i] += p
				}
			}
			return
		}
		for i, w := range weights {
			if mask&(1<<i) == 0 {
				walk(mask|1<<i, left-w, p*w/left, depth+1)
			}
		}
	}
	walk(0, total, 1, 0)
	return items, sets
}

func TestExactInclusion(t *testing.T) {
	items, sets := exactInclusion([]float64{1, 1, 2}, 1)
	if items[0] != 0.25 || items[2] != 0.5 || len(sets) != 3 {
		t.Fatalf("k=1: %v %v", items, sets)
	}
	items, _ = exactInclusion([]float64{1, 1, 2}, 2)
	// item 2 is missed only if 0 then 1 or 1 then 0: 2 * 1/4 * 1/3.
	if math.Abs(items[2]-(1-2.0/12)) > 1e-15 {
		t.Fatalf("k=2: %v", items)
	}
}

func mustWeighted(t testing.TB, k int, seed uint64) *WeightedReservoir[uint64] {
	t.Helper()
	r, err := NewWeightedReservoir[uint64](k, seed)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWeightedExactInclusion compares A-ExpJ with the exact distribution of
// successive weighted sampling without replacement on small populations:
// the distribution over sets by chi-square, and each item's inclusion
// probability by a z-test at |z| < 4. Populations are fed in given and in
// reversed order, and split between two samplers that are merged, with
// unsampleable weights mixed in, which must never be drawn.
func TestWeightedExactInclusion(t *testing.T) {
	trials := 200000
	if testing.Short() {
		trials = 20000
	}
	for _, tc := range []struct {
		name    string
		weights []float64
		k       int
		order   []int // stream order of the population
		split   int   // items fed to a second sampler merged in; 0 = none
	}{
		{name: "6 items,k=2", weights: []float64{1, 2, 3, 4, 5, 6}, k: 2, order: []int{0, 1, 2, 3, 4, 5}},
		{name: "6 items,k=2,reversed", weights: []float64{1, 2, 3, 4, 5, 6}, k: 2, order: []int{5, 4, 3, 2, 1, 0}},
		{name: "6 items,k=2,merged", weights: []float64{1, 2, 3, 4, 5, 6}, k: 2, order: []int{0, 1, 2, 3, 4, 5}, split: 3},
		{name: "6 items,k=3,merged 1+5", weights: []float64{1, 2, 3, 4, 5, 6}, k: 3, order: []int{5, 0, 1, 2, 3, 4}, split: 5},
		{name: "10 skewed,k=4", weights: []float64{0.1, 1, 10, 100, 0.5, 3, 7, 0.01, 2, 50}, k: 4, order: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "10 skewed,k=4,heavy last", weights: []float64{0.1, 1, 10, 100, 0.5, 3, 7, 0.01, 2, 50}, k: 4, order: []int{7, 0, 4, 1, 8, 5, 6, 2, 9, 3}},
		{name: "10 skewed,k=4,merged", weights: []float64{0.1, 1, 10, 100, 0.5, 3, 7, 0.01, 2, 50}, k: 4, order: []int{3, 9, 2, 6, 5, 8, 1, 4, 0, 7}, split: 6},
		{name: "tiny weights,k=2", weights: []float64{1e-300, 2e-300, 3e-300, 1e-301}, k: 2, order: []int{0, 1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantItem, wantSet := exactInclusion(tc.weights, tc.k)
			a, b := mustWeighted(t, tc.k, 11), mustWeighted(t, tc.k, 12)
			const junk = 1 << 20 // an item that must never be sampled
			gotItem := make([]int, len(tc.weights))
			gotSet := map[uint64]int{}
			for range trials {
				a.Reset()
				b.Reset()
				for j, i := range tc.order {
					dst := a
					if j < tc.split {
						dst = b
					}
					dst.Add(junk, 0)
					dst.Add(uint64(i), tc.weights[i])
					dst.Add(junk, math.NaN())
				}
				if tc.split > 0 {
					if err := a.Merge(b); err != nil {
						t.Fatal(err)
					}
				}
				var mask uint64
				for _, e := range a.heap {
					if e.v == junk {
						t.Fatal("an item of unsampleable weight was sampled")
					}
					mask |= 1 << e.v
					gotItem[e.v]++
				}
				gotSet[mask]++
			}
			// Sets expected fewer than 5 times share one bin, where the
			// chi-square approximation would not hold.
			observed, expected := []int{0}, []float64{0}
			for mask, p := range wantSet {
				if e := p * float64(trials); e >= 5 {
					observed = append(observed, gotSet[mask])
					expected = append(expected, e)
				} else {
					observed[0] += gotSet[mask]
					expected[0] += e
				}
				delete(gotSet, mask)
			}
			if expected[0] < 5 {
				observed, expected = observed[1:], expected[1:]
			}
			if len(gotSet) != 0 {
				t.Fatalf("impossible sets drawn: %v", gotSet)
			}
			x := sampChiSquare(observed, expected)
			p := sampChiSquareSF(x, len(observed)-1)
			t.Logf("sets: chi-square %.1f on %d df, p = %.3f", x, len(observed)-1, p)
			if p < 0.01 {
				t.Errorf("set distribution off: chi-square %.1f on %d df, p = %.2g", x, len(observed)-1, p)
			}
			for i, p := range wantItem {
				z := (float64(gotItem[i]) - p*float64(trials)) / math.Sqrt(float64(trials)*p*(1-p))
				if math.Abs(z) > 4 {
					t.Errorf("item %d (weight %g): inclusion %.5f, exact %.5f, z = %.1f",
						i, tc.weights[i], float64(gotItem[i])/float64(trials), p, z)
				}
			}
		})
	}
}

// referenceWeighted draws k of the weights successively without replacement,
// by linear scans: slow, obviously right.
func referenceWeighted(weights []float64, k int, u func() float64, taken []bool, out []int) []int {
	clear(taken)
	out = out[:0]
	var left float64
	for _, w := range weights {
		left += w
	}
	for range k {
		x := u() * left
		i := 0
		for ; i < len(weights)-1; i++ {
			if taken[i] {
				continue
			}
			if x -= weights[i]; x < 0 {
				break
			}
		}
		for taken[i] { // rounding ran off the end: take the last free one
			i--
		}
		taken[i] = true
		left -= weights[i]
		out = append(out, i)
	}
	return out
}

// TestWeightedLongStream exercises the exponential jumps on a stream much
// longer than the sample, single and merged-then-continued, against a
// direct sampler, by weight class: a two-sample chi-square test of
// homogeneity on how often each class is in the sample.
func TestWeightedLongStream(t *testing.T) {
	const n, k = 2000, 8
	trials := 20000
	if testing.Short() {
		trials = 2000
	}
	weights := make([]float64, n)
	for i := range weights {
		weights[i] = float64(1 + i%7)
		if i%500 == 499 {
			weights[i] = 300 // a few heavy items, a class of their own
		}
	}
	classOf := func(i int) int {
		if i%500 == 499 {
			return 7
		}
		return i % 7
	}
	ref := make([]int, 8)
	rng := mustWeighted(t, 1, 99) // borrow its generator for the reference
	taken, out := make([]bool, n), make([]int, 0, k)
	for range trials {
		for _, i := range referenceWeighted(weights, k, func() float64 { return uniform(&rng.rng) }, taken, out) {
			ref[classOf(i)]++
		}
	}
	for _, split := range []int{0, 700} {
		t.Run(fmt.Sprintf("merge at %d", split), func(t *testing.T) {
			a, b := mustWeighted(t, k, 21), mustWeighted(t, k, 22)
			got := make([]int, 8)
			for range trials {
				a.Reset()
				b.Reset()
				for i, w := range weights {
					switch {
					case i < split:
						b.Add(uint64(i), w)
					case i == split && split > 0:
						if err := a.Merge(b); err != nil {
							t.Fatal(err)
						}
						fallthrough
					default:
						a.Add(uint64(i), w)
					}
				}
				for _, e := range a.heap {
					got[classOf(int(e.v))]++
				}
			}
			// Two-sample homogeneity: sum over both rows of (O-E)^2/E with E
			// from the pooled proportions; equal totals make E the mean.
			var x float64
			for c := range got {
				e := float64(got[c]+ref[c]) / 2
				x += 2 * (float64(got[c]) - e) * (float64(got[c]) - e) / e
			}
			p := sampChiSquareSF(x, len(got)-1)
			t.Logf("A-ExpJ %v\nreference %v\nchi-square %.1f on %d df, p = %.3f", got, ref, x, len(got)-1, p)
			if p < 0.01 {
				t.Errorf("A-ExpJ and the direct sampler differ: chi-square %.1f, p = %.2g", x, p)
			}
		})
	}
}
