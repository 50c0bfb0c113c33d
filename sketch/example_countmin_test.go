package sketch_test

import (
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

func ExampleCountMin() {
	// Overestimate by at most 0.1% of the stream with probability 99%.
	clicks, err := sketch.NewCountMin(0.001, 0.01)
	if err != nil {
		panic(err)
	}
	for i := range 100000 {
		page := "/page/" + strconv.Itoa(i%1000) // 100 clicks on each of 1000 pages
		if i%10 == 0 {
			page = "/home" // and 10000 on the home page
		}
		// Hash once at ingress; pass the hash to every sketch.
		clicks.AddHash(sketch.HashString(page), 1)
	}
	home := clicks.EstimateString("/home")
	fmt.Printf("/home: %.0f clicks, at least %.0f with probability %.3f\n", home.Value, home.Lower, home.Confidence)
	fmt.Println("/never-seen:", clicks.EstimateString("/never-seen"))

	// Per-shard sketches of the same shape merge.
	shard, _ := sketch.NewCountMin(0.001, 0.01)
	shard.AddString("/home", 500) // weighted add
	if err := clicks.Merge(shard); err != nil {
		panic(err)
	}
	fmt.Println("total after merge:", clicks.Total())
	// Output:
	// /home: 10000 clicks, at least 9941 with probability 0.993
	// /never-seen: 0 (exact)
	// total after merge: 100500
}
