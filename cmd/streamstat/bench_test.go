package main

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// BenchmarkDistinctOp measures, in one run, the per-record cost of
// distinct's operator in its dense phase and of pipeline.Distinct on the
// same batches, and reports their ratio.
func BenchmarkDistinctOp(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	var batch pipeline.Batch
	for range 1024 {
		batch.AddHashed(nil, rng.Uint64())
	}
	dense := func() *sketch.HLL {
		h, _ := sketch.NewHLL(14)
		for range 100000 {
			h.AddHash(rng.Uint64())
		}
		return h
	}
	fast := &distinctOp{hll: dense(), p: 14, regs: make([]uint8, 1<<14)}
	plain := &pipeline.Distinct{HLL: dense()}
	b.ReportAllocs()
	var tf, tp time.Duration
	for b.Loop() {
		t0 := time.Now()
		fast.Process(&batch, nil)
		t1 := time.Now()
		plain.Process(&batch, nil)
		tp += time.Since(t1)
		tf += t1.Sub(t0)
	}
	n := float64(b.N * batch.Len())
	b.ReportMetric(float64(tf.Nanoseconds())/n, "ns/record-fast")
	b.ReportMetric(float64(tp.Nanoseconds())/n, "ns/record-plain")
	b.ReportMetric(float64(tf)/float64(tp), "fast/plain")
}
