package sketch_test

import (
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

func ExampleHLL() {
	visitors, err := sketch.NewHLL(14)
	if err != nil {
		panic(err)
	}
	for i := range 100000 {
		// Hash once at ingress; pass the hash to every sketch.
		visitors.AddHash(sketch.HashString("user-" + strconv.Itoa(i%25000)))
	}
	e := visitors.Estimate()
	fmt.Printf("about %.0fk distinct, 95%% bounds hold the truth: %v\n", e.Value/1000, e.Contains(25000))

	// Sketches from other shards merge; different precisions fold down.
	shard, _ := sketch.NewHLL(12)
	shard.AddString("user-999999")
	if err := visitors.Merge(shard); err != nil {
		panic(err)
	}
	fmt.Println("precision after merge:", visitors.Precision())
	// Output:
	// about 25k distinct, 95% bounds hold the truth: true
	// precision after merge: 12
}
