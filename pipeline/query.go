package pipeline

import (
	"fmt"
	"reflect"
)

// Operators returns the instances of stage s, or nil if there is no stage
// s (StageOperators says why). Read their state through Query while the
// pipeline runs.
func (p *Pipeline) Operators(s int) []Operator {
	ops, _ := p.StageOperators(s)
	return ops
}

// StageOperators returns the instances of stage s, or an error wrapping
// ErrNoStage if there is no stage s. Read their state through Query while
// the pipeline runs.
func (p *Pipeline) StageOperators(s int) ([]Operator, error) {
	if err := p.checkStage(s); err != nil {
		return nil, err
	}
	ops := make([]Operator, len(p.ops[s]))
	for i, in := range p.ops[s] {
		ops[i] = in.op
	}
	return ops, nil
}

func (p *Pipeline) checkStage(s int) error {
	if s < 0 || s >= len(p.ops) {
		return fmt.Errorf("pipeline: stage %d of %d: %w", s, len(p.ops), ErrNoStage)
	}
	return nil
}

// Query calls fn with each instance of stage s in instance order, each
// while it is between batches, and stops at the first error. Use it to
// merge the instances' states into an answer while the pipeline runs. A
// stage out of range is an error wrapping ErrNoStage. QueryAs saves the
// type assertion.
func (p *Pipeline) Query(s int, fn func(instance int, op Operator) error) error {
	if err := p.checkStage(s); err != nil {
		return err
	}
	for i, in := range p.ops[s] {
		in.mu.Lock()
		err := fn(i, in.op)
		in.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// QueryAs is Query with each instance as a T: an operator declared with
// Stateless is unwrapped first. An instance that is not a T stops the
// query with an error wrapping ErrOperatorType, before fn sees it.
//
//	total, _ := sketch.NewHLL(14)
//	err := pipeline.QueryAs(p, 0, func(_ int, op *pipeline.Distinct) error {
//		return total.Merge(op.HLL)
//	})
func QueryAs[T Operator](p *Pipeline, s int, fn func(instance int, op T) error) error {
	return p.Query(s, func(i int, op Operator) error {
		t, ok := op.(T)
		if !ok {
			if w, isW := op.(interface{ Unwrap() Operator }); isW {
				t, ok = w.Unwrap().(T)
			}
		}
		if !ok {
			return fmt.Errorf("pipeline: stage %d instance %d is %T, not %v: %w", s, i, op, reflect.TypeFor[T](), ErrOperatorType)
		}
		return fn(i, t)
	})
}
