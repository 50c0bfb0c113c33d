package shedding

import (
	"math"

	"github.com/streamstat/streamstat/internal/normal"
)

// Gamma quantiles for WeightedCount's bounds (see its EstimateAt).

// gammaP returns the regularized lower incomplete gamma function P(a, x)
// for a > 0, x >= 0: the series for x < a+1, else the continued fraction
// for Q = 1 - P by the modified Lentz method (Press et al., Numerical
// Recipes, 3rd ed., Sect. 6.2). Each converges in O(sqrt(a)) terms where
// x is near a, the only place quantiles look.
func gammaP(a, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case math.IsInf(x, 1):
		return 1
	}
	lg, _ := math.Lgamma(a)
	front := math.Exp(a*math.Log(x) - x - lg)
	if x < a+1 {
		sum, del := 1/a, 1/a
		for n := 1.0; n < 1e7; n++ {
			del *= x / (a + n)
			sum += del
			if math.Abs(del) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return min(sum*front, 1)
	}
	const tiny = 1e-300
	b := x + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1.0; i < 1e7; i++ {
		an := -i * (i - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return max(1-front*h, 0)
}

// gammaQuantile returns the q-quantile, q in (0, 1), of the gamma
// distribution of shape a > 0 and scale 1. Above shape 1e5 it is the
// Wilson–Hilferty cube-root approximation (Wilson and Hilferty, PNAS 17,
// 1931), whose relative error there is below 1e-6 at the quantiles used;
// below, bisection on gammaP from a bracket around that approximation,
// to a relative 1e-10 (or 400 halvings).
func gammaQuantile(q, a float64) float64 {
	z := normal.Z(2*q - 1) // the standard normal q-quantile
	c := 1 / (9 * a)
	wh := a * math.Pow(max(1-c+z*math.Sqrt(c), 0), 3)
	if a > 1e5 {
		return wh
	}
	lo, hi := 0.0, max(wh, a, 1)
	for gammaP(a, hi) < q {
		lo, hi = hi, 2*hi
	}
	if wh > 0 && wh < hi && gammaP(a, wh) < q {
		lo = wh
	}
	// The iteration cap only matters for quantiles below 1e-100 (tiny
	// shapes), which no bound here asks for.
	for range 400 {
		if hi-lo <= 1e-10*hi {
			break
		}
		mid := lo + (hi-lo)/2
		if gammaP(a, mid) < q {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + (hi-lo)/2
}
