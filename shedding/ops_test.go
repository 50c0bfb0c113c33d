package shedding

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

func TestOperators(t *testing.T) {
	// A generator through random shedding at p = 0.2 into the counting
	// operators, and key-hash shedding into Distinct; the answers are
	// compared with the truth, counted on an unshed copy of the stream.
	const n = 200_000
	gen := func() pipeline.Source {
		g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 3, Keys: 5000, S: 1.2, Count: n})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	truth := map[string]int{}
	{
		var b pipeline.Batch
		src := gen()
		for {
			b.Reset()
			err := src.Fill(context.Background(), &b, 1024)
			for i := range b.Records {
				truth[string(b.Key(i))]++
			}
			if err != nil {
				break
			}
		}
	}
	count := &Count{Pass: true}
	cm, _ := sketch.NewCountMin(0.0005, 0.01)
	freq := &Frequency{CM: cm, Pass: true}
	tk, _ := sketch.NewTopK(256)
	heavy := &HeavyHitters{TopK: tk}
	stage := func(name string, op pipeline.Operator) pipeline.Stage {
		return pipeline.Stage{Name: name, New: func(int) (pipeline.Operator, error) { return op, nil }}
	}
	g, _ := NewGroup(fixed(Random, 0.2))
	p, err := pipeline.New([]pipeline.Source{gen()}, []pipeline.Stage{
		stage("count", count), stage("freq", freq), stage("heavy", heavy),
	}, pipeline.Config{NewShedder: g.NewShedder})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sum := g.Summary()
	if e := count.Count.Estimate(); math.Abs(e.Value-n) > 4*math.Sqrt(count.Count.Variance()) {
		t.Errorf("count %v of %d", e, n)
	}
	for _, it := range TopItems(tk, 5, sum, 0.95) {
		f := float64(truth[it.Key])
		sd := math.Sqrt(sum.CountVariance(f))
		if math.Abs(it.Count.Value-f) > 4*sd+float64(tk.MinCount())/Unit || it.Count.Lower > f+4*sd {
			t.Errorf("top key %s: %v, truth %v", it.Key, it.Count, f)
		}
		e := FromUnits(cm.EstimateString(it.Key))
		if math.Abs(e.Value-f) > 4*sd+cm.Epsilon()*n {
			t.Errorf("frequency of %s: %v, truth %v", it.Key, e, f)
		}
	}

	th, _ := NewThetaDistinct(1024)
	gk, _ := NewGroup(fixed(KeyHash, 0.3))
	p, _ = pipeline.New([]pipeline.Source{gen()}, []pipeline.Stage{stage("distinct", &Distinct{Theta: th})},
		pipeline.Config{NewShedder: gk.NewShedder})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := th.LowerTheta(gk.Summary().MinP); err != nil {
		t.Fatal(err)
	}
	d := float64(len(truth))
	if e := th.Estimate(); math.Abs(e.Value-d) > 4*math.Sqrt(d*(1-th.Theta())/th.Theta()) {
		t.Errorf("distinct %v, truth %v", e, d)
	}
}

// TestOperatorZeroValues: the zero Frequency, HeavyHitters and Distinct
// count with their sketches' defaults, and checkpoint and restore before
// and after a batch. (Before, each dereferenced its nil sketch.)
func TestOperatorZeroValues(t *testing.T) {
	var b pipeline.Batch
	for i := range 500 {
		r := b.Add([]byte{byte(i), byte(i >> 8), 'k'})
		r.KeepP = 0.5
	}
	type op interface {
		pipeline.Operator
		pipeline.Stateful
	}
	for _, c := range []struct {
		name  string
		make  func() op
		check func(op) float64 // the estimate of records or keys
	}{
		{"Frequency", func() op { return new(Frequency) }, func(o op) float64 {
			return FromUnits(o.(*Frequency).CM.Estimate([]byte{7, 0, 'k'})).Value
		}},
		{"HeavyHitters", func() op { return new(HeavyHitters) }, func(o op) float64 {
			return float64(o.(*HeavyHitters).TopK.Total()) / Unit
		}},
		{"Distinct", func() op { return new(Distinct) }, func(o op) float64 {
			return o.(*Distinct).Theta.Estimate().Value
		}},
	} {
		// Distinct counts the 500 keys it was given: its theta is lowered
		// only by LowerTheta, which this test does not call.
		want := map[string]float64{"Frequency": 2, "HeavyHitters": 1000, "Distinct": 500}[c.name]
		empty, err := c.make().MarshalBinary()
		if err != nil {
			t.Fatalf("%s: MarshalBinary of the zero value: %v", c.name, err)
		}
		if err := c.make().UnmarshalBinary(empty); err != nil {
			t.Fatalf("%s: UnmarshalBinary into the zero value: %v", c.name, err)
		}
		o := c.make()
		if err := o.Process(&b, new(pipeline.Batch)); err != nil {
			t.Fatal(err)
		}
		state, err := o.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		re := c.make()
		if err := re.UnmarshalBinary(state); err != nil {
			t.Fatal(err)
		}
		for _, x := range []op{o, re} {
			if got := c.check(x); math.Abs(got-want) > want/10 {
				t.Errorf("%s: estimate %v, want about %v", c.name, got, want)
			}
		}
	}
}

// TestDistinctProcessIsAddHashP: Distinct.Process, which tests theta
// inline, leaves the sketch exactly as AddHashP of every record does,
// with KeepP 0 (kept whole), p changing within and across batches, and
// the sketch past its size limit many times over.
func TestDistinctProcessIsAddHashP(t *testing.T) {
	th, err := NewThetaDistinct(64)
	if err != nil {
		t.Fatal(err)
	}
	o := &Distinct{Theta: th}
	ref := th.Clone()
	var b, out pipeline.Batch
	for i := range 40 {
		fillBatch(&b, 500, 1_000_000, pcg(uint64(i)), 0)
		for j := range b.Records {
			switch {
			case i < 10: // never shed
			case i%3 == 0:
				b.Records[j].KeepP = 1
			default:
				b.Records[j].KeepP = float32(Quantize(0.9 - float64(i)/100 - float64(j%3)/50))
			}
			ref.AddHashP(b.Records[j].Hash, b.Records[j].KeepP)
		}
		if err := o.Process(&b, &out); err != nil {
			t.Fatal(err)
		}
		got, _ := o.Theta.MarshalBinary()
		want, _ := ref.MarshalBinary()
		if !bytes.Equal(got, want) {
			t.Fatalf("batch %d: the sketch differs from AddHashP's (theta %v, %d hashes; want %v, %d)",
				i, o.Theta.Theta(), o.Theta.Retained(), ref.Theta(), ref.Retained())
		}
	}
	// The cache of recent hashes goes with what Reset and decoding drop.
	o.Theta.Reset()
	_ = o.Process(&b, &out)
	ref.Reset()
	for j := range b.Records {
		ref.AddHashP(b.Records[j].Hash, b.Records[j].KeepP)
	}
	enc, _ := ref.MarshalBinary()
	if got, _ := o.Theta.MarshalBinary(); !bytes.Equal(got, enc) {
		t.Errorf("after Reset: the sketch differs from AddHashP's")
	}
	if err := o.Theta.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	_ = o.Process(&b, &out)
	if got, _ := o.Theta.MarshalBinary(); !bytes.Equal(got, enc) {
		t.Errorf("decoded, then the same batch again: the sketch changed")
	}
	if o.Theta.Theta() >= 0.5 || o.Theta.Retained() < 64 {
		t.Errorf("theta %v, %d hashes: the test never lowered theta or filled the sketch", o.Theta.Theta(), o.Theta.Retained())
	}
}
