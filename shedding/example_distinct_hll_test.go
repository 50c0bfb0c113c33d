package shedding_test

import (
	"fmt"
	"strconv"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// A Window of DistinctHLLs counts each minute's distinct users (40000)
// under key-hash shedding: each window is read with HLLDistinct at the
// smallest p so far, at most the smallest in force while it was open
// (the first minute, kept whole, closes when the second, at 0.25, has
// begun: it is read from a quarter of its registers).
func ExampleDistinctHLL() {
	minP := 1.0 // a Group's Summary().MinP in a pipeline
	w := &pipeline.Window{
		New: func() (pipeline.Mergeable, error) {
			h, err := sketch.NewHLL(14)
			return &shedding.DistinctHLL{HLL: h}, err
		},
		Size: time.Minute, EventTime: true,
		OnWindow: func(a pipeline.WindowAnswer) error {
			e, _, err := shedding.HLLDistinct(a.Op.(*shedding.DistinctHLL).HLL, minP, 0.95)
			fmt.Printf("%s: %.0f distinct, 95%% in [%.0f, %.0f]\n", a.Start.Format("15:04"), e.Value, e.Lower, e.Upper)
			return err
		},
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for m, p := range []float64{1, 0.25, 0.5} { // the keep probability of each minute
		minP = min(minP, p)
		b := new(pipeline.Batch)
		for i := range 60_000 {
			key := []byte("user-" + strconv.Itoa(m*10_000+i%40_000)) // 40000 users a minute
			if x := sketch.Hash(key); shedding.KeepKey(x, p) {
				r := b.AddHashed(key, x)
				r.Time, r.KeepP = t0.Add(time.Duration(m)*time.Minute+time.Duration(i)*time.Millisecond).UnixNano(), float32(p)
			}
		}
		if err := w.Process(b, new(pipeline.Batch)); err != nil {
			fmt.Println(err)
		}
	}
	_ = w.Advance(t0.Add(5 * time.Minute))
	// Output:
	// 12:00: 40175 distinct, 95% in [38934, 41451]
	// 12:01: 39512 distinct, 95% in [38290, 40768]
	// 12:02: 39718 distinct, 95% in [38490, 40980]
}
