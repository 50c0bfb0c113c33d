package shedding_test

import (
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// Key-hash shedding at a keep probability that changes over time keeps
// whole keys; a plain HLL fed the kept keys, read with HLLDistinct and
// the smallest p, counts the distinct keys of the stream.
func ExampleHLLDistinct() {
	h, _ := sketch.NewHLL(14)
	minP := 1.0
	for _, p := range []float64{1, 0.5, 0.25, 0.5} { // four periods
		minP = min(minP, p) // a Group's Summary().MinP in a pipeline
		for i := range 200_000 {
			key := "user-" + strconv.Itoa(i%150_000) // 150000 users
			if x := sketch.HashString(key); shedding.KeepKey(x, p) {
				h.AddHash(x)
			}
		}
	}
	e, cover, _ := shedding.HLLDistinct(h, minP, 0.95)
	fmt.Printf("read from %.0f%% of the registers\n", 100*cover)
	fmt.Printf("distinct: %.0f, 95%% in [%.0f, %.0f] (truth 150000)\n", e.Value, e.Lower, e.Upper)
	// Output:
	// read from 25% of the registers
	// distinct: 150002, 95% in [145362, 154791] (truth 150000)
}
