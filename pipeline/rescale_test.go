package pipeline

import (
	"fmt"
	"math"
	"testing"

	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// TestMergeBinary: for each Mergeable operator, two instances fed the two
// halves of a stream, one merged into the other through MergeBinary,
// answer as one instance fed the whole stream.
func TestMergeBinary(t *testing.T) {
	keys := zipfKeys(20_000, 9)
	feed := func(op Operator, from, to int) {
		var b Batch
		for i := from; i < to; i++ {
			r := b.Add(keys[i])
			r.Value, r.HasValue = float64(i%97), i%5 != 0
		}
		if err := op.Process(&b, new(Batch)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		make   func() Mergeable
		answer func(Mergeable) string
	}{
		{"Distinct", func() Mergeable { h, _ := sketch.NewHLL(12); return &Distinct{HLL: h} },
			func(m Mergeable) string { e := m.(*Distinct).HLL.Estimate(); return fmt.Sprintf("%v", e) }},
		{"Frequency", func() Mergeable {
			c, _ := sketch.NewCountMinWidthDepth(256, 3)
			c.SetConservative(false)
			return &Frequency{CM: c}
		}, func(m Mergeable) string { b, _ := m.MarshalBinary(); return string(b) }},
		{"HeavyHitters", func() Mergeable { k, _ := sketch.NewTopK(64); return &HeavyHitters{TopK: k} },
			func(m Mergeable) string {
				k := m.(*HeavyHitters).TopK
				return fmt.Sprintf("%d %s", k.Total(), k.Top(1)[0].Key)
			}},
		{"Stats", func() Mergeable {
			q, _ := sampling.NewKLL(200, 1)
			return &Stats{Moments: new(sampling.Moments), Quantiles: q}
		}, func(m Mergeable) string {
			s := m.(*Stats)
			return fmt.Sprintf("%d %d %.9f %d", s.Moments.Count(), s.Missing, math.Round(s.Moments.Mean()*1e6)/1e6, s.Quantiles.Count())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			whole, a, b := tc.make(), tc.make(), tc.make()
			feed(whole, 0, len(keys))
			feed(a, 0, len(keys)/3)
			feed(b, len(keys)/3, len(keys))
			state, err := b.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := a.MergeBinary(state); err != nil {
				t.Fatal(err)
			}
			if got, want := tc.answer(a), tc.answer(whole); got != want {
				t.Errorf("merged answer %q, whole stream %q", got, want)
			}
			if err := a.MergeBinary(state[:len(state)/2]); err == nil {
				t.Error("MergeBinary of a truncated state succeeded")
			}
		})
	}
}
