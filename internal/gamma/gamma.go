// Package gamma gives the regularized incomplete gamma functions that
// shedding's gamma quantiles and the sampling tests' chi-square tails are
// built from.
package gamma

import "math"

// P returns the regularized lower incomplete gamma function P(a, x) for
// a > 0, x >= 0.
func P(a, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case math.IsInf(x, 1):
		return 1
	}
	front, t, cf := terms(a, x)
	if !cf {
		return min(t*front, 1)
	}
	return max(1-front*t, 0)
}

// Q returns the regularized upper incomplete gamma function
// Q(a, x) = 1 - P(a, x) for a > 0, x >= 0, without P's cancellation in
// the upper tail.
func Q(a, x float64) float64 {
	switch {
	case x <= 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	}
	front, t, cf := terms(a, x)
	if !cf {
		return max(1-front*t, 0)
	}
	return min(front*t, 1)
}

// terms returns x^a·e^-x/Γ(a) and, for x < a+1, the series with
// P = front·t, else (cf true) the continued fraction with Q = front·t, by
// the modified Lentz method (Press et al., Numerical Recipes, 3rd ed.,
// Sect. 6.2, eqs. 6.2.5 and 6.2.7). Each converges in O(sqrt(a)) terms
// where x is near a.
func terms(a, x float64) (front, t float64, cf bool) {
	lg, _ := math.Lgamma(a)
	front = math.Exp(a*math.Log(x) - x - lg)
	if x < a+1 {
		sum, del := 1/a, 1/a
		for n := 1.0; n < 1e7; n++ {
			del *= x / (a + n)
			sum += del
			if math.Abs(del) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return front, sum, false
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
	return front, h, true
}
