package gamma

import (
	"fmt"
	"math"
	"testing"
)

func TestPQ(t *testing.T) {
	for _, tc := range []struct{ a, x, p float64 }{
		{1, 1, 1 - math.Exp(-1)},         // exponential
		{1, 5, 1 - math.Exp(-5)},         // continued fraction
		{0.5, 2, math.Erf(math.Sqrt(2))}, // chi-square, 1 df
		{3, 0, 0},
		{3, math.Inf(1), 1},
	} {
		t.Run(fmt.Sprintf("a=%g,x=%g", tc.a, tc.x), func(t *testing.T) {
			if got := P(tc.a, tc.x); math.Abs(got-tc.p) > 1e-12 {
				t.Errorf("P = %v, want %v", got, tc.p)
			}
			if got := Q(tc.a, tc.x); math.Abs(got-(1-tc.p)) > 1e-12 {
				t.Errorf("Q = %v, want %v", got, 1-tc.p)
			}
		})
	}
}
