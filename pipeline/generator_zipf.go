package pipeline

import (
	"math"

	"github.com/streamstat/streamstat/internal/hashmix"
)

// zipfHead is the number of top ranks drawn from an alias table. Over it a
// draw costs a table lookup; beyond it, rejection-inversion costs an Exp and
// a Log. With s = 1.1 and a million keys the head holds 84% of the mass.
// The table takes 12 bytes per rank.
const zipfHead = 1 << 14

// zipfSampler draws ranks k in [0, n) with P(k) proportional to (k+1)^-q,
// exactly (up to float64 rounding): the head ranks from a Walker alias table
// (Vose's construction, "A linear algorithm for generating random numbers
// with a given distribution", IEEE TSE 17(9), 1991), the tail by
// rejection-inversion (Hörmann and Derflinger, "Rejection-inversion to
// generate variates from monotone discrete distributions", ACM TOMACS 6(3),
// 1996), ported from math/rand/v2's Zipf with v = head+1 so that tail rank
// head+j has weight (head+1+j)^-q. The head's share of the mass needs the
// tail's total weight, a sum up to n terms; the Euler–Maclaurin formula
// gives it in O(1), with an error below 1e-20 relative for a tail starting
// past rank 2^14.
//
// A sampler is read-only after newZipfSampler; the random state lives with
// the caller, so one sampler could serve several generators.
type zipfSampler struct {
	n     uint64
	head  int
	pHead float64   // probability of a head rank
	prob  []float64 // alias table: keep column j with probability prob[j]
	alias []uint32

	// Rejection-inversion over tail ranks, named as in math/rand/v2.
	q, v, imax, oneminusQ, oneminusQinv, hxm, hx0minusHxm, s float64
}

func newZipfSampler(n uint64, q float64) *zipfSampler {
	z := &zipfSampler{n: n, head: int(min(n, zipfHead))}
	w := make([]float64, z.head)
	var wHead float64
	for k := z.head - 1; k >= 0; k-- { // smallest first, for accuracy
		w[k] = math.Pow(float64(k+1), -q)
		wHead += w[k]
	}
	z.buildAlias(w, wHead)
	z.pHead = 1
	if n > uint64(z.head) {
		wTail := zipfTailSum(float64(z.head+1), float64(n), q)
		z.pHead = wHead / (wHead + wTail)
		z.q, z.v, z.imax = q, float64(z.head+1), float64(n-1-uint64(z.head))
		z.oneminusQ = 1 - q
		z.oneminusQinv = 1 / z.oneminusQ
		z.hxm = z.h(z.imax + 0.5)
		z.hx0minusHxm = z.h(0.5) - math.Exp(math.Log(z.v)*(-q)) - z.hxm
		z.s = 1 - z.hinv(z.h(1.5)-math.Exp(-q*math.Log(z.v+1)))
	}
	return z
}

// buildAlias fills the alias table for weights w summing to total.
func (z *zipfSampler) buildAlias(w []float64, total float64) {
	m := len(w)
	z.prob = make([]float64, m)
	z.alias = make([]uint32, m)
	small := make([]int, 0, m)
	large := make([]int, 0, m)
	for j, x := range w {
		z.prob[j] = x * float64(m) / total
		if z.prob[j] < 1 {
			small = append(small, j)
		} else {
			large = append(large, j)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		z.alias[l] = uint32(g)
		z.prob[g] += z.prob[l] - 1
		if z.prob[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// What is left is 1 up to rounding.
	for _, j := range large {
		z.prob[j] = 1
	}
	for _, j := range small {
		z.prob[j] = 1
	}
}

// zipfTailSum is the sum of x^-q for integers x in [a, b], by the
// Euler–Maclaurin formula to the third derivative. The next term is of
// order q^5 a^(-q-5), negligible for a > 2^14.
func zipfTailSum(a, b, q float64) float64 {
	f := func(x float64) float64 { return math.Pow(x, -q) }
	d1 := func(x float64) float64 { return -q * math.Pow(x, -q-1) }
	d3 := func(x float64) float64 { return -q * (q + 1) * (q + 2) * math.Pow(x, -q-3) }
	// The integral (a^(1-q) - b^(1-q))/(q-1), written so that it does not
	// cancel when b is near a or q near 1.
	integral := -math.Pow(a, 1-q) * math.Expm1((1-q)*math.Log1p((b-a)/a)) / (q - 1)
	return integral + (f(a)+f(b))/2 + (d1(b)-d1(a))/12 - (d3(b)-d3(a))/720
}

func (z *zipfSampler) h(x float64) float64 {
	return math.Exp(z.oneminusQ*math.Log(z.v+x)) * z.oneminusQinv
}

func (z *zipfSampler) hinv(x float64) float64 {
	return math.Exp(z.oneminusQinv*math.Log(z.oneminusQ*x)) - z.v
}

// sample draws a rank, taking uniforms from the SplitMix64 stream at *st.
func (z *zipfSampler) sample(st *uint64) uint64 {
	u := uniform(st)
	if u < z.pHead {
		// u/pHead is uniform on [0, 1): its integer part times head picks
		// the column, its fraction decides between column and alias.
		x := u / z.pHead * float64(z.head)
		j := min(int(x), z.head-1)
		if x-float64(j) < z.prob[j] {
			return uint64(j)
		}
		return uint64(z.alias[j])
	}
	for {
		ur := z.hxm + uniform(st)*z.hx0minusHxm
		x := z.hinv(ur)
		k := math.Floor(x + 0.5)
		if k-x <= z.s || ur >= z.h(k+0.5)-math.Exp(-math.Log(k+z.v)*z.q) {
			return uint64(z.head) + min(uint64(k), uint64(z.imax))
		}
	}
}

// uniform advances the SplitMix64 stream at *st and returns a float64
// uniform on [0, 1) from its top 53 bits.
func uniform(st *uint64) float64 {
	*st += 0x9e3779b97f4a7c15
	return float64(hashmix.SplitMix64(*st)>>11) * 0x1p-53
}
