package flowcontrol_test

import (
	"fmt"
	"time"

	"github.com/streamstat/streamstat/flowcontrol"
)

func ExampleDebloater() {
	d, err := flowcontrol.NewDebloater(flowcontrol.DebloatConfig{
		Target:   time.Second, // in-flight data should drain within 1s
		MinBatch: 64, MaxBatch: 8192,
	})
	if err != nil {
		panic(err)
	}
	start := time.Unix(0, 0)
	const inFlight = 10 // buffers in flight
	d.Observe(start, 0, inFlight)
	// The receiver drains 50,000 records/s, then slows to 5,000/s: the
	// smoothed throughput follows over a few dozen samples, and the batch
	// size moves in steps of at least 25% (the threshold) towards
	// throughput * target / inFlight.
	for s := 1; s <= 60; s++ {
		rate := 50_000
		if s > 20 {
			rate = 5_000
		}
		size := d.Observe(start.Add(time.Duration(s)*time.Second), rate, inFlight)
		if s%20 == 0 {
			fmt.Printf("after %2ds: %6.0f records/s -> batches of %d\n", s, d.Throughput(), size)
		}
	}
	// Output:
	// after 20s:  50000 records/s -> batches of 5000
	// after 40s:  11080 records/s -> batches of 1321
	// after 60s:   5821 records/s -> batches of 702
}
