package shedding

import (
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sampling"
)

func wantNoAllocs(t *testing.T, what string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, f); n != 0 {
		t.Errorf("%s: got %v allocation(s) (want zero)", what, n)
	}
}

func TestShedAllocatesNothing(t *testing.T) {
	for _, policy := range []Policy{Random, KeyHash, Priority} {
		t.Run(policy.String(), func(t *testing.T) {
			s := newTestShedder(t, Config{Policy: policy, Score: byValue})
			var src, b pipeline.Batch
			fillBatch(&src, 256, 1000, pcg(1), 0)
			clk := newClock()
			pr := pipeline.Pressure{Buffers: 10, Backlog: 9, InFlight: 10}
			i := 0
			wantNoAllocs(t, "Shed", func() {
				b.Reset()
				for j := range src.Records {
					b.AddRecord(&src, j)
				}
				// Every call closes a tick under overload, so p (and the
				// epoch log) change all the time.
				clk.Advance(20 * time.Millisecond)
				pr.BackPressured += 15 * time.Millisecond
				pr.Records += 100
				i++
				s.Shed(&b, clk.Now(), pr)
			})
			if s.P() == 1 {
				t.Error("the test never shed")
			}
		})
	}
}

func TestEstimatorsAllocateNothing(t *testing.T) {
	th, _ := NewThetaDistinct(256)
	r := pcg(2)
	for range 10_000 {
		th.AddHashP(r.Uint64(), 0.5)
	}
	wantNoAllocs(t, "ThetaDistinct.AddHashP", func() {
		th.AddHashP(r.Uint64(), 0.5)
	})
	wantNoAllocs(t, "ThetaDistinct.Estimate", func() { _ = th.Estimate() })
	var w WeightedCount
	wantNoAllocs(t, "WeightedCount.Add", func() { w.Add(0.25) })
	wr, _ := sampling.NewWeightedReservoir[uint64](16, 1)
	for range 100 {
		AddSample(wr, 1, 0.5)
	}
	wantNoAllocs(t, "AddSample", func() { AddSample(wr, r.Uint64(), 0.5) })
}
