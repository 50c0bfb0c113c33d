package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// Checkpoints of an instance that takes several inputs in strict turn
// (Config.Unordered unset, by-key input) must not change the turn order:
// holding an aligned input back while the others go on, as Flink's
// alignment does, would give the others extra turns, and the state would
// depend on where the barriers fell. So such an instance never holds an
// input. It snapshots when the first barrier reaches it in turn, forwards
// the barrier at once, and goes on taking its inputs in the same turn
// order, a barrier taking no turn; until each other input delivers its
// barrier, the batches it delivers (those before its barrier, processed
// after the snapshot) are logged with the checkpoint, with their batch
// boundaries and the turn at the snapshot. Recovery processes each input's
// logged batches first, in that input's turns from that turn on, then its
// channel: the interleaving is the one a run without checkpoints or
// failures has, so the state is the same, byte for byte. Exactly-once
// holds as with an unaligned checkpoint: each record is in the snapshot,
// in the log, or replayed by its source after the barrier, once.

// orderLog gathers an ordered instance's log for one checkpoint.
type orderLog struct {
	turn   int      // the input whose turn it was at the snapshot
	counts []int    // batches logged per input
	bufs   [][]byte // per input: per batch its record count, then the records
}

func (l *orderLog) start(turn, inputs int) {
	l.turn = turn
	if len(l.counts) != inputs {
		l.counts, l.bufs = make([]int, inputs), make([][]byte, inputs)
	}
	for i := range l.counts {
		l.counts[i], l.bufs[i] = 0, l.bufs[i][:0]
	}
}

func (l *orderLog) add(input int, b *Batch) {
	l.counts[input]++
	l.bufs[input] = binary.AppendUvarint(l.bufs[input], uint64(b.Len()))
	l.bufs[input] = appendBatch(l.bufs[input], b)
}

// encode returns the log as a checkpoint part: the turn, the number of
// inputs, then per input its batch count and batches.
func (l *orderLog) encode() []byte {
	n := 0
	for _, b := range l.bufs {
		n += len(b) + 10
	}
	out := make([]byte, 0, n+20)
	out = binary.AppendUvarint(out, uint64(l.turn))
	out = binary.AppendUvarint(out, uint64(len(l.counts)))
	for i, c := range l.counts {
		out = binary.AppendUvarint(out, uint64(c))
		out = append(out, l.bufs[i]...)
	}
	return out
}

// orderState is a restored orderLog: where the turn stood and each input's
// batches to take first.
type orderState struct {
	turn    int
	pending [][]*Batch
}

// decodeOrder reads what orderLog.encode wrote, in linear time: every
// count is checked against the bytes left before anything is allocated
// for it.
func decodeOrder(data []byte) (orderState, error) {
	r := envelope.NewReader(data)
	turn, n := r.Uvarint(), r.Uvarint()
	if r.Err != nil || n == 0 || n > uint64(r.Len()) || turn >= n {
		return orderState{}, fmt.Errorf("pipeline: ordered log of %d inputs, turn %d: %w", n, turn, envelope.ErrCorrupt)
	}
	st := orderState{turn: int(turn), pending: make([][]*Batch, n)}
	for i := range st.pending {
		nb := r.Uvarint()
		if nb > uint64(r.Len()) {
			return orderState{}, fmt.Errorf("pipeline: ordered log: %d batches in %d bytes: %w", nb, r.Len(), envelope.ErrCorrupt)
		}
		for range nb {
			nr := r.Uvarint()
			if nr > uint64(r.Len()) {
				return orderState{}, fmt.Errorf("pipeline: ordered log: %d records in %d bytes: %w", nr, r.Len(), envelope.ErrCorrupt)
			}
			b := new(Batch)
			for range nr {
				if err := decodeRecord(r, b); err != nil {
					return orderState{}, err
				}
			}
			if r.Err != nil {
				return orderState{}, fmt.Errorf("pipeline: ordered log: %w", r.Err)
			}
			st.pending[i] = append(st.pending[i], b)
		}
	}
	if err := r.Done(); err != nil {
		return orderState{}, fmt.Errorf("pipeline: ordered log: %w", err)
	}
	return st, nil
}

// isOrderLog reports whether a part name is an ordered instance's log.
func isOrderLog(name string) bool { return len(name) > 6 && name[:6] == "order-" }

// restoreOrder reads the ordered logs of checkpoint m but those in drop.
func (p *Pipeline) restoreOrder(store checkpoint.Store, m checkpoint.Manifest, drop map[string]bool) error {
	p.order = map[string]orderState{}
	for _, part := range m.Parts {
		if !isOrderLog(part.Name) || drop[part.Name] {
			continue
		}
		data, err := store.ReadPart(m, part.Name)
		if err != nil {
			return err
		}
		st, err := decodeOrder(data)
		if err != nil {
			return fmt.Errorf("pipeline: checkpoint %d part %s: %w", m.ID, part.Name, err)
		}
		p.order[part.Name] = st
	}
	return nil
}

// restoredOrder returns the ordered log restored for this task, checked
// against its inputs; the zero orderState means none.
func (t *task) restoredOrder(inputs int) (orderState, error) {
	st, ok := t.p.order[partName("order", t.stages[0], t.idx)]
	if !ok {
		return orderState{}, nil
	}
	if len(st.pending) != inputs {
		return orderState{}, fmt.Errorf("pipeline: %s[%d]: ordered log of %d inputs, instance of %d: %w", t.names[0], t.idx, len(st.pending), inputs, ErrTopologyMismatch)
	}
	return st, nil
}

// flushBeforeBarrier ships what e holds before a barrier. A lockstep
// by-key emitter holds nothing between rounds (each flush sends a round),
// and must not send an extra, empty round: the receivers, taking a batch
// per input in turn, would see their inputs' rounds shifted against each
// other, and the interleaving would depend on where barriers fell.
//
// A source that sheds gathers kept records across Fills (see gatherer) in
// the batch out hands it: those, if any, ship now, before the barrier, in
// a round that is no extra one, for their position is the barrier's.
func flushBeforeBarrier(ctx context.Context, e emitter) error {
	switch e := e.(type) {
	case *keyEmitter:
		if e.lockstep && e.scratch.Len() == 0 {
			return nil
		}
	case *fanEmitter:
		if e.in.Len() > 0 {
			return e.flush(ctx, flushAll)
		}
		for _, c := range e.children {
			if err := flushBeforeBarrier(ctx, c); err != nil {
				return err
			}
		}
		return nil
	}
	return e.flush(ctx, flushAll)
}
