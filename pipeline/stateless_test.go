package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestCheckpointRefusesUndeclaredState: with checkpoints, New refuses an
// operator that keeps state without saving it (a counting OperatorFunc),
// naming the stage, and accepts Stateful operators, operators wrapped
// with Stateless, and Rekey.
func TestCheckpointRefusesUndeclaredState(t *testing.T) {
	counter := func(int) (Operator, error) {
		n := 0
		return OperatorFunc(func(in, out *Batch) error { n += in.Len(); return nil }), nil
	}
	hll := func(int) (Operator, error) {
		h, err := sketch.NewHLL(10)
		return &Distinct{HLL: h}, err
	}
	for _, tc := range []struct {
		name string
		op   func(int) (Operator, error)
		ok   bool
	}{
		{"counting OperatorFunc", counter, false},
		{"Stateless(counting OperatorFunc)", func(i int) (Operator, error) { op, err := counter(i); return Stateless(op), err }, true},
		{"Stateful Distinct", hll, true},
		{"Rekey", func(int) (Operator, error) { return &Rekey{}, nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen, err := NewGenerator(GeneratorConfig{Seed: 1, Keys: 100, Count: 1000})
			if err != nil {
				t.Fatal(err)
			}
			p, err := New([]Source{gen}, []Stage{{Name: "op", New: tc.op}},
				Config{Checkpoint: &CheckpointConfig{Store: newMemStore()}})
			if tc.ok {
				if err != nil {
					t.Fatalf("New = %v", err)
				}
				if err := p.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrNotStateful) {
				t.Fatalf("New = %v, want ErrNotStateful", err)
			}
			if _, err := New([]Source{gen}, []Stage{{Name: "op", New: tc.op}}, Config{}); err != nil {
				t.Errorf("without checkpoints New = %v", err)
			}
		})
	}
}

// TestQueryAsUnwrapsStateless: QueryAs sees through Stateless.
func TestQueryAsUnwrapsStateless(t *testing.T) {
	f := &fingerprint{}
	gen, err := NewGenerator(GeneratorConfig{Seed: 1, Keys: 100, Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New([]Source{gen}, []Stage{{Name: "fp", New: func(int) (Operator, error) { return Stateless(f), nil }}},
		Config{Checkpoint: &CheckpointConfig{Store: newMemStore()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got *fingerprint
	if err := QueryAs(p, 0, func(_ int, op *fingerprint) error { got = op; return nil }); err != nil || got != f || f.n != 1000 {
		t.Errorf("QueryAs gave %p (want %p) with %d records, %v", got, f, f.n, err)
	}
}
