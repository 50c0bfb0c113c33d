package pipeline

import (
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// The sketch operators below are sinks unless Pass is set, in which case
// they also pass every record downstream. Each wraps one sketch, which the
// caller makes (so it chooses the shape) and reads through Pipeline.Query.
// Their zero values are not usable: set the sketch. An operator instance is
// not safe for concurrent use, like its sketch; the pipeline calls it from
// one goroutine and Query locks it out while it processes a batch.
//
// Counts ignore Record.KeepP: to scale for load shedding, read the
// shed-aware estimators of package shedding.

// Distinct counts distinct keys with an HLL.
type Distinct struct {
	HLL  *sketch.HLL
	Pass bool
}

// Process implements Operator.
func (o *Distinct) Process(in, out *Batch) error {
	for i := range in.Records {
		o.HLL.AddHash(in.Records[i].Hash)
	}
	return pass(o.Pass, in, out)
}

// Frequency counts every key in a CountMin.
type Frequency struct {
	CM   *sketch.CountMin
	Pass bool
}

// Process implements Operator.
func (o *Frequency) Process(in, out *Batch) error {
	for i := range in.Records {
		o.CM.AddHash(in.Records[i].Hash, 1)
	}
	return pass(o.Pass, in, out)
}

// HeavyHitters tracks the most frequent keys in a TopK.
type HeavyHitters struct {
	TopK *sketch.TopK
	Pass bool
}

// Process implements Operator.
func (o *HeavyHitters) Process(in, out *Batch) error {
	for i := range in.Records {
		o.TopK.AddHash(in.Records[i].Hash, in.Key(i), 1)
	}
	return pass(o.Pass, in, out)
}

// Dedup passes on only the first occurrence of each key, as far as its
// Bloom filter can tell: a new key is dropped with the filter's current
// false-positive rate, and a repeated key is never passed.
type Dedup struct {
	Bloom *sketch.Bloom
}

// Process implements Operator.
func (o *Dedup) Process(in, out *Batch) error {
	for i := range in.Records {
		if !o.Bloom.TestAndAddHash(in.Records[i].Hash) {
			out.AddRecord(in, i)
		}
	}
	return nil
}

// Sample keeps a uniform sample of keys in a Reservoir. It looks only at
// the records that enter the sample (Algorithm L's skips), and copies their
// keys, so the sample outlives the batch.
type Sample struct {
	Reservoir *sampling.Reservoir[[]byte]
	Pass      bool
}

// Process implements Operator.
func (o *Sample) Process(in, out *Batch) error {
	n := uint64(len(in.Records))
	for i := uint64(0); i < n; i++ {
		i += o.Reservoir.Discard(n - i)
		if i < n {
			o.Reservoir.Add(append([]byte(nil), in.Key(int(i))...))
		}
	}
	return pass(o.Pass, in, out)
}

// Stats summarises the numeric values of records (those with HasValue) in
// Moments and, if set, a KLL quantile sketch. Records without a value are
// counted in Missing.
type Stats struct {
	Moments   *sampling.Moments
	Quantiles *sampling.KLL
	Missing   uint64
	Pass      bool
}

// Process implements Operator.
func (o *Stats) Process(in, out *Batch) error {
	for i := range in.Records {
		r := &in.Records[i]
		if !r.HasValue {
			o.Missing++
			continue
		}
		o.Moments.Add(r.Value)
		if o.Quantiles != nil {
			o.Quantiles.Add(r.Value)
		}
	}
	return pass(o.Pass, in, out)
}

func pass(on bool, in, out *Batch) error {
	if on {
		for i := range in.Records {
			out.AddRecord(in, i)
		}
	}
	return nil
}
