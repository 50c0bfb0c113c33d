package sampling_test

import (
	"fmt"

	"github.com/streamstat/streamstat/sampling"
)

// A weighted reservoir samples without replacement in proportion to weight:
// here requests weighted by their latency, so slow ones are likelier to be
// kept for inspection. Zero, negative and non-finite weights are never
// sampled.
func ExampleWeightedReservoir() {
	r, err := sampling.NewWeightedReservoir[string](2, 7)
	if err != nil {
		panic(err)
	}
	latencies := map[string]float64{"/health": 0, "/login": 12, "/search": 850, "/report": 4000}
	for _, path := range []string{"/health", "/login", "/search", "/report"} {
		for range 1000 {
			r.Add(path, latencies[path])
		}
	}
	fmt.Println(r.Count(), r.Weight())
	fmt.Println(r.Sample()) // the largest key first
	// Output:
	// 4000 4.862e+06
	// [/report /report]
}
