package pipeline

import (
	"bytes"
	"errors"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// TestGroupTopOperator: the groups' and pairs' counts hold the truth
// within their bounds, the heaviest group comes first, and instances
// merged through their states equal their merge in memory.
func TestGroupTopOperator(t *testing.T) {
	bs := groupBatches(6, 40000, 1)
	newOp := func() *GroupTop {
		g, _ := sketch.NewTopK(64)
		p, _ := sketch.NewTopK(256)
		c, _ := sketch.NewCountMinWidthDepth(1024, 4)
		return &GroupTop{Groups: g, Pairs: p, Counts: c}
	}
	whole := newOp()
	parts := []*GroupTop{newOp(), newOp()}
	groups := map[string]uint64{}
	pairs := map[string]uint64{}
	for i, b := range bs {
		for j := range b.Records {
			key := b.Key(j)
			g, _ := GroupOf(key)
			groups[string(g)]++
			pairs[string(key)]++
		}
		if err := whole.Process(b, new(Batch)); err != nil {
			t.Fatal(err)
		}
		if err := parts[i%2].Process(b, new(Batch)); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range whole.Groups.Top(10) {
		if n := groups[it.Key]; n < it.Lower || n > it.Upper {
			t.Fatalf("group %q: %d not in [%d, %d]", it.Key, n, it.Lower, it.Upper)
		}
	}
	for _, it := range whole.Pairs.Top(20) {
		if n := pairs[it.Key]; n < it.Lower || n > it.Upper {
			t.Fatalf("pair %q: %d not in [%d, %d]", it.Key, n, it.Lower, it.Upper)
		}
		if e := whole.Counts.EstimateHash(sketch.Hash([]byte(it.Key))); e.Value < float64(pairs[it.Key]) {
			t.Fatalf("pair %q: CountMin %v below the truth %d", it.Key, e.Value, pairs[it.Key])
		}
	}
	a, b := newOp(), newOp()
	for _, p := range parts {
		st, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := a.MergeBinary(st); err != nil {
			t.Fatal(err)
		}
		if err := b.Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := a.MarshalBinary()
	y, _ := b.MarshalBinary()
	if !bytes.Equal(x, y) {
		t.Fatal("merge through states differs from merge in memory")
	}
	var back GroupTop
	if err := back.UnmarshalBinary(x); err != nil {
		t.Fatal(err)
	}
	if again, _ := back.MarshalBinary(); !bytes.Equal(again, x) {
		t.Fatal("state does not round-trip")
	}
	if err := back.UnmarshalBinary(x[:len(x)-1]); err == nil {
		t.Fatal("truncated state accepted")
	}
	if err := (&GroupTop{}).Merge(a); err == nil {
		t.Fatal("merge of other sketches accepted")
	}
	// A nil GroupTop is empty, as for GroupStats.Merge and the sketches'.
	before, _ := back.MarshalBinary()
	if err := back.Merge(nil); err != nil {
		t.Fatalf("merge of nil: %v", err)
	}
	if after, _ := back.MarshalBinary(); !bytes.Equal(after, before) {
		t.Fatal("merge of nil changed the state")
	}
}

func FuzzGroupTopState(f *testing.F) {
	for _, n := range []int{1, 3} {
		op := &GroupTop{Pairs: new(sketch.TopK)}
		if n == 3 {
			op.Counts, _ = sketch.NewCountMinWidthDepth(64, 2)
		}
		for _, b := range groupBatches(7, 300*n, 1) {
			op.Process(b, new(Batch))
		}
		st, _ := op.MarshalBinary()
		f.Add(st)
		f.Add(st[:len(st)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodesCanonically(t, new(GroupTop), data)
	})
}

// decodesCanonically decodes data into o and reports whether it did: a
// refusal must wrap a decode sentinel, and what decodes must encode to
// data again.
func decodesCanonically(t *testing.T, o Stateful, data []byte) bool {
	t.Helper()
	if err := o.UnmarshalBinary(data); err != nil {
		if !envelope.IsDecodeError(err) {
			t.Fatalf("error %v wraps no decode sentinel", err)
		}
		return false
	}
	again, err := o.MarshalBinary()
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("decoded state re-encodes to %x, not %x", again, data)
	}
	return true
}

// TestGroupTopRefusedMergeChangesNothing: a merge refused for its
// count-min's shape leaves the state as it was (it used to have merged
// the groups' TopK first).
func TestGroupTopRefusedMergeChangesNothing(t *testing.T) {
	bs := groupBatches(3, 5000, 1)
	mk := func(width int) *GroupTop {
		g, _ := sketch.NewTopK(64)
		c, _ := sketch.NewCountMinWidthDepth(width, 4)
		o := &GroupTop{Groups: g, Counts: c}
		for _, b := range bs {
			if err := o.Process(b, new(Batch)); err != nil {
				t.Fatal(err)
			}
		}
		return o
	}
	o, other := mk(1024), mk(512)
	before, _ := o.MarshalBinary()
	if err := o.Merge(other); !errors.Is(err, sketch.ErrIncompatible) {
		t.Fatalf("merge of another count-min shape: %v, want ErrIncompatible", err)
	}
	if after, _ := o.MarshalBinary(); !bytes.Equal(after, before) {
		t.Fatal("a refused merge changed the state")
	}
}
