package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// busyOp spends perRecord of CPU per record and perBatch per batch: an
// operator of known capacity, whatever it is fed.
func busyOp(perRecord, perBatch time.Duration) pipeline.Operator {
	return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
		d := perBatch + time.Duration(in.Len())*perRecord
		for start := time.Now(); time.Since(start) < d; {
		}
		return nil
	})
}

// TestShedChainedOverload: with a shedder configured and the first stage
// left at its default (Forward, chained to the source), an input four
// times faster than the operator is shed, and the job ends about when its
// input does: the backlog, and so the latency, stays bounded. (Before, the
// operator ran chained to the source, the controller saw no channel and,
// without a configured capacity, shed nothing: the source fell behind its
// input, here by about three times the input's duration.)
func TestShedChainedOverload(t *testing.T) {
	const rate = 200_000 // records/s arriving; the operator takes 50,000
	span := time.Second
	if testing.Short() {
		span = time.Second / 2
	}
	n := int64(rate * span.Seconds())
	gen, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Rate: rate, Count: n, Keys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	g, err := shedding.NewGroup(shedding.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{Name: "slow", New: func(int) (pipeline.Operator, error) {
		return busyOp(20*time.Microsecond, 0), nil
	}}}, pipeline.Config{NewShedder: g.NewShedder})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := pl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	sum := g.Summary()
	t.Logf("input of %v took %v; %v", span, took, sum)
	if sum.Seen != uint64(n) || sum.Fraction() < 0.5 {
		t.Errorf("shed %.3f of %d records offered, want at least half of %d (the operator takes a quarter)", sum.Fraction(), sum.Seen, n)
	}
	if took > span*5/2 {
		t.Errorf("an input of %v took %v to process: the source fell behind", span, took)
	}
}
