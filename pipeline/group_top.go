package pipeline

import (
	"encoding/binary"
	"fmt"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// GroupTop counts records per group and per (group, value) pair, for the
// heavy values within the heavy groups: the clients with the most
// requests, and the URLs each requests most (top --by), or how often each
// of those clients asked for some URLs (freq --by).
//
// Groups is a TopK of the groups (Space-Saving: every group with more
// than N/capacity records is held, each count within certain bounds).
// Pairs, if set, is a TopK of the (group, value) pairs, whose counts have
// the same guarantee over the pairs; Counts, if set, is a CountMin of the
// pairs, for the count of any value in any group (within its bounds). A
// nil Groups is made with sketch.DefaultTopKCapacity counters on first
// use.
//
// Keys are (group, value) composite keys, as for GroupDistinct: the
// record's hash is the pair's (sketch.PairHash); the group's hash is
// computed from its bytes. A key with no value part is counted in
// Skipped. Records kept by load shedding are an error (ErrShedRecord).
//
// GroupTop is Mergeable, so it runs round-robin and in a Window. The zero
// value is ready to use. It is not safe for concurrent use, like every
// operator.
type GroupTop struct {
	Groups *sketch.TopK
	Pairs  *sketch.TopK
	Counts *sketch.CountMin
	// Skipped counts the records whose key is not a (group, value) key.
	Skipped uint64
	// Pass also passes every record downstream.
	Pass bool
}

func (o *GroupTop) groups() *sketch.TopK {
	if o.Groups == nil {
		o.Groups = new(sketch.TopK)
	}
	return o.Groups
}

// Process implements Operator.
func (o *GroupTop) Process(in, out *Batch) error {
	if p := shedRecord(in); p != 0 {
		return shedError("GroupTop", p, "count per group before shedding or turn shedding off")
	}
	g := o.groups()
	for i := range in.Records {
		r := &in.Records[i]
		key := in.arena[r.keyOff : r.keyOff+r.keyLen]
		group, ok := GroupOf(key)
		if !ok {
			o.Skipped++
			continue
		}
		g.AddHash(sketch.Hash(group), group, 1)
		if o.Pairs != nil {
			o.Pairs.AddHash(r.Hash, key, 1)
		}
		if o.Counts != nil {
			o.Counts.AddHash(r.Hash, 1)
		}
	}
	return pass(o.Pass, in, out)
}

// PairKey returns the composite key of (group, value), as the records
// carry it: its sketch.Hash is sketch.PairHash(group, value).
func PairKey(dst, group, value []byte) []byte {
	return AppendTuplePart(AppendTuplePart(dst, group), value)
}

// MarshalBinary implements Stateful: Skipped as a uvarint, then flags (1:
// Pairs set, 2: Counts set) as a uvarint, then each sketch's encoding
// (Groups, Pairs, Counts) after its uvarint length.
func (o *GroupTop) MarshalBinary() ([]byte, error) {
	b := binary.AppendUvarint(nil, o.Skipped)
	var flags uint64
	parts := []interface{ AppendBinary([]byte) ([]byte, error) }{o.groups()}
	if o.Pairs != nil {
		flags |= 1
		parts = append(parts, o.Pairs)
	}
	if o.Counts != nil {
		flags |= 2
		parts = append(parts, o.Counts)
	}
	b = binary.AppendUvarint(b, flags)
	for _, s := range parts {
		enc, err := s.AppendBinary(nil)
		if err != nil {
			return nil, err
		}
		b = binary.AppendUvarint(b, uint64(len(enc)))
		b = append(b, enc...)
	}
	return b, nil
}

// UnmarshalBinary implements Stateful. On error o is unchanged.
func (o *GroupTop) UnmarshalBinary(data []byte) error {
	n, err := decodeGroupTop(data)
	if err != nil {
		return err
	}
	n.Pass = o.Pass
	*o = *n
	return nil
}

// MergeBinary implements Mergeable: the sketches must have the same
// shapes, and the same ones must be set.
func (o *GroupTop) MergeBinary(data []byte) error {
	n, err := decodeGroupTop(data)
	if err != nil {
		return err
	}
	return o.Merge(n)
}

// Merge adds o2's counts to o (see MergeBinary). o2 is not modified; a
// nil o2 is empty.
func (o *GroupTop) Merge(o2 *GroupTop) error {
	if o2 == nil {
		return nil
	}
	if (o.Pairs == nil) != (o2.Pairs == nil) || (o.Counts == nil) != (o2.Counts == nil) {
		return fmt.Errorf("pipeline: GroupTop of other sketches: %w", sketch.ErrIncompatible)
	}
	// The count-min is the one part whose merge can fail: check it before
	// any part changes, so that a refused merge leaves o as it was.
	if o.Counts != nil && (o.Counts.Width() != o2.Counts.Width() || o.Counts.Depth() != o2.Counts.Depth()) {
		return o.Counts.Merge(o2.Counts)
	}
	if err := o.groups().Merge(o2.groups()); err != nil {
		return err
	}
	if o.Pairs != nil {
		if err := o.Pairs.Merge(o2.Pairs); err != nil {
			return err
		}
	}
	if o.Counts != nil {
		if err := o.Counts.Merge(o2.Counts); err != nil {
			return err
		}
	}
	o.Skipped += o2.Skipped
	return nil
}

func decodeGroupTop(data []byte) (*GroupTop, error) {
	r := envelope.NewReader(data)
	skipped, flags := r.MinimalUvarint(), r.MinimalUvarint()
	if r.Err != nil || flags > 3 {
		return nil, fmt.Errorf("pipeline: GroupTop state: flags %d: %w", flags, envelope.ErrCorrupt)
	}
	o := &GroupTop{Skipped: skipped, Groups: new(sketch.TopK)}
	if err := o.Groups.UnmarshalBinary(r.LenBytes()); err != nil {
		return nil, err
	}
	if flags&1 != 0 {
		o.Pairs = new(sketch.TopK)
		if err := o.Pairs.UnmarshalBinary(r.LenBytes()); err != nil {
			return nil, err
		}
	}
	if flags&2 != 0 {
		o.Counts = new(sketch.CountMin)
		if err := o.Counts.UnmarshalBinary(r.LenBytes()); err != nil {
			return nil, err
		}
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("pipeline: GroupTop state: %w", err)
	}
	return o, nil
}
