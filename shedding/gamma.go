package shedding

import (
	"math"

	"github.com/streamstat/streamstat/internal/gamma"
	"github.com/streamstat/streamstat/internal/normal"
)

// Gamma quantiles for WeightedCount's bounds (see its EstimateAt).

// gammaQuantile returns the q-quantile, q in (0, 1), of the gamma
// distribution of shape a > 0 and scale 1. Above shape 1e5 it is the
// Wilson–Hilferty cube-root approximation (Wilson and Hilferty, PNAS 17,
// 1931), whose relative error there is below 1e-6 at the quantiles used;
// below, bisection on gamma.P from a bracket around that approximation,
// to a relative 1e-10 (or 400 halvings). P converges in O(sqrt(a)) terms
// where x is near a, the only place quantiles look.
func gammaQuantile(q, a float64) float64 {
	z := normal.Z(2*q - 1) // the standard normal q-quantile
	c := 1 / (9 * a)
	wh := a * math.Pow(max(1-c+z*math.Sqrt(c), 0), 3)
	if a > 1e5 {
		return wh
	}
	lo, hi := 0.0, max(wh, a, 1)
	for gamma.P(a, hi) < q {
		lo, hi = hi, 2*hi
	}
	if wh > 0 && wh < hi && gamma.P(a, wh) < q {
		lo = wh
	}
	// The iteration cap only matters for quantiles below 1e-100 (tiny
	// shapes), which no bound here asks for.
	for range 400 {
		if hi-lo <= 1e-10*hi {
			break
		}
		mid := lo + (hi-lo)/2
		if gamma.P(a, mid) < q {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + (hi-lo)/2
}
