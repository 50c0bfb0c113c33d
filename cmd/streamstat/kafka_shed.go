package main

import (
	"encoding"
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// --shed on a Kafka worker: each owned partition gets a shedder of its
// own, made as the shedder of source p of a stdin run's group (same
// policy, latency target and salt), fresh for every state of the
// partition the worker makes (a restore, a rollback), and restored from
// the partition's snapshot. The worker feeds it a real load signal (see
// package pipeline/kafka: the poll loop's busy time and the records the
// operator took), so it sheds only while the operator falls behind the
// topic. The shed operators are the stdin run's; their state and the
// shedder's go to the snapshot, and an answer (a worker's, or merge's of
// the group) reads the shedders' summaries of the partitions it covers
// through a shedRun of its own whose group holds their states.

// kafkaShedder makes the shedder of partition p for a worker of s.
func kafkaShedder(s *spec, p int32) (pipeline.Shedder, error) {
	r, err := newShedRun(s.opts, s.shed.policy)
	if err != nil {
		return nil, err
	}
	return r.group.Shedder(int(p)), nil
}

// addShedState restores partition p's shedder state into s's group, so
// that s's answers read its summary. state may be empty (no shedder).
func addShedState(s *spec, p int32, state []byte) error {
	if s.shed == nil {
		if len(state) > 0 {
			return fmt.Errorf("partition %d's state holds what its shedder did, but this run does not shed (the workers ran with --shed)", p)
		}
		return nil
	}
	if len(state) == 0 {
		return nil
	}
	if err := s.shed.group.Shedder(int(p)).UnmarshalBinary(state); err != nil {
		return fmt.Errorf("partition %d's shedder: %w", p, err)
	}
	return nil
}

// shedStateOf returns the state of a worker's shedder (nil if none).
func shedStateOf(sh pipeline.Shedder) ([]byte, error) {
	m, ok := sh.(encoding.BinaryMarshaler)
	if sh == nil || !ok {
		return nil, nil
	}
	return m.MarshalBinary()
}

// shedMergeOp makes an operator of --shed (package shedding's sketch
// operators, which are pipeline.Stateful, wrapped by costOp in tests) a
// pipeline.Mergeable, as a Kafka worker's operators must be: MergeBinary
// decodes the other state into a fresh operator and merges its sketch.
type shedMergeOp struct {
	pipeline.Operator // what processes: the operator, maybe in a costOp
	fresh             func() (pipeline.Operator, error)
}

func (o *shedMergeOp) inner() pipeline.Operator { return unwrapCost(o.Operator) }

func (o *shedMergeOp) MarshalBinary() ([]byte, error) {
	m, ok := o.inner().(encoding.BinaryMarshaler)
	if !ok {
		return nil, fmt.Errorf("%T has no state to save", o.inner())
	}
	return m.MarshalBinary()
}

func (o *shedMergeOp) UnmarshalBinary(b []byte) error {
	u, ok := o.inner().(encoding.BinaryUnmarshaler)
	if !ok {
		return fmt.Errorf("%T has no state to restore", o.inner())
	}
	return u.UnmarshalBinary(b)
}

func (o *shedMergeOp) MergeBinary(b []byte) error {
	f, err := o.fresh()
	if err != nil {
		return err
	}
	other := &shedMergeOp{Operator: f}
	if err := other.UnmarshalBinary(b); err != nil {
		return err
	}
	switch dst := o.inner().(type) {
	case *distinctOp: // the registers kept aside are folded in later
		return dst.hll.Merge(other.inner().(*distinctOp).hll)
	case *shedding.Frequency:
		return dst.CM.Merge(other.inner().(*shedding.Frequency).CM)
	case *shedding.TopKeys:
		// Both in units (TopK); the merged state goes on as the TopK of
		// records shed before, as a restored one does.
		t := dst.TopK()
		if err := t.Merge(other.inner().(*shedding.TopKeys).TopK()); err != nil {
			return err
		}
		enc, err := t.MarshalBinary()
		if err != nil {
			return err
		}
		return dst.UnmarshalBinary(enc)
	}
	return fmt.Errorf("%T: its state does not merge: %w", o.inner(), sketch.ErrIncompatible)
}
