// Package normal gives the standard normal quantiles the estimators' bounds
// are built from.
package normal

import "math"

// Z returns the two-sided standard normal quantile for confidence c in
// (0, 1): the z with P(|N(0,1)| <= z) = c, 1.96 for 0.95.
func Z(c float64) float64 { return math.Sqrt2 * math.Erfinv(c) }
