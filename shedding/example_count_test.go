package shedding_test

import (
	"fmt"

	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// Integer sketches count shed records in fixed point: a record kept at p
// adds Units(p), and FromUnits reads the answer back in records. Widen adds
// the sampling error to the sketch's own bounds.
func ExampleUnits() {
	cm, _ := sketch.NewCountMin(0.001, 0.01)
	for range 300 { // 300 records of "GET /" kept at p = 0.5
		cm.AddString("GET /", shedding.Units(0.5))
	}
	e := shedding.FromUnits(cm.EstimateStringAt("GET /", 0.975))
	sum := shedding.Summary{Seen: 1000, Kept: 500, Shed: 500, MinP: 0.5, MeanP: 0.5, MeanInvP: 2}
	w := shedding.Widen(e, sum.CountVariance(e.Value), 0.975)
	fmt.Printf("sketch: %.0f [%.0f, %.0f]\n", e.Value, e.Lower, e.Upper)
	fmt.Printf("with sampling error: %.0f [%.0f, %.0f] @%.2f\n", w.Value, w.Lower, w.Upper, w.Confidence)
	// Output:
	// sketch: 600 [600, 600]
	// with sampling error: 600 [545, 655] @0.95
}

// A WeightedCount estimates how many records were offered from those kept,
// whatever p each was kept at.
func ExampleWeightedCount() {
	var w shedding.WeightedCount
	w.AddN(1000, 1)  // a quiet period: nothing shed
	w.AddN(500, 0.5) // overload: half shed
	w.AddN(100, 0.1)
	e := w.Estimate()
	fmt.Printf("%d kept, %.0f offered, 95%% in [%.0f, %.0f]\n", w.Kept(), e.Value, e.Lower, e.Upper)
	// Output:
	// 1600 kept, 3000 offered, 95% in [2809, 3212]
}
