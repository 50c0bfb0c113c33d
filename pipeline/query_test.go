package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

func distinctGraph(t *testing.T, par int) *Pipeline {
	t.Helper()
	keys := zipfKeys(5000, 1)
	p, err := New(sources(keys, par), []Stage{{
		Name: "distinct", Parallelism: par,
		New: func(int) (Operator, error) {
			h, err := sketch.NewHLL(12)
			return &Distinct{HLL: h}, err
		},
	}}, Config{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQueryStageOutOfRange: Query, StageOperators and QueryAs return
// ErrNoStage for a stage that does not exist, and Operators returns nil,
// where they used to panic.
func TestQueryStageOutOfRange(t *testing.T) {
	p := distinctGraph(t, 2)
	for _, s := range []int{-1, 1, 7} {
		if err := p.Query(s, func(int, Operator) error { return nil }); !errors.Is(err, ErrNoStage) {
			t.Errorf("Query(%d) = %v, want ErrNoStage", s, err)
		}
		if ops, err := p.StageOperators(s); ops != nil || !errors.Is(err, ErrNoStage) {
			t.Errorf("StageOperators(%d) = %v, %v, want ErrNoStage", s, ops, err)
		}
		if ops := p.Operators(s); ops != nil {
			t.Errorf("Operators(%d) = %v, want nil", s, ops)
		}
		if err := QueryAs(p, s, func(int, *Distinct) error { return nil }); !errors.Is(err, ErrNoStage) {
			t.Errorf("QueryAs(%d) = %v, want ErrNoStage", s, err)
		}
	}
}

// TestQueryAs merges the instances' HLLs without a type assertion, and
// refuses a stage of another type before calling fn.
func TestQueryAs(t *testing.T) {
	p := distinctGraph(t, 3)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	total, _ := sketch.NewHLL(12)
	var seen []int
	err := QueryAs(p, 0, func(i int, op *Distinct) error {
		seen = append(seen, i)
		return total.Merge(op.HLL)
	})
	if err != nil || len(seen) != 3 {
		t.Fatalf("QueryAs visited %v: %v", seen, err)
	}
	want := distinctKeys(zipfKeys(5000, 1))
	if e := total.Estimate(); float64(want) < e.Lower || float64(want) > e.Upper {
		t.Errorf("merged estimate %+v, truth %d", e, want)
	}
	called := false
	err = QueryAs(p, 0, func(int, *Frequency) error { called = true; return nil })
	if !errors.Is(err, ErrOperatorType) || called {
		t.Errorf("QueryAs of the wrong type = %v (fn called %v), want ErrOperatorType", err, called)
	}
}

func distinctKeys(keys [][]byte) int {
	m := map[string]bool{}
	for _, k := range keys {
		m[string(k)] = true
	}
	return len(m)
}
