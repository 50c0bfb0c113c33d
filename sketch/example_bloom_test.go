package sketch_test

import (
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

func ExampleBloom() {
	// Sized for 10,000 distinct items at a 1% false-positive rate.
	seen, err := sketch.NewBloom(10000, 0.01)
	if err != nil {
		panic(err)
	}
	fmt.Printf("m=%d bits, k=%d\n", seen.Cap(), seen.K())

	// Deduplicate a stream: hash once at ingress, then ask and remember in
	// one call.
	dupes := 0
	for i := range 20000 {
		h := sketch.HashString("order-" + strconv.Itoa(i%8000))
		if seen.TestAndAddHash(h) {
			dupes++
		}
	}
	// 12,000 records repeat an earlier one; a few new ones collide with
	// earlier ones (false positives) and are dropped too.
	fmt.Println("dropped:", dupes, "false positives:", dupes-12000)
	fmt.Println("order-42 seen:", seen.TestString("order-42"))

	// The filter reports how full it is and how many distinct items it
	// holds, so an overfilled filter shows before it misleads.
	e := seen.Estimate()
	fmt.Printf("about %.0fk distinct, bounds hold the truth: %v\n", e.Value/1000, e.Contains(8000))
	fmt.Printf("false-positive rate now: %.1f%%\n", 100*seen.EstimatedFPRate())
	// Output:
	// m=95851 bits, k=7
	// dropped: 12004 false positives: 4
	// order-42 seen: true
	// about 8k distinct, bounds hold the truth: true
	// false-positive rate now: 0.3%
}
