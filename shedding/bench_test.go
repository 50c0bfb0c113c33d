package shedding

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// BenchmarkShed: one batch of 1024 records through Shed, controller
// included, at p = 1 and under overload; ns/record is the cost of a
// decision.
func BenchmarkShed(b *testing.B) {
	for _, policy := range []Policy{Random, KeyHash, Priority} {
		for _, p := range []float64{1, 0.3} {
			b.Run(fmt.Sprintf("%v/p=%g", policy, p), func(b *testing.B) {
				s := newTestShedder(b, Config{Policy: policy, Score: byValue})
				s.ctrl.st.p = Quantize(p)
				s.ctrl.cfg.Fixed = Quantize(p)
				var src, batch pipeline.Batch
				fillBatch(&src, 1024, 100_000, pcg(1), 0)
				b.ReportAllocs()
				b.SetBytes(int64(src.Bytes()))
				for b.Loop() {
					batch.Reset()
					batch.Records = append(batch.Records, src.Records...)
					s.Shed(&batch, t0, pipeline.Pressure{})
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1024), "ns/record")
			})
		}
	}
}

// BenchmarkControllerUpdate: a decision per batch, a tick every call.
func BenchmarkControllerUpdate(b *testing.B) {
	c, _ := NewController(ControllerConfig{})
	now := t0
	pr := pipeline.Pressure{Buffers: 10, Backlog: 5, InFlight: 7}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(11 * time.Millisecond)
		pr.Records += 1000
		c.Update(now, pr)
		c.Observed(2000, 1000)
	}
}

func BenchmarkThetaAddHash(b *testing.B) {
	th, _ := NewThetaDistinct(DefaultThetaK)
	r := pcg(1)
	hs := make([]uint64, 1<<16)
	for i := range hs {
		hs[i] = r.Uint64()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		th.AddHashP(hs[i&(len(hs)-1)], 0.5)
		i++
	}
}

func fullTheta(b *testing.B, seed uint64) *ThetaDistinct {
	th, _ := NewThetaDistinct(DefaultThetaK)
	r := pcg(seed)
	for range 100_000 {
		th.AddHash(r.Uint64())
	}
	return th
}

func BenchmarkThetaEstimate(b *testing.B) {
	th := fullTheta(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		_ = th.Estimate()
	}
}

func BenchmarkThetaMerge(b *testing.B) {
	x, y := fullTheta(b, 1), fullTheta(b, 2)
	b.ReportAllocs()
	for b.Loop() {
		c := x.Clone()
		if err := c.Merge(y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkThetaMarshal(b *testing.B) {
	th := fullTheta(b, 1)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = th.AppendBinary(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkThetaUnmarshal(b *testing.B) {
	enc := encode(b, fullTheta(b, 1))
	var th ThetaDistinct
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := th.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkShedStateMarshal(b *testing.B) {
	s := warmShedder(b, Priority, 0)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkShedStateUnmarshal(b *testing.B) {
	enc := marshal(b, warmShedder(b, Priority, 0))
	s := newTestShedder(b, Config{Policy: Priority, Score: byValue, Window: 64})
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWeightedCount(b *testing.B) {
	var w WeightedCount
	b.ReportAllocs()
	for b.Loop() {
		w.Add(0.3)
	}
	_ = w.Estimate()
}
