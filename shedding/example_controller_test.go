package shedding_test

import (
	"fmt"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// The controller is a pure function of what it is told, so it runs on a
// fake clock. Here a source offers one batch a millisecond to a channel of
// 10 buffers whose receiver takes 100 records a millisecond: 200 records a
// batch for half a second (2x overload), then 50.
func ExampleController() {
	c, _ := shedding.NewController(shedding.ControllerConfig{})
	now := time.Unix(0, 0)
	var pr pipeline.Pressure
	var queue []int // batches sent, not yet processed
	for ms := 1; ms <= 1000; ms++ {
		now = now.Add(time.Millisecond)
		pr.Buffers, pr.Backlog, pr.InFlight = 10, max(len(queue)-1, 0), len(queue)+1
		p := c.Update(now, pr)
		offered := 200
		if ms > 500 {
			offered = 50
		}
		kept := int(float64(offered) * p)
		if len(queue) < 9 {
			queue = append(queue, kept)
			pr.Records += uint64(kept)
		} else {
			pr.BackPressured += time.Millisecond // no credit: the source waits
		}
		c.Observed(offered, kept)
		for work := 100; work > 0 && len(queue) > 0; { // the receiver
			n := min(work, queue[0])
			queue[0] -= n
			work -= n
			if queue[0] == 0 {
				queue = queue[1:]
			}
		}
		if ms%250 == 0 {
			lambda, mu := c.Rates()
			fmt.Printf("%4d ms: p %.2f, arrival %3.0fk/s, capacity %3.0fk/s\n", ms, p, lambda/1e3, mu/1e3)
		}
	}
	// Output:
	// 250 ms: p 0.51, arrival 200k/s, capacity 100k/s
	//  500 ms: p 0.49, arrival 200k/s, capacity 100k/s
	//  750 ms: p 1.00, arrival  64k/s, capacity 100k/s
	// 1000 ms: p 1.00, arrival  51k/s, capacity 100k/s
}
