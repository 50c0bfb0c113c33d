package shedding

import (
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// DistinctHLL counts distinct keys under KeyHash shedding in a plain
// sketch.HLL: it adds the hash of every record it is given, whatever its
// KeepP, where pipeline.Distinct refuses shed records. Answer with
// HLLDistinct(o.HLL, minP, confidence), minP the Group's Summary().MinP
// read after the records were counted (it then covers them). It costs
// what an HLL does; Distinct, a theta sketch, answers more closely under
// heavy shedding (see HLLDistinct).
//
// Its merges are exact (the HLL's), so it runs in parallel instances and
// as the slots of a pipeline.Window, whose windows pipeline.Distinct
// cannot count once anything is shed: answer each window from its merged
// HLL at the run's smallest p so far. That p is at most the smallest in
// force during the window, so the window's registers below it saw every
// one of the window's keys that map to them (TestWindowDistinctHLLCoverage
// checks the bounds over windows shed at p from 1 down to 2^-10). Two
// things differ from a Window of pipeline.Distincts: a window whose
// records were all shed has none in the Window and is not answered, and
// each slot's HLL goes through its sparse phase (a Window keeps
// pipeline.Distinct's slots in a faster form, pipeline/window_distinct.go).
//
// Under Random or Priority shedding no register is complete, and
// HLLDistinct's answer would count the kept keys only: use KeyHash.
//
// A nil HLL is made at sketch.DefaultPrecision on first use. The zero
// value is ready to use; a DistinctHLL is not safe for concurrent use,
// like every operator.
type DistinctHLL struct {
	HLL *sketch.HLL
	// Pass also passes every record (KeepP included) downstream.
	Pass bool
}

var _ pipeline.Mergeable = (*DistinctHLL)(nil)

func (o *DistinctHLL) hll() *sketch.HLL {
	if o.HLL == nil {
		o.HLL = new(sketch.HLL)
	}
	return o.HLL
}

// Process implements pipeline.Operator.
func (o *DistinctHLL) Process(in, out *pipeline.Batch) error {
	h := o.hll()
	for i := range in.Records {
		h.AddHash(in.Records[i].Hash)
	}
	return pass(o.Pass, in, out)
}

// MarshalBinary implements pipeline.Stateful: the HLL's encoding.
func (o *DistinctHLL) MarshalBinary() ([]byte, error) { return o.hll().MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful. On error o is unchanged.
func (o *DistinctHLL) UnmarshalBinary(b []byte) error {
	h := new(sketch.HLL)
	if err := h.UnmarshalBinary(b); err != nil {
		return err
	}
	o.HLL = h
	return nil
}

// MergeBinary implements pipeline.Mergeable: it merges in the HLL another
// DistinctHLL's MarshalBinary wrote (of another precision, the larger
// folds down, as sketch.HLL.Merge does).
func (o *DistinctHLL) MergeBinary(b []byte) error {
	h := new(sketch.HLL)
	if err := h.UnmarshalBinary(b); err != nil {
		return err
	}
	return o.hll().Merge(h)
}
