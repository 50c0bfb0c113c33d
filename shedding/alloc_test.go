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

// TestTopKeysAllocatesNothing: top --shed's operator allocates nothing
// per batch once both its TopKs exist, whether the batch was kept at
// p = 1 (the unit TopK), shed at p < 1 with p changing from batch to
// batch (the TopK in units) or mixed, with keys past its capacity (every
// new key evicts one).
func TestTopKeysAllocatesNothing(t *testing.T) {
	o := &TopKeys{Capacity: 256}
	batches := make([]pipeline.Batch, 8)
	for i := range batches {
		fillBatch(&batches[i], 1024, 100_000, pcg(uint64(i)), 0)
		for j := range batches[i].Records {
			switch {
			case i%3 == 0: // kept at p = 1
				batches[i].Records[j].KeepP = 1
			case i%3 == 1: // shed at a p of its own
				batches[i].Records[j].KeepP = float32(Quantize(0.5 + float64(i)/32))
			default: // mixed: the controller changed p within the batch
				batches[i].Records[j].KeepP = float32(Quantize(0.25 + float64(j%4)/4))
			}
		}
	}
	var out pipeline.Batch
	for i := range batches { // both TopKs made and full
		if err := o.Process(&batches[i], &out); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	wantNoAllocs(t, "TopKeys.Process", func() {
		_ = o.Process(&batches[i%len(batches)], &out)
		i++
	})
}

// TestDistinctProcessAllocatesNothing: distinct --shed's operator
// allocates nothing per batch once its sketch is full, whether the batch
// was kept whole (KeepP 0: the shedder at p = 1 leaves records as they
// came) or shed at a p that changes from batch to batch; and Shed at
// p = 1 neither allocates nor touches the records.
func TestDistinctProcessAllocatesNothing(t *testing.T) {
	th, _ := NewThetaDistinct(256)
	o := &Distinct{Theta: th}
	batches := make([]pipeline.Batch, 8)
	for i := range batches {
		fillBatch(&batches[i], 1024, 1_000_000, pcg(uint64(i)), 0)
		if i%2 == 1 {
			for j := range batches[i].Records {
				batches[i].Records[j].KeepP = float32(Quantize(0.5 + float64(i)/32))
			}
		}
	}
	var out pipeline.Batch
	for i := range batches {
		_ = o.Process(&batches[i], &out)
	}
	i := 0
	wantNoAllocs(t, "Distinct.Process", func() {
		_ = o.Process(&batches[i%len(batches)], &out)
		i++
	})
	s := newTestShedder(t, fixed(KeyHash, 1))
	var b pipeline.Batch
	fillBatch(&b, 1024, 1000, pcg(9), 0)
	wantNoAllocs(t, "Shed at p = 1", func() { s.Shed(&b, t0, pipeline.Pressure{}) })
	if b.Len() != 1024 || b.Records[0].KeepP != 0 {
		t.Errorf("at p = 1: kept %d of 1024, KeepP %v; want all, as they came (0)", b.Len(), b.Records[0].KeepP)
	}
}
