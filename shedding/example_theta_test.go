package shedding_test

import (
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// Key-hash shedding at a keep probability that changes over time keeps
// whole keys; a ThetaDistinct counts the distinct keys of the stream from
// those kept.
func ExampleThetaDistinct() {
	var th shedding.ThetaDistinct
	for _, p := range []float64{1, 0.5, 0.25, 0.5} { // four periods
		for i := range 20_000 {
			key := "user-" + strconv.Itoa(i%15_000) // 15000 users
			h := sketch.HashString(key)
			if shedding.KeepKey(h, p) {
				th.AddHashP(h, float32(p)) // Record.KeepP in a pipeline
			}
		}
	}
	e := th.Estimate()
	fmt.Printf("theta %.2f, %d keys held\n", th.Theta(), th.Retained())
	fmt.Printf("distinct: %.0f, 95%% in [%.0f, %.0f] (truth 15000)\n", e.Value, e.Lower, e.Upper)
	// Output:
	// theta 0.25, 3689 keys held
	// distinct: 14756, 95% in [14347, 15176] (truth 15000)
}
