package pipeline_test

import (
	"context"
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// A pipeline under load shedding that counts the heaviest keys: records
// kept at p stand for 1/p records, which HeavyHitters counts in fixed
// point with Unit set; shedding.TopItems turns the counts back into
// records and widens their bounds by the sampling error. (Without Unit,
// HeavyHitters refuses the shed records with ErrShedRecord instead of
// counting each once.) The generator's key-0, key-1 and key-2 are
// expected 35,888, 16,743 and 10,718 times in 200,000 records.
func ExampleHeavyHitters_shedding() {
	gen, _ := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 1, Keys: 1000, Count: 200_000})
	// Keep one record in four, whatever the load.
	g, _ := shedding.NewGroup(shedding.Config{Controller: shedding.ControllerConfig{Fixed: 0.25}})
	p, _ := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{
		Name: "top",
		New: func(int) (pipeline.Operator, error) {
			return &pipeline.HeavyHitters{Unit: shedding.Unit}, nil
		},
	}}, pipeline.Config{NewShedder: g.NewShedder})
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	sum := g.Summary()
	fmt.Println(sum)
	_ = pipeline.QueryAs(p, 0, func(_ int, op *pipeline.HeavyHitters) error {
		for _, it := range shedding.TopItems(op.TopK, 3, sum, 0.95) {
			fmt.Printf("%s: %.0f [%.0f, %.0f]\n", it.Key, it.Count.Value, it.Count.Lower, it.Count.Upper)
		}
		return nil
	})
	// Output:
	// shed 150138 of 200000 records (75.1%), p min 0.25 mean 0.25
	// key-0: 35392 [34753, 36031]
	// key-1: 16656 [16218, 17094]
	// key-2: 10508 [10160, 10856]
}
