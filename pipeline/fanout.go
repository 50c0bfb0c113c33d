package pipeline

import (
	"context"

	"github.com/streamstat/streamstat/flowcontrol"
	"github.com/streamstat/streamstat/sketch"
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
	rec      Record    // scratch for rekeyByKey
	by       *byLength // scratch for rekey's hashLines, made on first use
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
			bs := e.branches[j]
			var kept int
			if ke, ok := c.(*keyEmitter); ok {
				var err error
				if kept, err = rekeyByKey(ctx, bs.key, &e.in, ke, &e.rec); err != nil {
					return err
				}
			} else {
				b, err := c.out(ctx)
				if err != nil {
					return err
				}
				if e.by == nil && bs.key != nil {
					e.by = new(byLength)
				}
				kept = rekey(bs.key, &e.in, b, e.by)
			}
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

// rekeyByKey re-keys in's records straight into the per-receiver batches
// of a by-key emitter, as keyEmitter.flush partitions its scratch batch,
// saving a copy of every record and key; it returns how many it kept. r is
// scratch space for the record being re-keyed (a pointer to a local would
// escape through the KeyFunc call: an allocation per record).
func rekeyByKey(ctx context.Context, key KeyFunc, in *Batch, e *keyEmitter, r *Record) (int, error) {
	kept := 0
	for i := range in.Records {
		*r = in.Records[i]
		k := in.Key(i)
		if key != nil {
			var ok bool
			if k, ok = key(k, r); !ok {
				continue
			}
			r.Hash = sketch.Hash(k)
		}
		j := e.receiver(r.Hash)
		b, err := e.target(ctx, j)
		if err != nil {
			return kept, err
		}
		off := b.appendArena(k)
		r.keyOff, r.keyLen = uint32(off), uint32(len(k))
		b.Records = appendRecord(b.Records, r)
		kept++
		if b.Len() >= e.size && !e.lockstep {
			if err := e.senders[j].Send(ctx, b); err != nil {
				return kept, err
			}
			e.held[j] = nil
		}
	}
	return kept, nil
}
