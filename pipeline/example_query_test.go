package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// QueryAs hands each instance over as its own type: merging the
// instances' TopK sketches needs no type assertion.
func ExampleQueryAs() {
	g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 1, Keys: 1000, Count: 50000})
	if err != nil {
		panic(err)
	}
	p, err := pipeline.New([]pipeline.Source{g}, []pipeline.Stage{{
		Name: "top", Input: pipeline.ByKey, Parallelism: 3,
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
	err = pipeline.QueryAs(p, 0, func(_ int, op *pipeline.HeavyHitters) error {
		return merged.Merge(op.TopK)
	})
	fmt.Println("records:", merged.Total(), err)
	err = pipeline.QueryAs(p, 0, func(_ int, op *pipeline.Distinct) error { return nil })
	fmt.Println(errors.Is(err, pipeline.ErrOperatorType))
	fmt.Println(errors.Is(p.Query(5, nil), pipeline.ErrNoStage))
	// Output:
	// records: 50000 <nil>
	// true
	// true
}

// RestartConfig retries a failed job from its newest checkpoint, tells
// OnFailure of each failure, and returns the pipeline that finished, to
// query.
func ExampleRestartConfig() {
	attempts := 0
	build := func() (*pipeline.Pipeline, error) {
		attempts++
		g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 1, Keys: 1000, Count: 10000})
		if err != nil {
			return nil, err
		}
		first := attempts == 1
		return pipeline.New([]pipeline.Source{g}, []pipeline.Stage{{
			Name: "flaky",
			New: func(int) (pipeline.Operator, error) {
				return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
					if first {
						return errors.New("disk on fire")
					}
					return nil
				}), nil
			},
		}}, pipeline.Config{})
	}
	p, err := pipeline.RestartConfig{
		Strategy: &pipeline.FixedDelay{Attempts: 3, Delay: time.Millisecond},
		OnFailure: func(attempt int, err error) {
			fmt.Printf("attempt %d failed: %v\n", attempt, err)
		},
	}.Run(context.Background(), build)
	fmt.Println("finished:", err, p.Metrics().Operators[0].RecordsIn)
	// Output:
	// attempt 1 failed: pipeline: flaky[0]: disk on fire
	// finished: <nil> 10000
}
