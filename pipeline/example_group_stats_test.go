package pipeline_test

import (
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

func ExampleGroupStats() {
	// Latency per endpoint, for the endpoints with the most requests:
	// 3 counters for 4 endpoints, so the rarest shares one.
	stats := &pipeline.GroupStats{Capacity: 3}
	add := func(endpoint string, ms float64, times int) {
		for range times {
			stats.Add(sketch.HashString(endpoint), []byte(endpoint), ms)
		}
	}
	add("/search", 120, 50)
	add("/home", 15, 100)
	add("/cart", 40, 30)
	add("/admin", 300, 2) // takes /cart's counter: admitted late
	add("/home", 25, 100)
	for _, g := range stats.Top(0) {
		fmt.Printf("%s: %d..%d requests, mean %.0f ms, p50 %.0f ms, late %v\n",
			g.Key, g.Lower, g.Count, g.Moments.Mean(), g.Quantiles.Quantile(0.5), g.Late)
	}
	// Output:
	// /home: 200..200 requests, mean 20 ms, p50 15 ms, late false
	// /search: 50..50 requests, mean 120 ms, p50 120 ms, late false
	// /admin: 2..32 requests, mean 300 ms, p50 300 ms, late true
}
