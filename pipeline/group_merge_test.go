package pipeline

import (
	"bytes"
	"errors"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestGroupMergeIncompatibleUnchanged: a state that cannot be merged (a
// sketch of another precision or k) is refused with ErrIncompatible and
// leaves the receiver as it was, its Skipped count included: a failed
// merge must not half-apply and then be retried or reported from.
func TestGroupMergeIncompatibleUnchanged(t *testing.T) {
	hll := func(p int, skipped uint64) Mergeable {
		s, err := sketch.NewGroupHLL(p)
		if err != nil {
			t.Fatal(err)
		}
		o := &GroupHLL{Sketch: s, Skipped: skipped}
		if err := o.Process(groupBatches(1, 500, 1)[0], new(Batch)); err != nil {
			t.Fatal(err)
		}
		return o
	}
	distinct := func(k int, skipped uint64) Mergeable {
		s, err := sketch.NewGroupDistinct(k)
		if err != nil {
			t.Fatal(err)
		}
		o := &GroupDistinct{Sketch: s, Skipped: skipped}
		if err := o.Process(groupBatches(1, 500, 1)[0], new(Batch)); err != nil {
			t.Fatal(err)
		}
		return o
	}
	for _, tc := range []struct {
		name      string
		into, arg Mergeable
	}{
		{"GroupHLL of another precision", hll(10, 0), hll(12, 7)},
		{"GroupDistinct of another k", distinct(256, 0), distinct(1024, 7)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := tc.into.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			st, err := tc.arg.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.into.MergeBinary(st); !errors.Is(err, sketch.ErrIncompatible) {
				t.Fatalf("merge: %v, want ErrIncompatible", err)
			}
			after, err := tc.into.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Fatal("a refused merge changed the receiver's state")
			}
		})
	}
}
