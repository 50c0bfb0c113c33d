package shedding_test

import (
	"context"
	"fmt"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// A Group gives every source of a pipeline its shedder. Operators see only
// the records kept, each with the keep probability it was kept at, and
// scale what they count by it.
func ExampleGroup() {
	// Shed at a fixed p = 1/4 here; leave Fixed 0 to let the controller
	// shed only under overload.
	g, err := shedding.NewGroup(shedding.Config{
		Policy:     shedding.Random,
		Controller: shedding.ControllerConfig{Fixed: 0.25},
	})
	if err != nil {
		panic(err)
	}
	gen, _ := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 1, Count: 100_000})
	var count shedding.WeightedCount
	p, _ := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{
		Name: "count",
		New: func(int) (pipeline.Operator, error) {
			return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
				for i := range in.Records {
					count.Add(in.Records[i].KeepP)
				}
				return nil
			}), nil
		},
	}}, pipeline.Config{NewShedder: g.NewShedder})
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	e := count.Estimate()
	fmt.Println(g.Summary())
	fmt.Printf("records: %.0f, 95%% in [%.0f, %.0f]\n", e.Value, e.Lower, e.Upper)
	// Output:
	// shed 75194 of 100000 records (75.2%), p min 0.25 mean 0.25
	// records: 99224, 95% in [98158, 100300]
}

// Priority shedding keeps the records a function scores highest: here the
// slowest requests, whose value is their latency. The threshold is a
// quantile of the recent scores, so the fraction kept follows p.
func ExampleShedder_priority() {
	s, err := shedding.NewShedder(shedding.Config{
		Policy:     shedding.Priority,
		Score:      func(b *pipeline.Batch, i int) float64 { return b.Records[i].Value },
		Controller: shedding.ControllerConfig{Fixed: 0.1},
	})
	if err != nil {
		panic(err)
	}
	var b pipeline.Batch
	slow, kept := 0, 0
	for batch := range 100 {
		b.Reset()
		for i := range 100 {
			r := b.Add([]byte("req"))
			r.Value = float64((batch*100 + i*37) % 1000) // latencies 0..999 ms
		}
		s.Shed(&b, time.Time{}, pipeline.Pressure{})
		for i := range b.Records {
			if b.Records[i].Value >= 900 {
				slow++
			}
			kept++
		}
	}
	fmt.Println(s.Summary())
	fmt.Printf("kept %d requests, %d of them of 900 ms or more\n", kept, slow)
	// Output:
	// shed 8966 of 10000 records (89.7%), p min 0.09999 mean 0.09999
	// kept 1034 requests, 998 of them of 900 ms or more
}
