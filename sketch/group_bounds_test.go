package sketch

import (
	"math"
	"testing"
	"time"
)

// TestGroupBoundsTerminate: the exact binomial bounds end for every
// retained count and rate, and bracket the estimate.
// The bisection once started from a fractional end (2(c+1)/theta) and
// looped forever when its midpoint rounded down onto that end: c = 3 at
// theta 0.41 hung distinct --by.
func TestGroupBoundsTerminate(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := 0.0; c <= 40; c++ {
			for th := 0.003; th < 1; th += 0.0137 {
				for _, theta := range []float64{th, 0.4099999999, math.Float64frombits(0x3fda3d2c3c3a18ab)} {
					lo, hi := groupBounds(c, theta, 0.05)
					if lo > c/theta || hi < c/theta || lo < c {
						t.Errorf("c %v theta %v: bounds [%v, %v] around %v", c, theta, lo, hi, c/theta)
					}
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("groupBounds did not return within a minute")
	}
}
