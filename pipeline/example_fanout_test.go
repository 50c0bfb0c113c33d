package pipeline_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// One clickstream, two questions: a fan-out reads the lines once and sends
// each down two branches, one keyed by user (field 1), one by page (field
// 2), each partitioned by its own key over two instances.
func ExampleBranch() {
	clicks := "ann /home\nbob /home\nann /cart\ncid /home\nbob /pay\nann /home\n"
	src, err := pipeline.NewLineSource(strings.NewReader(clicks), pipeline.LineConfig{})
	if err != nil {
		panic(err)
	}
	ws := pipeline.Whitespace
	p, err := pipeline.New([]pipeline.Source{src}, []pipeline.Stage{{
		Name: "clicks",
		Branches: []pipeline.Branch{
			{Name: "users", Key: pipeline.ByField(1, ws), Stages: []pipeline.Stage{{
				Name: "distinct", Input: pipeline.ByKey, Parallelism: 2,
				New: func(int) (pipeline.Operator, error) { return &pipeline.Distinct{HLL: new(sketch.HLL)}, nil },
			}}},
			{Name: "pages", Key: pipeline.ByField(2, ws), Stages: []pipeline.Stage{{
				Name: "top", Input: pipeline.ByKey, Parallelism: 2,
				New: func(int) (pipeline.Operator, error) { return &pipeline.HeavyHitters{TopK: new(sketch.TopK)}, nil },
			}}},
		},
	}}, pipeline.Config{})
	if err != nil {
		panic(err)
	}
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}

	var users sketch.HLL
	err = pipeline.QueryAs(p, p.BranchStage("users", 0), func(_ int, op *pipeline.Distinct) error {
		return users.Merge(op.HLL)
	})
	if err != nil {
		panic(err)
	}
	var pages sketch.TopK
	err = pipeline.QueryAs(p, p.BranchStage("pages", 0), func(_ int, op *pipeline.HeavyHitters) error {
		return pages.Merge(op.TopK)
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("users:", users.Estimate())
	for _, it := range pages.Top(2) {
		fmt.Println(it.Key, it.Count)
	}
	for _, b := range p.Branches() {
		fmt.Printf("branch %s: stages %v, %d records, %d skipped\n", b.Name, b.Stages, b.Records, b.Skipped)
	}
	// Output:
	// users: 3 [3, 4] @0.95
	// /home 4
	// /cart 1
	// branch users: stages [0], 6 records, 0 skipped
	// branch pages: stages [1], 6 records, 0 skipped
}

// Rekey is the re-keying step of a fan-out branch, for a linear graph:
// here the page of each "user page" line becomes the key that the next
// stage partitions by, and the value parsed by the source travels with it.
func ExampleRekey() {
	lines := "ann /home 120\nbob /cart 80\nann /home 95\nbob /home\n"
	src, err := pipeline.NewLineSource(strings.NewReader(lines), pipeline.LineConfig{ValueField: 3})
	if err != nil {
		panic(err)
	}
	sum := map[string]float64{}
	p, err := pipeline.New([]pipeline.Source{src}, []pipeline.Stage{
		{Name: "by-page", New: func(int) (pipeline.Operator, error) {
			return &pipeline.Rekey{Key: pipeline.ByField(2, pipeline.Whitespace)}, nil
		}},
		{Name: "sum", Input: pipeline.ByKey, New: func(int) (pipeline.Operator, error) {
			return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
				for i := range in.Records {
					if r := &in.Records[i]; r.HasValue {
						sum[string(in.Key(i))] += r.Value
					}
				}
				return nil
			}), nil
		}},
	}, pipeline.Config{})
	if err != nil {
		panic(err)
	}
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(sum["/home"], sum["/cart"])
	// Output:
	// 215 80
}
