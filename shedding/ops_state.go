package shedding

import (
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// The sketch operators are pipeline.Stateful, so checkpoints hold them: the
// state is the sketch's encoding (a Count has no encoding yet, and is not
// Stateful). The keep probabilities are in the sketches (Units, theta);
// the shedders' own state goes into checkpoints beside them.

var (
	_ pipeline.Stateful = (*Frequency)(nil)
	_ pipeline.Stateful = (*HeavyHitters)(nil)
	_ pipeline.Stateful = (*Distinct)(nil)
)

// MarshalBinary implements pipeline.Stateful.
func (o *Frequency) MarshalBinary() ([]byte, error) { return o.cm().MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful.
func (o *Frequency) UnmarshalBinary(b []byte) error { return o.cm().UnmarshalBinary(b) }

// MarshalBinary implements pipeline.Stateful.
func (o *HeavyHitters) MarshalBinary() ([]byte, error) { return o.topk().MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful.
func (o *HeavyHitters) UnmarshalBinary(b []byte) error { return o.topk().UnmarshalBinary(b) }

// MarshalBinary implements pipeline.Stateful.
func (o *Distinct) MarshalBinary() ([]byte, error) { return o.theta().MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful.
func (o *Distinct) UnmarshalBinary(b []byte) error { return o.theta().UnmarshalBinary(b) }

// The sketch of a zero operator, made on first use.

func (o *Frequency) cm() *sketch.CountMin {
	if o.CM == nil {
		o.CM = new(sketch.CountMin)
	}
	return o.CM
}

func (o *HeavyHitters) topk() *sketch.TopK {
	if o.TopK == nil {
		o.TopK = new(sketch.TopK)
	}
	return o.TopK
}

func (o *Distinct) theta() *ThetaDistinct {
	if o.Theta == nil {
		o.Theta = new(ThetaDistinct)
	}
	return o.Theta
}
