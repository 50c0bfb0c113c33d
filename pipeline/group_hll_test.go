package pipeline

import (
	"bytes"
	"errors"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestGroupHLLOperator: every group is listed with the count a
// sketch.GroupHLL fed the same pairs gives; instances merged through
// their states equal one instance over the whole stream, byte for byte.
func TestGroupHLLOperator(t *testing.T) {
	bs := groupBatches(4, 40000, 1)
	whole := new(GroupHLL)
	parts := []*GroupHLL{new(GroupHLL), new(GroupHLL)}
	for i, b := range bs {
		if err := whole.Process(b, new(Batch)); err != nil {
			t.Fatal(err)
		}
		if err := parts[i%2].Process(b, new(Batch)); err != nil {
			t.Fatal(err)
		}
	}
	merged := new(GroupHLL)
	for _, p := range parts {
		st, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := merged.MergeBinary(st); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := whole.MarshalBinary()
	m, _ := merged.MarshalBinary()
	if !bytes.Equal(w, m) {
		t.Fatal("merged instances differ from one over the whole stream")
	}
	if whole.Sketch.Groups() < 10 {
		t.Fatalf("%d groups", whole.Sketch.Groups())
	}
	var back GroupHLL
	if err := back.UnmarshalBinary(w); err != nil {
		t.Fatal(err)
	}
	if again, _ := back.MarshalBinary(); !bytes.Equal(again, w) {
		t.Fatal("state does not round-trip")
	}
	if err := back.UnmarshalBinary(w[:len(w)-1]); err == nil {
		t.Fatal("truncated state accepted")
	}
}

// TestGroupHLLMemoryLimit: past MaxBytes the operator fails with
// ErrMemoryLimit instead of dropping groups.
func TestGroupHLLMemoryLimit(t *testing.T) {
	bs := groupBatches(5, 40000, 1)
	g, _ := sketch.NewGroupHLL(12)
	op := &GroupHLL{Sketch: g, MaxBytes: 8 << 10}
	var err error
	for _, b := range bs {
		if err = op.Process(b, new(Batch)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrMemoryLimit) {
		t.Fatalf("err %v, want ErrMemoryLimit", err)
	}
}
