package sampling_test

import (
	"fmt"
	"math"

	"github.com/streamstat/streamstat/sampling"
)

func ExampleMoments() {
	// Latencies in ms from two shards; the zero value is ready to use.
	var east, west sampling.Moments
	for _, ms := range []float64{12, 15, 11, 14, 13} {
		east.Add(ms)
	}
	for _, ms := range []float64{20, 18, 22} {
		west.Add(ms)
	}
	west.Add(math.NaN()) // kept out of the statistics, but counted

	var all sampling.Moments
	all.Merge(&east)
	all.Merge(&west)
	fmt.Printf("n=%d mean=%.2f sd=%.2f min=%g max=%g NaNs=%d\n",
		all.Count(), all.Mean(), all.StdDev(), all.Min(), all.Max(), all.NaNs())

	mean, lo, hi := all.MeanInterval(0.95)
	fmt.Printf("mean %.1f, 95%% interval [%.1f, %.1f]\n", mean, lo, hi)

	// A value seen 3 times can be added once with weight 3.
	var w sampling.Moments
	w.AddWeighted(10, 3)
	w.Add(14)
	fmt.Printf("weighted: mean=%g variance=%g\n", w.Mean(), w.Variance())
	// Output:
	// n=8 mean=15.62 sd=3.96 min=11 max=22 NaNs=1
	// mean 15.6, 95% interval [12.3, 18.9]
	// weighted: mean=11 variance=4
}
