package sketch

import (
	"math"

	"github.com/streamstat/streamstat/internal/normal"
)

// groupExactMax is the largest retained count whose bounds come from the
// exact binomial tails; above it Wilson's interval is within a fraction
// of a percent of them and costs nothing.
const groupExactMax = 256

// groupBounds returns bounds on n, the distinct values of a group of which
// c pairs are retained at sampling rate theta in (0, 1), at error rate
// alpha: the n for which c lies in neither alpha/2 tail of
// Binomial(n, theta). Up to groupExactMax they are the exact tails
// (Clopper and Pearson's construction, "The use of confidence or fiducial
// limits illustrated in the case of the binomial", Biometrika 26, 1934,
// with n unknown instead of the rate): the largest n with
// P(X <= c) >= alpha/2, and the smallest with P(X >= c) >= alpha/2. Above,
// Wilson's interval ("Probable inference...", JASA 22, 1927) for n with a
// continuity correction: the n with |c - n·theta| <= z·sqrt(n·theta·(1-theta)) + 1/2.
// The lower bound is at least c, the values seen.
func groupBounds(c, theta, alpha float64) (lo, hi float64) {
	if c <= groupExactMax {
		return binomialNBounds(c, theta, alpha)
	}
	s := c / theta
	lo, hi = normal.WilsonBounds(c, s, (1-theta)/theta, normal.Z(1-alpha), 0.5/theta)
	return lo, max(hi, s)
}

// binomialNBounds is groupBounds' exact part, by bisection over integer n
// on the binomial distribution function.
func binomialNBounds(c, theta, alpha float64) (lo, hi float64) {
	a := alpha / 2
	// Upper: P(X <= c | n) falls with n; find the last n where it is >= a.
	// Bisection over integers needs integer ends: with h - l > 1 the
	// midpoint then lies strictly between them.
	l, h := c, math.Ceil(math.Max(2*(c+1)/theta, c+16))
	for binomialCDF(h, c, theta) >= a {
		l, h = h, 2*h
	}
	for h-l > 1 && h-l > 1e-12*h {
		m := math.Floor(l + (h-l)/2)
		if binomialCDF(m, c, theta) >= a {
			l = m
		} else {
			h = m
		}
	}
	hi = l
	if c == 0 {
		return 0, hi
	}
	// Lower: P(X >= c | n) = 1 - P(X <= c-1 | n) rises with n; find the
	// first n >= c where it is >= a.
	l, h = c-1, hi
	for h-l > 1 && h-l > 1e-12*h {
		m := math.Floor(l + (h-l)/2)
		if 1-binomialCDF(m, c-1, theta) >= a {
			h = m
		} else {
			l = m
		}
	}
	return math.Max(h, c), math.Max(hi, c/theta)
}

// binomialCDF returns P(X <= c) for X ~ Binomial(n, theta), n >= c >= 0
// integers, summing the c+1 terms in the log domain (they underflow one
// by one for large n·theta).
func binomialCDF(n, c, theta float64) float64 {
	if c >= n {
		return 1
	}
	lp := n * math.Log1p(-theta) // log P(X = 0)
	step := math.Log(theta) - math.Log1p(-theta)
	top := lp
	terms := [groupExactMax + 1]float64{}
	for j := 0.0; j <= c; j++ {
		terms[int(j)] = lp
		top = math.Max(top, lp)
		lp += math.Log((n-j)/(j+1)) + step
	}
	var sum float64
	for j := 0; j <= int(c); j++ {
		sum += math.Exp(terms[j] - top)
	}
	return math.Min(1, math.Exp(top)*sum)
}
