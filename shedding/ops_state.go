package shedding

import "github.com/streamstat/streamstat/pipeline"

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
func (o *Frequency) MarshalBinary() ([]byte, error) { return o.CM.MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful.
func (o *Frequency) UnmarshalBinary(b []byte) error { return o.CM.UnmarshalBinary(b) }

// MarshalBinary implements pipeline.Stateful.
func (o *HeavyHitters) MarshalBinary() ([]byte, error) { return o.TopK.MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful.
func (o *HeavyHitters) UnmarshalBinary(b []byte) error { return o.TopK.UnmarshalBinary(b) }

// MarshalBinary implements pipeline.Stateful.
func (o *Distinct) MarshalBinary() ([]byte, error) { return o.Theta.MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful.
func (o *Distinct) UnmarshalBinary(b []byte) error { return o.Theta.UnmarshalBinary(b) }
