package pipeline_test

import (
	"context"
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
)

// A Generator of Zipf keys is deterministic: the same seed gives the same
// stream, and a generator set to a position resumes it exactly.
func ExampleGenerator() {
	cfg := pipeline.GeneratorConfig{Seed: 42, Keys: 100, S: 1.2, Count: 8}
	g, err := pipeline.NewGenerator(cfg)
	if err != nil {
		panic(err)
	}
	var b pipeline.Batch
	g.Fill(context.Background(), &b, 5)
	for i := range b.Records {
		fmt.Print(string(b.Key(i)), " ")
	}
	fmt.Println("| position", g.Position())

	resumed, _ := pipeline.NewGenerator(cfg)
	resumed.SetPosition(g.Position())
	b.Reset()
	err = resumed.Fill(context.Background(), &b, 100)
	for i := range b.Records {
		fmt.Print(string(b.Key(i)), " ")
	}
	fmt.Println("|", err)
	// Output:
	// key-6 key-6 key-8 key-12 key-2 | position 5
	// key-1 key-1 key-26 | EOF
}
