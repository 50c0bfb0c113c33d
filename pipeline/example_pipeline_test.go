package pipeline_test

import (
	"context"
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// Two generator sources feed, by key, two parallel TopK instances; the
// answer merges the instances' states.
func ExamplePipeline() {
	var sources []pipeline.Source
	for i := range int64(2) {
		// Records [50000i, 50000(i+1)) of one deterministic Zipf stream.
		g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 1, Keys: 1000, Count: 50000 * (i + 1)})
		if err != nil {
			panic(err)
		}
		if err := g.SetPosition(50000 * i); err != nil {
			panic(err)
		}
		sources = append(sources, g)
	}
	p, err := pipeline.New(sources, []pipeline.Stage{{
		Name: "top", Input: pipeline.ByKey, Parallelism: 2,
		New: func(int) (pipeline.Operator, error) {
			t, err := sketch.NewTopK(100)
			return &pipeline.HeavyHitters{TopK: t}, err
		},
	}}, pipeline.Config{})
	if err != nil {
		panic(err)
	}
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	merged, _ := sketch.NewTopK(100)
	_ = p.Query(0, func(_ int, op pipeline.Operator) error {
		return merged.Merge(op.(*pipeline.HeavyHitters).TopK)
	})
	for _, it := range merged.Top(3) {
		fmt.Println(it.Key, it.Guaranteed)
	}
	fmt.Println("records:", merged.Total())
	// Output:
	// key-0 true
	// key-1 true
	// key-2 true
	// records: 100000
}
