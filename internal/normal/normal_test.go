package normal

import (
	"math"
	"testing"
)

func TestZ(t *testing.T) {
	for _, tc := range []struct{ c, z float64 }{
		{0.6826894921370859, 1},
		{0.95, 1.959963984540054},
		{0.99, 2.5758293035489004},
	} {
		if got := Z(tc.c); math.Abs(got-tc.z) > 1e-12 {
			t.Errorf("Z(%v) = %v, want %v", tc.c, got, tc.z)
		}
	}
}
