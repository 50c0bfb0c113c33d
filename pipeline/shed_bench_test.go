package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// BenchmarkShedPerBatchCost runs TestShedPerBatchCost's job (input at
// 800,000 records/s for 2 s, an operator costing 4 ms per batch, so
// 256,000 records/s in full batches) once per iteration and reports the
// records per second that reached the operator in the second half of the
// run, against its full-batch capacity (through/capacity), the fraction
// shed, the records per batch, and how long the run took against the
// input's span (took/span: above 1 the source fell behind its input) and
// the share of the run the source waited for the operator (source-waited,
// which the test bounds).
// Run with -benchtime 3x or so.
func BenchmarkShedPerBatchCost(b *testing.B) {
	const rate, perBatch, span = 800_000, 4 * time.Millisecond, 2 * time.Second
	capacity := float64(pipeline.DefaultBatchSize) / perBatch.Seconds()
	var through, shed, perB, took, waited float64
	b.ReportAllocs()
	for b.Loop() {
		gen, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Rate: rate, Count: int64(rate * span.Seconds()), Keys: 1000})
		if err != nil {
			b.Fatal(err)
		}
		g, err := shedding.NewGroup(shedding.Config{})
		if err != nil {
			b.Fatal(err)
		}
		var got, late, batches int
		start := time.Now()
		half := start.Add(span / 2)
		pl, err := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{Name: "per-batch", New: func(int) (pipeline.Operator, error) {
			op := busyOp(0, perBatch)
			return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
				got += in.Len()
				batches++
				if time.Now().After(half) {
					late += in.Len()
				}
				return op.Process(in, out)
			}), nil
		}}}, pipeline.Config{NewShedder: g.NewShedder})
		if err != nil {
			b.Fatal(err)
		}
		if err := pl.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start).Seconds()
		m := pl.Metrics()
		waited += m.Sources[0].BackPressured.Seconds() / m.Elapsed.Seconds()
		through += float64(late) / time.Since(half).Seconds()
		shed += g.Summary().Fraction()
		perB += float64(got) / float64(max(batches, 1))
	}
	n := float64(b.N)
	b.ReportMetric(through/n, "records/s")
	b.ReportMetric(through/n/capacity, "through/capacity")
	b.ReportMetric(shed/n, "shed-fraction")
	b.ReportMetric(perB/n, "records/batch")
	b.ReportMetric(took/n/span.Seconds(), "took/span")
	b.ReportMetric(waited/n, "source-waited")
}
