package shedding_test

import (
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// TopKeys counts records never shed 1 each and shed ones as 1/p; its TopK
// is in units of 1/Unit record, read back with TopItems.
func ExampleTopKeys() {
	op := &shedding.TopKeys{}
	var b pipeline.Batch
	for range 3 {
		b.Add([]byte("a")) // never shed
	}
	b.Add([]byte("b")).KeepP = 0.25 // stands for 4 records
	if err := op.Process(&b, nil); err != nil {
		panic(err)
	}
	s := shedding.Summary{Seen: 7, Kept: 4, Shed: 3, MinP: 0.25, MeanP: 1, MeanInvP: 1}
	for _, it := range shedding.TopItems(op.TopK(), 2, s, 0.95) {
		fmt.Println(it.Key, it.Count.Value)
	}
	// Output:
	// b 4
	// a 3
}
