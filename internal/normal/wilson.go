package normal

import "math"

// WilsonBounds returns bounds on N from an estimate s of N made from k
// kept records, when the estimate's variance is about N·v (v = (1-p)/p
// for a constant rate p) and c is half a kept record in units of N
// (1/(2p) for a constant p). They are the N with |s - N| <= z·sqrt(N·v) + c:
// a quadratic in sqrt(N) each way. This is Wilson's construction
// ("Probable inference, the law of succession, and statistical
// inference", JASA 22, 1927), the variance taken at the bound rather than
// at s, with a continuity correction. The lower bound is at least k.
// shedding's ThetaDistinct and sketch's group counts use it.
func WilsonBounds(k, s, v, z, c float64) (lo, hi float64) {
	zs := z * math.Sqrt(v)
	// x² ∓ zs·x - t = 0 for x = sqrt(N).
	root := func(t, sign float64) float64 {
		x := (sign*zs + math.Sqrt(zs*zs+4*t)) / 2
		return x * x
	}
	hi = root(s+c, 1)
	lo = k
	if s-c > 0 {
		lo = max(k, root(s-c, -1))
	}
	return lo, hi
}
