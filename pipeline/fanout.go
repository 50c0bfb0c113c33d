package pipeline

import (
	"context"

	"github.com/streamstat/streamstat/flowcontrol"
)

// fanEmitter ships a segment's output down every branch of a fan-out: the
// upstream writes into in; a flush re-keys in's records into each branch's
// emitter (an edge emitter to the branch's first segment, which partitions
// by the new hash) and flushes it with the same mode, so a barrier, a
// lockstep round or the end of input reaches every branch alike.
//
// The branches are served in turn on the upstream's goroutine: the slowest
// branch sets the pace (back-pressure), and no branch runs ahead of
// another by more than its channel's credits.
type fanEmitter struct {
	in       Batch
	children []emitter
	branches []*branchState
}

func (p *Pipeline) newFanEmitter(sg *segment, i int) *fanEmitter {
	e := &fanEmitter{}
	for _, d := range sg.down {
		e.children = append(e.children, p.edgeEmitter(sg, d, i))
		e.branches = append(e.branches, d.branch)
	}
	return e
}

func (e *fanEmitter) out(context.Context) (*Batch, error) { return &e.in, nil }

func (e *fanEmitter) flush(ctx context.Context, mode flushMode) error {
	for j, c := range e.children {
		if n := e.in.Len(); n > 0 {
			b, err := c.out(ctx)
			if err != nil {
				return err
			}
			bs := e.branches[j]
			kept := rekey(bs.key, &e.in, b)
			bs.records.Add(uint64(kept))
			if kept < n {
				bs.skipped.Add(uint64(n - kept))
			}
		}
		if err := c.flush(ctx, mode); err != nil {
			return err
		}
	}
	e.in.Reset()
	return nil
}

func (e *fanEmitter) barrier(ctx context.Context, id uint64) error {
	for _, c := range e.children {
		if err := c.barrier(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (e *fanEmitter) close() {
	for _, c := range e.children {
		c.close()
	}
}

// senders returns the channels of every branch, for Pressure.
func (e *fanEmitter) senders() []*flowcontrol.Sender[*Batch] {
	var s []*flowcontrol.Sender[*Batch]
	for _, c := range e.children {
		switch c := c.(type) {
		case *senderEmitter:
			s = append(s, c.senders...)
		case *keyEmitter:
			s = append(s, c.senders...)
		}
	}
	return s
}
