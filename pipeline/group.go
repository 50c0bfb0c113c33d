package pipeline

import (
	"encoding"
	"encoding/binary"
	"fmt"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// GroupDistinct counts distinct values per group in a sketch.GroupDistinct
// (fixed memory whatever the number of groups) and ranks the groups by
// it: the pages with the most distinct users, the clients that reach the
// most distinct addresses. A nil Sketch is made with
// sketch.DefaultGroupDistinctK on first use.
//
// A record's key is a composite key (see AppendTuplePart) whose first
// part is the group and whose other parts are the value, so its hash is
// the pair's: for two parts, sketch.PairHash(group, value). A key that is
// not such a key (fewer than two parts) is counted in Skipped. The group
// is hashed and copied only when a pair enters the sample, rarely once the
// sketch is full, so a record costs little more than a comparison.
//
// Records kept by load shedding (KeepP < 1) are an error (ErrShedRecord):
// the sample would describe the kept records only.
//
// GroupDistinct is Mergeable (its sketches merge exactly), so it runs
// round-robin and in a Window. Read it through QueryAs, merging the
// instances' sketches:
//
//	all := new(sketch.GroupDistinct)
//	err := pipeline.QueryAs(p, s, func(_ int, op *pipeline.GroupDistinct) error {
//		return all.Merge(op.Sketch)
//	})
//	top := all.Top(10)
//
// The zero value is ready to use. It is not safe for concurrent use, like
// every operator.
type GroupDistinct struct {
	Sketch *sketch.GroupDistinct
	// Skipped counts the records whose key is not a (group, value) key.
	Skipped uint64
	// Pass also passes every record downstream.
	Pass bool
}

func (o *GroupDistinct) sketch() *sketch.GroupDistinct {
	if o.Sketch == nil {
		o.Sketch = new(sketch.GroupDistinct)
	}
	return o.Sketch
}

// GroupOf returns the group of a composite key (its first part), and
// false if the key has no value part after it.
func GroupOf(key []byte) ([]byte, bool) {
	n, k := binary.Uvarint(key)
	if k <= 0 || n >= uint64(len(key)-k) {
		return nil, false
	}
	return key[k : k+int(n) : k+int(n)], true
}

// Process implements Operator.
func (o *GroupDistinct) Process(in, out *Batch) error {
	if p := shedRecord(in); p != 0 {
		return shedError("GroupDistinct", p, "count distinct values per group before shedding or turn shedding off")
	}
	g := o.sketch()
	for i := range in.Records {
		r := &in.Records[i]
		key := in.arena[r.keyOff : r.keyOff+r.keyLen]
		group, ok := GroupOf(key)
		if !ok {
			o.Skipped++
			continue
		}
		g.AddPair(r.Hash, group)
	}
	return pass(o.Pass, in, out)
}

// MarshalBinary implements Stateful: Skipped as a uvarint, then the
// sketch's encoding.
func (o *GroupDistinct) MarshalBinary() ([]byte, error) {
	b := binary.AppendUvarint(nil, o.Skipped)
	return o.sketch().AppendBinary(b)
}

// UnmarshalBinary implements Stateful. On error o is unchanged.
func (o *GroupDistinct) UnmarshalBinary(data []byte) error {
	skipped, g, err := decodeGroupState(data)
	if err != nil {
		return err
	}
	o.Sketch, o.Skipped = g, skipped
	return nil
}

// MergeBinary implements Mergeable. On error o is unchanged.
func (o *GroupDistinct) MergeBinary(data []byte) error {
	skipped, g, err := decodeGroupState(data)
	if err != nil {
		return err
	}
	if err := o.sketch().Merge(g); err != nil {
		return err
	}
	o.Skipped += skipped
	return nil
}

func decodeGroupState(data []byte) (uint64, *sketch.GroupDistinct, error) {
	return decodeSkippedState[sketch.GroupDistinct]("GroupDistinct", data)
}

// decodeSkippedState reads the state of a group operator (GroupDistinct,
// GroupHLL): Skipped as a uvarint, then the encoding of its sketch, an S.
func decodeSkippedState[S any, P interface {
	*S
	encoding.BinaryUnmarshaler
}](op string, data []byte) (uint64, P, error) {
	skipped, n := binary.Uvarint(data)
	if n <= 0 {
		return 0, nil, fmt.Errorf("pipeline: %s state: bad skipped count: %w", op, envelope.ErrCorrupt)
	}
	g := P(new(S))
	if err := g.UnmarshalBinary(data[n:]); err != nil {
		return 0, nil, err
	}
	return skipped, g, nil
}

// Top returns the n groups of this instance with the most distinct
// values, with bounds (sketch.GroupDistinct.Top); merge the instances'
// sketches first for the whole stage's answer.
func (o *GroupDistinct) Top(n int) []sketch.GroupCount { return o.sketch().Top(n) }
