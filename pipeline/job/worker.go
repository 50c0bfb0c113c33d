package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/streamstat/streamstat/flowcontrol"
	"github.com/streamstat/streamstat/internal/errmsg"
	"github.com/streamstat/streamstat/pipeline"
)

// newWorkers returns the plan's workers, which read with ctx.
func (pl *plan) newWorkers(ctx context.Context) []*worker {
	ws := make([]*worker, pl.workers)
	for i := range ws {
		ws[i] = &worker{plan: pl, idx: i, ctx: ctx, wake: make(chan struct{}, 1)}
	}
	return ws
}

// Counts are the line counters of a job, or of one worker: a plain value,
// whose zero value counts nothing.
type Counts struct {
	Records uint64 // lines read, including skipped ones
	Skipped uint64 // lines without the selected field
	Bad     uint64 // values that are not numbers
	Bytes   uint64 // bytes read, newlines included
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Records += o.Records
	c.Skipped += o.Skipped
	c.Bad += o.Bad
	c.Bytes += o.Bytes
}

func lineCounts(ls *pipeline.LineSource) Counts {
	if ls == nil {
		return Counts{}
	}
	return Counts{Records: uint64(ls.Lines()), Skipped: uint64(ls.Skipped()), Bad: uint64(ls.BadValues()), Bytes: uint64(ls.Bytes())}
}

// worker is a pipeline.Source: worker idx's share of every input, in
// order, each part read by a LineSource. With checkpoints it is also a
// pipeline.StatefulSource, RescalableSource and WakeableSource (and a
// SeekableSource, for the position tools read; see source.go). Its
// counters may be read from any goroutine.
type worker struct {
	plan *plan
	idx  int
	ctx  context.Context // for stream reads; set before Run
	// runCtx is the pipeline's context Fill is called with (derived from
	// ctx): a view's reads stop when it is done, so that a worker waiting
	// on a stream stops when another part of the job failed.
	runCtx context.Context

	k     int // current input
	cur   *pipeline.LineSource
	curIn *input

	// Static shares: the items left to read (planned: set from the plan
	// or a restored state), the one being read, and the streams finished
	// (their hashes, for a checkpoint's itemDrain).
	planned bool
	items   []item
	curItem item
	drained []item
	// wake is where Wake signals a Fill waiting on a quiet stream; cr
	// is the current stream view, short whether the last Fill ran out
	// of lines.
	wake  chan struct{}
	cr    *chunkReader
	short bool

	// Checkpointed runs: sum hashes the bytes of the current stream view
	// this worker has moved past (its LineSource's Consumed, after those
	// it skipped to a restored position), so that a checkpoint can tell
	// the stream it was taken of (see skipStream); streamAt is where in
	// the view its LineSource started.
	hashing bool
	// unchecked: restored from a bare position (SetPosition), without
	// hashes to check.
	unchecked bool
	sum       *xxhash.Digest
	streamAt  int64

	mu   sync.Mutex // guards base, done and the published current source
	base Counts     // restored from a checkpoint
	done Counts
	pub  *pipeline.LineSource
	err  error // the first input error, with the input's name

	// With LineConfig.Strict and several workers: the record the current
	// source stopped at (its offset is translated to the stream's when the
	// source reads a view of a stream), since its record number counts
	// only the worker's share.
	bad    pipeline.BadLine
	hasBad bool

	// When shedding: the clock that times waits for a stream's bytes,
	// and their total (see InputWait).
	clock  flowcontrol.Clock
	waited time.Duration
}

// Fill implements pipeline.Source.
func (w *worker) Fill(ctx context.Context, b *pipeline.Batch, max int) error {
	// The pipeline stops calling when Fill fails: after another source
	// failed, a worker waiting on a quiet stream (below) must say so.
	if err := ctx.Err(); err != nil {
		return err
	}
	w.runCtx = ctx
	for {
		if w.cur == nil {
			ok, err := w.next()
			if err != nil {
				if ctx.Err() != nil {
					// Stopped (another worker failed): not this
					// worker's error.
					return err
				}
				return w.fail(err)
			}
			if !ok {
				return io.EOF
			}
		}
		if w.short && w.cr != nil && !w.waitInput(w.cr, w.wake) {
			// A quiet stream, and Wake called: return so that a
			// checkpoint barrier waiting at the source goes through.
			return nil
		}
		if w.cr != nil {
			w.cr.prune(w.streamAt + w.cur.Offset())
		}
		n := b.Len()
		err := w.cur.Fill(ctx, b, max)
		w.short = err == nil && b.Len()-n < max
		if err == nil {
			return nil
		}
		if !errors.Is(err, io.EOF) {
			if ctx.Err() != nil || w.ctx.Err() != nil {
				return err
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				// Only a resumed stream skips to a position.
				err = fmt.Errorf("%w (not the stream the checkpoint was taken of)", err)
			}
			if w.hasBad && errors.Is(err, w.bad.Err) {
				err = w.strictError(err)
			}
			return w.fail(fileError(w.curIn.name, err))
		}
		w.finish()
		if b.Len() > 0 {
			return nil
		}
	}
}

func (w *worker) fail(err error) error {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	return err
}

// strictError is the error of a strict source over part of an input read
// by several workers: the record's offset in the input, exact, without
// the record number, which counts only this worker's records.
func (w *worker) strictError(err error) error {
	off := w.bad.Offset
	if w.cr != nil {
		off = w.cr.streamOffset(w.streamAt + off)
	}
	if w.plan.workers < 2 {
		// One worker (its view of a stream starting after a CSV header):
		// its records are all of them.
		return errmsg.Wrap(fmt.Sprintf("record %d at offset %d: %v", w.bad.Number, off, w.bad.Err), err)
	}
	return errmsg.Wrap(fmt.Sprintf("record at offset %d: %v", off, w.bad.Err), err)
}

// sourceConfig is cfg for one of the worker's sources: with Strict and
// several workers, it notes the record a source stops at.
func (w *worker) sourceConfig(cfg pipeline.LineConfig) pipeline.LineConfig {
	if !cfg.Strict || w.plan.workers < 2 && !w.plan.dropsHeader() {
		return cfg
	}
	w.hasBad = false
	next := cfg.OnBadLine
	cfg.OnBadLine = func(bl pipeline.BadLine) {
		w.bad, w.hasBad = pipeline.BadLine{Number: bl.Number, Offset: bl.Offset, Err: bl.Err}, true
		if next != nil {
			next(bl)
		}
	}
	return cfg
}

// Wake implements pipeline.WakeableSource: a Fill waiting on a quiet
// stream, or else the next one, returns. A worker in the middle of a line
// still waits for the line's end.
func (w *worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// finish retires the current LineSource, keeping its counts.
func (w *worker) finish() {
	w.cur.Close()
	w.mu.Lock()
	w.done.Add(lineCounts(w.cur))
	w.pub = nil
	w.mu.Unlock()
	if w.curItem.kind == itemStream {
		it := w.curItem
		it.kind, it.pos = itemDrain, 0
		if w.sum != nil {
			it.sum = w.sum.Sum64()
		}
		w.drained = append(w.drained, it)
	}
	w.cur, w.cr, w.short, w.curItem = nil, nil, false, item{}
}

// next opens the worker's next part: a range of a file or its view of a
// stream. It reports false when no input has anything left for it.
func (w *worker) next() (bool, error) {
	if w.plan.dynamic {
		return w.nextDynamic()
	}
	if !w.planned {
		w.items, w.planned = w.plan.items(w.idx), true
	}
	pl := w.plan
	for len(w.items) > 0 {
		it := w.items[0]
		w.items = w.items[1:]
		in := pl.inputs[it.k]
		w.k = it.k
		var ls *pipeline.LineSource
		var err error
		switch it.kind {
		case itemDrain:
			if err := w.drain(in, it); err != nil {
				return false, err
			}
			w.drained = append(w.drained, it)
			continue
		case itemRange:
			fr := in.ranges[0]
			fr.Start, fr.End = it.start, it.end
			ls, err = pl.rangeSource(in, fr, w.sourceConfig(pl.cfg))
		case itemStream:
			w.cr = w.view(in)
			w.short = true // nothing read yet: wait before blocking
			w.sum = nil
			if w.hashing {
				w.sum = xxhash.New()
			}
			// Resumed: skip to the checkpoint's position, checking the
			// bytes on the way.
			if err := w.skipStream(in, it); err != nil {
				return false, err
			}
			w.streamAt = it.pos
			cfg := w.sourceConfig(pl.streamConfig())
			if w.sum != nil {
				cfg.Consumed = w.sum
			}
			ls, err = pipeline.NewLineSource(w.reader(w.cr), cfg)
		}
		if err != nil {
			return false, fileError(in.name, err)
		}
		w.cur, w.curIn, w.curItem = ls, in, it
		w.mu.Lock()
		w.pub = ls
		w.mu.Unlock()
		return true, nil
	}
	return false, nil
}

// nextDynamic is next when ranges and chunks go to whichever worker is
// free (no checkpoints).
func (w *worker) nextDynamic() (bool, error) {
	pl := w.plan
	for w.k < len(pl.inputs) {
		in := pl.inputs[w.k]
		var ls *pipeline.LineSource
		var err error
		switch {
		case in.stream != nil:
			if w.curIn != in {
				w.cr = w.view(in)
				w.short = true
				w.streamAt = 0
				ls, err = pipeline.NewLineSource(w.reader(w.cr), w.sourceConfig(pl.streamConfig()))
			}
		default:
			if r := in.next.Add(1) - 1; r < int64(len(in.ranges)) {
				ls, err = pl.rangeSource(in, in.ranges[r], w.sourceConfig(pl.cfg))
			}
		}
		if err != nil {
			return false, fileError(in.name, err)
		}
		w.curIn = in
		if ls != nil {
			w.cur = ls
			w.mu.Lock()
			w.pub = ls
			w.mu.Unlock()
			return true, nil
		}
		w.k++
	}
	return false, nil
}

// items is worker idx's share of the plan's inputs, from their start:
// its view of every stream, its range of every file.
func (pl *plan) items(idx int) []item {
	var its []item
	for k, in := range pl.inputs {
		switch {
		case in.stream != nil:
			its = append(its, item{kind: itemStream, k: k, size: in.stream.size, layers: in.stream.layers, sum: xxhash.Sum64(nil)})
		case idx < len(in.ranges):
			its = append(its, item{kind: itemRange, k: k, start: in.ranges[idx].Start, end: in.ranges[idx].End})
		}
	}
	return its
}

// view starts stream in's reader, if no worker has, and returns this
// worker's view of the stream.
func (w *worker) view(in *input) *chunkReader {
	in.stream.start(w.ctx)
	ctx := w.ctx
	if w.runCtx != nil {
		ctx = w.runCtx
	}
	return &chunkReader{ctx: ctx, s: in.stream, queue: in.stream.queue(w.idx)}
}

// counts returns the worker's counters so far.
func (w *worker) counts() Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.countsLocked()
}

func (w *worker) countsLocked() Counts {
	c := w.base
	c.Add(w.done)
	c.Add(lineCounts(w.pub))
	return c
}
