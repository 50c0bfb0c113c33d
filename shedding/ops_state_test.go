package shedding

import (
	"bytes"
	"context"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// TestOperatorStateRoundTrip: an operator restored from its state into a
// fresh instance goes on exactly as the original: after the same further
// records, both encode to the same bytes.
func TestOperatorStateRoundTrip(t *testing.T) {
	newOps := map[string]func() pipeline.Stateful{
		"frequency": func() pipeline.Stateful {
			cm, _ := sketch.NewCountMinWidthDepth(256, 3)
			return &Frequency{CM: cm}
		},
		"heavy-hitters": func() pipeline.Stateful {
			tk, _ := sketch.NewTopK(32)
			return &HeavyHitters{TopK: tk}
		},
		"distinct": func() pipeline.Stateful {
			th, _ := NewThetaDistinct(64)
			return &Distinct{Theta: th}
		},
	}
	g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 9, Keys: 3000, S: 1.1, Count: 20000})
	if err != nil {
		t.Fatal(err)
	}
	var batches []*pipeline.Batch
	for {
		b := new(pipeline.Batch)
		err := g.Fill(context.Background(), b, 500)
		for i := range b.Records {
			b.Records[i].KeepP = float32(Quantize(0.25 + 0.5*float64(i%4)/4))
		}
		batches = append(batches, b)
		if err != nil {
			break
		}
	}
	for name, newOp := range newOps {
		t.Run(name, func(t *testing.T) {
			orig := newOp()
			for _, b := range batches[:len(batches)/2] {
				orig.Process(b, nil)
			}
			state, err := orig.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			restored := newOp()
			if err := restored.UnmarshalBinary(state); err != nil {
				t.Fatal(err)
			}
			for _, b := range batches[len(batches)/2:] {
				orig.Process(b, nil)
				restored.Process(b, nil)
			}
			a, _ := orig.MarshalBinary()
			r, _ := restored.MarshalBinary()
			if !bytes.Equal(a, r) {
				t.Fatal("the restored operator went on differently")
			}
			if err := restored.UnmarshalBinary(state[:len(state)/2]); err == nil {
				t.Error("a truncated state was accepted")
			}
		})
	}
}
