package pipeline

import (
	"encoding/binary"
	"fmt"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// The sketch operators are Stateful: their state is their sketch's
// canonical encoding, which restores a sketch that goes on exactly as the
// original would. A zero operator makes its default sketch first, so it
// can be checkpointed before it has seen a batch, and restored into.

// MarshalBinary implements Stateful.
func (o *Distinct) MarshalBinary() ([]byte, error) { return o.sketch().MarshalBinary() }

// UnmarshalBinary implements Stateful.
func (o *Distinct) UnmarshalBinary(b []byte) error { return o.sketch().UnmarshalBinary(b) }

// MarshalBinary implements Stateful.
func (o *Frequency) MarshalBinary() ([]byte, error) { return o.sketch().MarshalBinary() }

// UnmarshalBinary implements Stateful.
func (o *Frequency) UnmarshalBinary(b []byte) error { return o.sketch().UnmarshalBinary(b) }

// MarshalBinary implements Stateful.
func (o *HeavyHitters) MarshalBinary() ([]byte, error) { return o.sketch().MarshalBinary() }

// UnmarshalBinary implements Stateful.
func (o *HeavyHitters) UnmarshalBinary(b []byte) error { return o.sketch().UnmarshalBinary(b) }

// MarshalBinary implements Stateful.
func (o *Dedup) MarshalBinary() ([]byte, error) {
	b, err := o.sketch()
	if err != nil {
		return nil, err
	}
	return b.MarshalBinary()
}

// UnmarshalBinary implements Stateful.
func (o *Dedup) UnmarshalBinary(b []byte) error {
	if o.Bloom == nil {
		o.Bloom = new(sketch.Bloom) // the encoding gives the shape
	}
	return o.Bloom.UnmarshalBinary(b)
}

// MarshalBinary implements Stateful.
func (o *Sample) MarshalBinary() ([]byte, error) {
	r, err := o.sample()
	if err != nil {
		return nil, err
	}
	return r.MarshalBinary()
}

// UnmarshalBinary implements Stateful.
func (o *Sample) UnmarshalBinary(b []byte) error {
	r, err := o.sample()
	if err != nil {
		return err
	}
	return r.UnmarshalBinary(b)
}

// MarshalBinary implements Stateful: the Moments encoding, the KLL encoding
// (empty without Quantiles), then Missing, each length-prefixed.
func (o *Stats) MarshalBinary() ([]byte, error) {
	m, err := o.moments().MarshalBinary()
	if err != nil {
		return nil, err
	}
	var q []byte
	if o.Quantiles != nil {
		if q, err = o.Quantiles.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	b := binary.AppendUvarint(nil, uint64(len(m)))
	b = append(b, m...)
	b = binary.AppendUvarint(b, uint64(len(q)))
	b = append(b, q...)
	return binary.AppendUvarint(b, o.Missing), nil
}

// UnmarshalBinary implements Stateful.
func (o *Stats) UnmarshalBinary(b []byte) error {
	r := envelope.NewReader(b)
	m := r.Bytes(int(min(r.Uvarint(), uint64(len(b)))))
	q := r.Bytes(int(min(r.Uvarint(), uint64(len(b)))))
	missing := r.Uvarint()
	if err := r.Done(); err != nil {
		return fmt.Errorf("pipeline: Stats state: %w", err)
	}
	var mo sampling.Moments
	if err := mo.UnmarshalBinary(m); err != nil {
		return err
	}
	if (len(q) > 0) != (o.Quantiles != nil) {
		return fmt.Errorf("pipeline: Stats state with quantiles %v, operator with %v: %w", len(q) > 0, o.Quantiles != nil, envelope.ErrCorrupt)
	}
	if o.Quantiles != nil {
		if err := o.Quantiles.UnmarshalBinary(q); err != nil {
			return err
		}
	}
	*o.moments(), o.Missing = mo, missing
	return nil
}
