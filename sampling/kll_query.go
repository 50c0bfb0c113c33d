package sampling

import (
	"math"
	"slices"
	"sort"
)

// KLLRankErrorConfidence is the confidence of RankError: the probability that
// a sketch answers every rank and quantile query within RankError.
const KLLRankErrorConfidence = 0.99

// kllEntry is a retained value with, in a sorted view, the total weight of
// the values up to and including it.
type kllEntry struct {
	v   float64
	cum uint64
}

// RankError is the normalized rank error eps of the sketch's answers: with
// probability KLLRankErrorConfidence, |Rank(x) - true rank of x| <= eps for
// every x at once, and the true rank of Quantile(q) lies within q ± eps. It
// is 0 while the sketch is exact (no compaction yet).
//
// eps = 2.296 / k^0.9723 is Apache DataSketches' fit to the 99th percentile
// of the maximum rank error over thousands of trials of this very algorithm
// (KllSketch.getNormalizedRankError(k, false), its "single-sided" error for
// every query but PMF): 1.33% at k = 200, 0.18% at k = 1600. The paper's
// analysis (Karnin, Lang and Liberty 2016) gives the same O(1/k) shape with a
// constant too loose to report. The test suite re-checks the constant on
// shuffled, sorted, reverse-sorted and zig-zag streams and after merges of
// many shards: it holds for merged sketches as for streamed ones.
func (s *KLL) RankError() float64 {
	if uint64(s.Retained()) == s.n {
		return 0 // every value is held with weight 1
	}
	return 2.296 / math.Pow(float64(s.K()), 0.9723)
}

// sorted returns the retained values sorted, each with the cumulative weight
// up to it, building the view once per change of the sketch: level 0 is
// sorted in place (its order is not state), then the sorted levels are
// merged in bottom-up, smallest first, in O(retained) per level.
func (s *KLL) sorted() []kllEntry {
	if s.viewOK {
		return s.view
	}
	v, tmp := s.view[:0], s.viewTmp[:0]
	l0 := s.level(0)
	slices.Sort(l0)
	for _, x := range l0 {
		v = append(v, kllEntry{x, 1})
	}
	for h := 1; h < s.numLevels; h++ {
		tmp = mergeEntries(tmp[:0], v, s.level(h), uint64(1)<<h)
		v, tmp = tmp, v
	}
	var c uint64
	for i := range v {
		c += v[i].cum
		v[i].cum = c
	}
	s.view, s.viewTmp, s.viewOK = v, tmp, true
	return v
}

// mergeEntries appends to dst the merge of the sorted entries a and the
// sorted values b, each of weight w.
func mergeEntries(dst, a []kllEntry, b []float64, w uint64) []kllEntry {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if b[j] < a[i].v {
			dst = append(dst, kllEntry{b[j], w})
			j++
		} else {
			dst = append(dst, a[i])
			i++
		}
	}
	dst = append(dst, a[i:]...)
	for _, x := range b[j:] {
		dst = append(dst, kllEntry{x, w})
	}
	return dst
}

// Quantile returns the approximate q-quantile, q in [0, 1]: the smallest
// retained value whose (estimated) inclusive rank is at least q. Quantile(0)
// and Quantile(1) are the exact minimum and maximum. It returns NaN for an
// empty sketch or a q outside [0, 1].
func (s *KLL) Quantile(q float64) float64 {
	if s.n == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	switch q {
	case 0:
		return s.min
	case 1:
		return s.max
	}
	v := s.sorted()
	// The natural rank wanted: ceil(q*n), in [1, n].
	t := uint64(math.Ceil(q * float64(s.n)))
	t = min(max(t, 1), s.n)
	i := sort.Search(len(v), func(i int) bool { return v[i].cum >= t })
	return v[i].v
}

// Quantiles returns Quantile(q) for each q in qs.
func (s *KLL) Quantiles(qs []float64) []float64 {
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = s.Quantile(q)
	}
	return out
}

// QuantileBounds returns Quantile(q) and the quantiles at q-eps and q+eps
// (clamped to [0, 1]), eps = RankError(): with probability
// KLLRankErrorConfidence the true q-quantile lies in [lower, upper].
func (s *KLL) QuantileBounds(q float64) (value, lower, upper float64) {
	value = s.Quantile(q)
	if value != value {
		return value, value, value
	}
	eps := s.RankError()
	return value, s.Quantile(max(q-eps, 0)), s.Quantile(min(q+eps, 1))
}

// Rank returns the approximate normalized inclusive rank of x: the fraction
// of the values added that are <= x. It returns NaN for an empty sketch or a
// NaN x.
func (s *KLL) Rank(x float64) float64 {
	if s.n == 0 || x != x {
		return math.NaN()
	}
	if x < s.min {
		return 0
	}
	if x >= s.max {
		return 1
	}
	v := s.sorted()
	i := sort.Search(len(v), func(i int) bool { return v[i].v > x })
	if i == 0 {
		return 0
	}
	return float64(v[i-1].cum) / float64(s.n)
}

// CDF returns Rank(x) for each x in splits: the estimated cumulative
// distribution function at those points.
func (s *KLL) CDF(splits []float64) []float64 {
	out := make([]float64, len(splits))
	for i, x := range splits {
		out[i] = s.Rank(x)
	}
	return out
}

// Min is the smallest value added, or NaN if the sketch is empty.
func (s *KLL) Min() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.min
}

// Max is the largest value added, or NaN if the sketch is empty.
func (s *KLL) Max() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.max
}
