package pipeline

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/streamstat/streamstat/internal/envelope"
)

// windowStateVersion is the first byte of a Window's state.
const windowStateVersion = 1

// MarshalBinary implements Stateful: the shape (size, slide, lateness,
// event time), the position (started, next slot, largest time), the late
// and untimed counts, the latest answer (its bounds, counts and merged
// state), then each ring slot's record count and, if it holds records,
// its operator's state; integers as varints, states length-prefixed.
func (w *Window) MarshalBinary() ([]byte, error) {
	if err := w.setup(); err != nil {
		return nil, err
	}
	b := []byte{windowStateVersion}
	b = binary.AppendVarint(b, w.size)
	b = binary.AppendVarint(b, w.slide)
	b = binary.AppendVarint(b, int64(w.Lateness))
	b = binary.AppendUvarint(b, uint64(b2u(w.EventTime)|b2u(w.started)<<1|b2u(w.last.Op != nil)<<2))
	b = binary.AppendVarint(b, w.next)
	b = binary.AppendVarint(b, w.maxT)
	b = binary.AppendUvarint(b, w.late)
	b = binary.AppendUvarint(b, w.untimed)
	if w.last.Op != nil {
		b = binary.AppendVarint(b, w.last.Start.UnixNano())
		b = binary.AppendVarint(b, w.last.End.UnixNano())
		b = binary.AppendUvarint(b, w.last.Records)
		b = binary.AppendUvarint(b, w.last.Late)
		b = binary.AppendUvarint(b, w.last.Untimed)
		st, err := w.scratch.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = binary.AppendUvarint(b, uint64(len(st)))
		b = append(b, st...)
	}
	for i, op := range w.ring {
		b = binary.AppendUvarint(b, w.counts[i])
		if w.counts[i] == 0 {
			continue
		}
		st, err := op.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = binary.AppendUvarint(b, uint64(len(st)))
		b = append(b, st...)
	}
	return b, nil
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// UnmarshalBinary implements Stateful. The Window must have the shape the
// state was written with (ErrWindow otherwise); bad bytes are an error
// wrapping envelope's ErrCorrupt or ErrTruncated, or the slot operator's
// own. The slots are restored into new operators from New, so on error w
// is unchanged.
func (w *Window) UnmarshalBinary(data []byte) error {
	if err := w.setup(); err != nil {
		return err
	}
	r := envelope.NewReader(data)
	if v := r.U8(); r.Err == nil && v != windowStateVersion {
		return fmt.Errorf("pipeline: window state version %d, this build reads %d: %w", v, windowStateVersion, envelope.ErrVersion)
	}
	size, slide, late := r.Varint(), r.Varint(), r.Varint()
	flags := r.Uvarint()
	if r.Err != nil {
		return fmt.Errorf("pipeline: window state: %w", r.Err)
	}
	if size != w.size || slide != w.slide || late != int64(w.Lateness) || flags&1 != uint64(b2u(w.EventTime)) {
		return fmt.Errorf("pipeline: window state of size %v, slide %v, lateness %v, event time %v into a window of %v, %v, %v, %v: %w",
			time.Duration(size), time.Duration(slide), time.Duration(late), flags&1 == 1,
			time.Duration(w.size), time.Duration(w.slide), w.Lateness, w.EventTime, ErrWindow)
	}
	if flags > 7 {
		return fmt.Errorf("pipeline: window state flags %#x: %w", flags, envelope.ErrCorrupt)
	}
	n := *w
	n.started, n.next, n.maxT = flags&2 != 0, r.Varint(), r.Varint()
	n.late, n.untimed = r.Uvarint(), r.Uvarint()
	mk := w.New
	if mk == nil {
		mk = func() (Mergeable, error) { return new(Distinct), nil }
	}
	state := func() []byte {
		return r.Bytes(int(min(r.Uvarint(), uint64(r.Len()))))
	}
	restore := func(mk func() (Mergeable, error), st []byte) (Mergeable, error) {
		op, err := mk()
		if err != nil {
			return nil, err
		}
		if r.Err != nil {
			return nil, fmt.Errorf("pipeline: window state: %w", r.Err)
		}
		if err := op.UnmarshalBinary(st); err != nil {
			return nil, fmt.Errorf("pipeline: window slot state: %w", err)
		}
		return op, nil
	}
	n.last = WindowAnswer{}
	if flags&4 != 0 {
		start, end := r.Varint(), r.Varint()
		n.last.Records, n.last.Late, n.last.Untimed = r.Uvarint(), r.Uvarint(), r.Uvarint()
		n.last.Start, n.last.End = time.Unix(0, start), time.Unix(0, end)
		op, err := restore(mk, state())
		if err != nil {
			return err
		}
		n.scratch, n.last.Op = op, op
	}
	n.ring = make([]Mergeable, len(w.ring))
	n.counts = make([]uint64, len(w.ring))
	n.held = 0
	for i := range n.ring {
		n.counts[i] = r.Uvarint()
		st := n.empty
		if n.counts[i] != 0 {
			st = state()
		}
		op, err := restore(w.slotNew, st)
		if err != nil {
			return err
		}
		n.ring[i] = op
		n.held += n.counts[i]
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("pipeline: window state: %w", err)
	}
	*w = n
	return nil
}
