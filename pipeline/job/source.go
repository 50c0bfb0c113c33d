package job

// A worker as a checkpointed pipeline source: its position (for tools that
// read checkpoints), its state, and the dealing of the states of a
// checkpoint with another number of workers.

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// Position implements pipeline.SeekableSource (see workerPos), so that a
// checkpoint also records where each worker is; the worker restores from
// its state (RestoreSource).
func (w *worker) Position() int64 {
	if w.cur != nil {
		off := w.cur.Position()
		if w.curIn.stream != nil {
			off += w.streamAt
		}
		return workerPos(w.k, off, true)
	}
	if len(w.items) > 0 || !w.planned {
		k := 0
		if len(w.items) > 0 {
			k = w.items[0].k
		}
		return workerPos(k, 0, false)
	}
	return workerPos(len(w.plan.inputs), 0, false)
}

// SetPosition implements pipeline.SeekableSource: the next Fill goes on
// from pos in the worker's share of the inputs from their start, with no
// counters or stream hashes before it (a job restores its workers from
// their states, RestoreSource, which have both).
func (w *worker) SetPosition(pos int64) error {
	k, off, started := DecodePosition(pos)
	if pos < 0 || k > len(w.plan.inputs) || w.planned {
		return fmt.Errorf("worker %d: position %#x: %w", w.idx, pos, sketch.ErrCorrupt)
	}
	var its []item
	for _, it := range w.plan.items(w.idx) {
		switch {
		case it.k < k && it.kind == itemStream:
			it.kind = itemDrain
			it.sum = 0
		case it.k < k:
			continue
		case it.k == k && started && it.kind == itemRange:
			it.start = max(it.start, off)
		case it.k == k && started:
			it.pos = off
		}
		its = append(its, it)
	}
	w.items, w.planned, w.unchecked = its, true, true
	return nil
}

// SourceState implements pipeline.StatefulSource: the worker's counters
// and the items left of its share, the one it is reading advanced to
// where it is, at a checkpoint barrier (between two Fills).
func (w *worker) SourceState() ([]byte, error) {
	if !w.planned && !w.plan.dynamic {
		w.items, w.planned = w.plan.items(w.idx), true
	}
	st := workerState{c: w.counts(), items: slices.Clone(w.drained)}
	if w.cur != nil {
		it := w.curItem
		switch it.kind {
		case itemRange:
			it.start = w.cur.Position()
		case itemStream:
			it.pos = w.streamAt + w.cur.Position()
			it.sum = w.sum.Sum64()
		}
		if it.kind != itemRange || it.start < it.end {
			st.items = append(st.items, it)
		}
	}
	st.items = append(st.items, w.items...)
	return appendWorkerState(nil, st), nil
}

// RestoreSource implements pipeline.StatefulSource: the worker goes on
// from state, which must fit the job's inputs (New made sure they are the
// ones the checkpoint was taken of).
func (w *worker) RestoreSource(state []byte) error {
	st, err := decodeWorkerState(state)
	if err != nil {
		return fmt.Errorf("worker %d: %w", w.idx, err)
	}
	if err := w.plan.fit(st.items, true); err != nil {
		return fmt.Errorf("worker %d: %w", w.idx, err)
	}
	w.mu.Lock()
	w.base = st.c
	w.mu.Unlock()
	w.items, w.planned = st.items, true
	return nil
}

// fit checks that items are parts of the plan's inputs and, if set, sets
// each stream's chunk size and earlier dealings from them (the same for
// every worker).
func (pl *plan) fit(items []item, set bool) error {
	for _, it := range items {
		if it.k >= len(pl.inputs) {
			return fmt.Errorf("input %d of %d: %w", it.k, len(pl.inputs), sketch.ErrCorrupt)
		}
		in := pl.inputs[it.k]
		if (it.kind == itemRange) != (in.stream == nil) {
			return fmt.Errorf("input %d (%s) read as a file and as a stream: %w", it.k, in.name, sketch.ErrCorrupt)
		}
		if it.kind == itemRange {
			if it.end > in.size+1 && in.size > 0 || len(in.ranges) == 0 {
				return fmt.Errorf("%s: range [%d, %d) past its %d bytes: %w", in.name, it.start, it.end, in.size, sketch.ErrCorrupt)
			}
			continue
		}
		s := in.stream
		if !set {
			continue
		}
		if !s.sized {
			s.size, s.layers, s.sized = it.size, it.layers, true
			continue
		}
		if s.size != it.size || !slices.EqualFunc(s.layers, it.layers, layer.equal) {
			return fmt.Errorf("%s: the workers' states disagree on how it was dealt: %w", in.name, sketch.ErrCorrupt)
		}
	}
	return nil
}

// RedealSources implements pipeline.RescalableSource: the states of a
// checkpoint taken with len(states) workers, dealt to m. What is left of
// each file (the unread part of every old worker's ranges) is cut into m
// ranges per old range, at line starts, range j going to worker j; each
// stream gets a layer (see filter) that drops what the old workers had
// counted, and the rest is dealt anew to the m workers. The old counters
// go to worker 0, so the job's total is unchanged.
func (w *worker) RedealSources(states [][]byte, m int) ([][]byte, error) {
	pl := w.plan
	old := make([]workerState, len(states))
	for i, data := range states {
		st, err := decodeWorkerState(data)
		if err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		if err := pl.fit(st.items, false); err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		old[i] = st
	}
	out := make([]workerState, m)
	for _, st := range old {
		out[0].c.Add(st.c)
	}
	for k, in := range pl.inputs {
		if in.stream == nil {
			if err := pl.redealFile(k, old, out); err != nil {
				return nil, err
			}
			continue
		}
		it, err := redealStream(k, in, old)
		if err != nil {
			return nil, err
		}
		for j := range out {
			out[j].items = append(out[j].items, it)
		}
	}
	enc := make([][]byte, m)
	for j, st := range out {
		enc[j] = appendWorkerState(nil, st)
	}
	return enc, nil
}

// redealFile deals what the old workers had left of file k to the new.
func (pl *plan) redealFile(k int, old, out []workerState) error {
	in := pl.inputs[k]
	split := pipeline.SplitReaderAt
	if pl.framing() != pipeline.FrameLines {
		split = pipeline.SplitCSVReaderAt
	}
	for _, st := range old {
		for _, it := range st.items {
			if it.k != k || it.start >= it.end {
				continue
			}
			// it.start is a line (record) start: the part of the file
			// from there cuts as a file of its own.
			end := min(it.end, in.size)
			if end <= it.start {
				// The last line of a range reaches past the file's
				// known end only if the file is empty.
				out[0].items = append(out[0].items, it)
				continue
			}
			sec := io.NewSectionReader(in.file, it.start, end-it.start)
			rs, err := split(sec, in.name, end-it.start, len(out))
			if err != nil {
				return fileError(in.name, err)
			}
			for j, r := range rs {
				hi := it.start + r.End
				if j == len(rs)-1 {
					hi = it.end
				}
				out[j].items = append(out[j].items, item{kind: itemRange, k: k, start: it.start + r.Start, end: hi})
			}
		}
	}
	return nil
}

// redealStream returns the item of stream k for every new worker: the old
// workers' positions in it become a layer, unless none had read any of it.
func redealStream(k int, in *input, old []workerState) (item, error) {
	var l layer
	var prev *item
	read := false
	for i, st := range old {
		j := slices.IndexFunc(st.items, func(it item) bool { return it.k == k })
		if j < 0 {
			return item{}, fmt.Errorf("worker %d has no part of %s: %w", i, in.name, sketch.ErrCorrupt)
		}
		it := st.items[j]
		if prev != nil && (prev.size != it.size || !slices.EqualFunc(prev.layers, it.layers, layer.equal)) {
			return item{}, fmt.Errorf("%s: the workers' states disagree on how it was dealt: %w", in.name, sketch.ErrCorrupt)
		}
		prev = &st.items[j]
		p := it.pos
		if it.kind == itemDrain {
			p = -1
		}
		read = read || p != 0
		l.pos, l.sums = append(l.pos, p), append(l.sums, it.sum)
	}
	l.size = prev.size
	it := item{kind: itemStream, k: k, size: in.stream.size, layers: prev.layers, sum: xxhash.Sum64(nil)}
	if read {
		it.layers = append(slices.Clip(prev.layers), l)
	}
	return it, nil
}

// drain reads and discards this worker's share of a stream it has
// finished (it), hashing it, and checks the hash.
func (w *worker) drain(in *input, it item) error {
	h := xxhash.New()
	if _, err := io.Copy(h, w.view(in)); err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	return w.check(in, h.Sum64(), it.sum)
}

// check compares the hash got of bytes of stream in that a restored
// checkpoint accounts for with the one it recorded, unless the worker was
// restored from a bare position, and counts the check passed (see
// verify.go).
func (w *worker) check(in *input, got, want uint64) error {
	if w.unchecked {
		return nil
	}
	if got != want {
		return otherStream(in)
	}
	w.plan.verify.passed()
	return nil
}

// skipStream reads and discards the first it.pos bytes of the worker's
// view of stream in (the part a resumed checkpoint accounts for), hashing
// them, and checks the hash.
func (w *worker) skipStream(in *input, it item) error {
	if it.pos == 0 {
		return nil
	}
	h := w.sum
	if h == nil {
		h = xxhash.New()
	}
	got, err := io.CopyN(h, w.cr, it.pos)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: input ended %d bytes before the checkpoint's position: not the stream the checkpoint was taken of: %w", in.name, it.pos-got, ErrOtherStream)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	return w.check(in, h.Sum64(), it.sum)
}

// otherStream is the error of a stream whose bytes before a checkpoint's
// position differ from those the checkpoint was taken of: it is refused,
// not counted as if it were that stream.
func otherStream(in *input) error {
	return fmt.Errorf("%s: not the stream the checkpoint was taken of (its bytes before the checkpoint's position differ): %w", in.name, ErrOtherStream)
}
