package pipeline

import "fmt"

// StatelessOperator is an operator that declares it keeps no state a
// checkpoint must save: its output depends only on the batch in hand.
// With Config.Checkpoint, New accepts only operators that are Stateful or
// StatelessOperator, so that no state is silently lost on restore. Rekey
// declares itself stateless; wrap any other operator with Stateless.
type StatelessOperator interface {
	Operator
	// Stateless is a marker; it does nothing.
	Stateless()
}

// Stateless declares that op keeps no state a checkpoint must save, for
// an operator (an OperatorFunc that filters, say) to run under
// Config.Checkpoint. The wrapper is what Query and Operators see; QueryAs
// unwraps it (as does its Unwrap method). Wrapping an operator that does
// keep state means that state starts from scratch on every restore.
func Stateless(op Operator) Operator { return statelessOp{op} }

type statelessOp struct{ op Operator }

func (o statelessOp) Process(in, out *Batch) error { return o.op.Process(in, out) }

// Stateless implements StatelessOperator.
func (statelessOp) Stateless() {}

// Unwrap returns the wrapped operator.
func (o statelessOp) Unwrap() Operator { return o.op }

// Stateless implements StatelessOperator: Rekey keeps no state.
func (*Rekey) Stateless() {}

// checkStateful refuses, for checkpoints, an operator instance that
// neither saves its state nor declares it has none.
func (p *Pipeline) checkStateful() error {
	for s, insts := range p.ops {
		for i, in := range insts {
			switch in.op.(type) {
			case Stateful, StatelessOperator:
				continue
			}
			return fmt.Errorf("pipeline: stage %d %q instance %d: %T with checkpoints: %w; implement Stateful, or wrap it with pipeline.Stateless if it keeps no state", s, p.stages[s].Name, i, in.op, ErrNotStateful)
		}
	}
	return nil
}
