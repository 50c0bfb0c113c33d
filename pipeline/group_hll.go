package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/streamstat/streamstat/sketch"
)

// ErrMemoryLimit: an operator whose memory grows with its input (one
// sketch per group) passed its MaxBytes. It stops rather than evict, so
// that no answer silently leaves a group out.
var ErrMemoryLimit = errors.New("pipeline: operator memory limit reached")

// GroupHLL counts distinct values for every group, each in its own
// sketch (sketch.GroupHLL: exact while small, then an HLL), so that it
// lists every group, not only the largest, and its memory grows with the
// groups. MaxBytes, if positive, caps it: the batch that takes the sketch
// past it fails with ErrMemoryLimit. A nil Sketch is made at
// sketch.DefaultGroupHLLPrecision on first use.
//
// Keys are (group, value) composite keys, as for GroupDistinct: the
// record's hash is the value's within its group. A key with no value part
// is counted in Skipped. Records kept by load shedding are an error
// (ErrShedRecord).
//
// GroupHLL is Mergeable (its merges are exact), so it runs round-robin
// and in a Window. The zero value is ready to use. It is not safe for
// concurrent use, like every operator.
type GroupHLL struct {
	Sketch *sketch.GroupHLL
	// MaxBytes caps Sketch.Bytes (0: no cap).
	MaxBytes int64
	// Skipped counts the records whose key is not a (group, value) key.
	Skipped uint64
	// Pass also passes every record downstream.
	Pass bool
}

func (o *GroupHLL) sketch() *sketch.GroupHLL {
	if o.Sketch == nil {
		o.Sketch = new(sketch.GroupHLL)
	}
	return o.Sketch
}

// Process implements Operator.
func (o *GroupHLL) Process(in, out *Batch) error {
	if p := shedRecord(in); p != 0 {
		return shedError("GroupHLL", p, "count distinct values per group before shedding or turn shedding off")
	}
	g := o.sketch()
	for i := range in.Records {
		r := &in.Records[i]
		group, ok := GroupOf(in.arena[r.keyOff : r.keyOff+r.keyLen])
		if !ok {
			o.Skipped++
			continue
		}
		g.AddHash(group, r.Hash)
	}
	if o.MaxBytes > 0 && g.Bytes() > o.MaxBytes {
		return fmt.Errorf("pipeline: GroupHLL holds %d groups in %d bytes, past its cap of %d: %w", g.Groups(), g.Bytes(), o.MaxBytes, ErrMemoryLimit)
	}
	return pass(o.Pass, in, out)
}

// MarshalBinary implements Stateful: Skipped as a uvarint, then the
// sketch's encoding.
func (o *GroupHLL) MarshalBinary() ([]byte, error) {
	b := binary.AppendUvarint(nil, o.Skipped)
	return o.sketch().AppendBinary(b)
}

// UnmarshalBinary implements Stateful. On error o is unchanged.
func (o *GroupHLL) UnmarshalBinary(data []byte) error {
	skipped, g, err := decodeGroupHLLState(data)
	if err != nil {
		return err
	}
	o.Sketch, o.Skipped = g, skipped
	return nil
}

// MergeBinary implements Mergeable. On error o is unchanged.
func (o *GroupHLL) MergeBinary(data []byte) error {
	skipped, g, err := decodeGroupHLLState(data)
	if err != nil {
		return err
	}
	if err := o.sketch().Merge(g); err != nil {
		return err
	}
	o.Skipped += skipped
	return nil
}

func decodeGroupHLLState(data []byte) (uint64, *sketch.GroupHLL, error) {
	return decodeSkippedState[sketch.GroupHLL]("GroupHLL", data)
}
