package pipeline_test

import (
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// visits returns a batch of (page, user) records: 300 users visit /a,
// every third of them /b, and user u0 visits /b 50 times more.
func visits() *pipeline.Batch {
	var b pipeline.Batch
	for u := range 300 {
		user := []byte(fmt.Sprint("u", u))
		b.Add(pipeline.PairKey(nil, []byte("/a"), user))
		if u%3 == 0 {
			b.Add(pipeline.PairKey(nil, []byte("/b"), user))
		}
	}
	for range 50 {
		b.Add(pipeline.PairKey(nil, []byte("/b"), []byte("u0")))
	}
	return &b
}

func ExampleGroupHLL() {
	// Distinct visitors of every page, each page in its own sketch.
	op := &pipeline.GroupHLL{MaxBytes: 1 << 20}
	if err := op.Process(visits(), nil); err != nil {
		panic(err)
	}
	for _, g := range op.Sketch.Top(0) {
		fmt.Printf("%s: %.0f distinct visitors (exact %v)\n", g.Key, g.Estimate.Value, g.Estimate.Exact)
	}
	// Output:
	// /a: 300 distinct visitors (exact true)
	// /b: 100 distinct visitors (exact true)
}

func ExampleGroupTop() {
	// The busiest pages, and their most frequent visitors.
	op := &pipeline.GroupTop{}
	op.Pairs = new(sketch.TopK)
	if err := op.Process(visits(), nil); err != nil {
		panic(err)
	}
	for _, g := range op.Groups.Top(2) {
		fmt.Printf("%s: %d visits\n", g.Key, g.Count)
	}
	top := op.Pairs.Top(1)[0]
	parts, _ := pipeline.SplitTuple([]byte(top.Key))
	fmt.Printf("most frequent: %s on %s, %d visits\n", parts[1], parts[0], top.Count)
	// Output:
	// /a: 300 visits
	// /b: 150 visits
	// most frequent: u0 on /b, 51 visits
}
