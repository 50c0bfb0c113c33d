package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/streamstat/streamstat/pipeline"
)

// rangesPerWorker is how many ranges a file is cut into per worker when
// ranges are handed out on demand (order-insensitive sketches): a worker
// slowed by a busy machine then holds back at most a few percent of the
// file.
const rangesPerWorker = 8

// input is one input argument: a regular file read in ranges, or a stream.
// A file is opened once, when the run starts, and every range is read
// through that descriptor (pread), so a file renamed or replaced during the
// run is not mixed with its replacement.
type input struct {
	name   string // for messages
	file   *os.File
	info   os.FileInfo // the file's, when opened
	ranges []pipeline.FileRange
	next   atomic.Int64 // next range to hand out, when dynamic
	stream *stream      // set for stdin, pipes and devices
	closer io.Closer
	size   int64 // bytes, or -1 for a stream
}

// plan is the inputs of a run, opened and checked before anything runs, so
// that an unreadable file fails the run at once with a clear message.
type plan struct {
	inputs  []*input
	workers int
	dynamic bool
	cfg     pipeline.LineConfig
	total   int64 // bytes in all inputs, or -1 if any is a stream
}

// testHookPlanned, if set (by tests), runs when a run's inputs are open,
// before any is read.
var testHookPlanned func()

// newPlan opens args ("-" or none: stdin) for w workers. Dynamic plans
// hand out ranges and chunks to whichever worker is free; static ones give
// each worker a fixed share, so its records do not depend on timing.
func newPlan(e *env, args []string, w int, dynamic bool, cfg pipeline.LineConfig) (*plan, error) {
	if len(args) == 0 {
		args = []string{"-"}
	}
	pl := &plan{workers: w, dynamic: dynamic, cfg: cfg}
	for _, a := range args {
		in, err := pl.open(e, a)
		if err != nil {
			pl.close()
			return nil, err
		}
		pl.inputs = append(pl.inputs, in)
		if in.size < 0 || pl.total < 0 {
			pl.total = -1
		} else {
			pl.total += in.size
		}
	}
	return pl, nil
}

func (pl *plan) open(e *env, path string) (*input, error) {
	if path == "-" {
		return &input{name: "stdin", size: -1, stream: newStream("stdin", e.stdin, pl.workers, pl.dynamic, e.chunkSize, e.bufSize)}, nil
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		// Opening a FIFO waits for a writer: do it in the background, so
		// that a signal stops a run still waiting for one.
		r := openFIFO(path)
		return &input{name: path, size: -1, closer: r, stream: newStream(path, r, pl.workers, pl.dynamic, e.chunkSize, e.bufSize)}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, cleanPathError(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, cleanPathError(err)
	}
	switch {
	case fi.IsDir():
		f.Close()
		return nil, fmt.Errorf("%s: is a directory", path)
	case fi.Mode().IsRegular() && !sizeUnknown(f, fi):
		// Read the first byte to prove the file readable now, not only
		// openable (some files open but fail to read).
		var b [1]byte
		if _, err := f.ReadAt(b[:], 0); err != nil && !errors.Is(err, io.EOF) {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", path, unwrapPath(err))
		}
		n := pl.workers
		if pl.dynamic && n > 1 {
			n *= rangesPerWorker
		}
		ranges, err := pipeline.SplitReaderAt(f, path, fi.Size(), n)
		if err != nil {
			f.Close()
			return nil, fileError(path, err)
		}
		return &input{name: path, file: f, info: fi, closer: f, ranges: ranges, size: fi.Size()}, nil
	}
	// A pipe, a device, or a file whose size does not say how much it
	// holds (/proc, sysfs): read as a stream, to its end, as cat does.
	return &input{name: path, size: -1, closer: f, stream: newStream(path, f, pl.workers, pl.dynamic, e.chunkSize, e.bufSize)}, nil
}

// fileError is the message for an error reading file path: one that
// changed while read says so plainly.
func fileError(path string, err error) error {
	if errors.Is(err, pipeline.ErrFileChanged) {
		return &wrapped{msg: fmt.Sprintf("%s: the file shrank while being read (truncated or replaced?): it ends before the size it had when opened, so the answer would be wrong", path), err: err}
	}
	return fmt.Errorf("%s: %w", path, trimPipeline(err))
}

// fifoReader reads a FIFO that it opens in the background: the open
// blocks until a writer opens the other end, and the run must stay
// responsive to signals meanwhile (its workers wait on the stream, which
// they give up when the run is cancelled).
type fifoReader struct {
	path string
	done chan struct{} // closed when the open has returned
	f    *os.File
	err  error
}

func openFIFO(path string) *fifoReader {
	r := &fifoReader{path: path, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.f, r.err = os.Open(path)
		if r.err != nil {
			r.err = cleanPathError(r.err)
			return
		}
		growPipe(r.f)
	}()
	return r
}

func (r *fifoReader) Read(p []byte) (int, error) {
	<-r.done
	if r.err != nil {
		return 0, r.err
	}
	return r.f.Read(p)
}

// Close closes the FIFO, now or, if the open still waits, when it returns.
func (r *fifoReader) Close() error {
	select {
	case <-r.done:
		if r.f != nil {
			return r.f.Close()
		}
	default:
		go func() {
			<-r.done
			if r.f != nil {
				r.f.Close()
			}
		}()
	}
	return nil
}

func (pl *plan) close() {
	for _, in := range pl.inputs {
		if in.closer != nil {
			in.closer.Close()
		}
	}
}

// newWorkers returns the plan's workers, which read with ctx.
func (pl *plan) newWorkers(ctx context.Context) []*worker {
	ws := make([]*worker, pl.workers)
	for i := range ws {
		ws[i] = &worker{plan: pl, idx: i, ctx: ctx, resumeAt: -1}
	}
	return ws
}

// counts are the line counters of a run.
type counts struct {
	Records uint64 // lines read, including skipped ones
	Skipped uint64 // lines without the selected field
	Bad     uint64 // values that are not numbers (stats)
	Shed    uint64 // records dropped under overload (--shed: set from the shedders' summary)
	Bytes   uint64
}

func (c *counts) add(o counts) {
	c.Records += o.Records
	c.Skipped += o.Skipped
	c.Bad += o.Bad
	c.Shed += o.Shed
	c.Bytes += o.Bytes
}

func lineCounts(ls *pipeline.LineSource) counts {
	if ls == nil {
		return counts{}
	}
	return counts{Records: uint64(ls.Lines()), Skipped: uint64(ls.Skipped()), Bad: uint64(ls.BadValues()), Bytes: uint64(ls.Bytes())}
}

// worker is a pipeline.Source: worker idx's share of every input, in
// order, each part read by a LineSource. Its counters may be read from any
// goroutine.
type worker struct {
	plan *plan
	idx  int
	ctx  context.Context // for stream reads; set before Run

	k     int  // current input
	took  bool // took its range of the current input, when static
	cur   *pipeline.LineSource
	curIn *input

	// Checkpointed runs: the position SetPosition restored (input skipTo,
	// offset resumeAt, or -1 if not started), how long to wait on a quiet
	// stream (0: without checkpoints, as long as it takes), the current
	// stream view, and whether the last Fill ran out of lines.
	skipTo   int
	resumeAt int64
	idle     time.Duration
	cr       *chunkReader
	short    bool

	// Checkpointed runs: sum hashes the stream bytes this worker has moved
	// past, in input order (its LineSources' Consumed, and its shares of
	// streams it drained), so that a checkpoint can tell the stream it was
	// taken of (see resumeCheck); streamAt is where in its view of the
	// current stream its LineSource started.
	sum      *xxhash.Digest
	want     uint64 // the restored checkpoint's sum
	check    bool   // compare sum with want on reaching the position
	streamAt int64

	mu        sync.Mutex // guards base, done and the published current source
	base      counts     // restored from a checkpoint
	atBarrier counts     // at the last checkpoint barrier
	sumAt     uint64     // sum at the last barrier
	done      counts
	pub       *pipeline.LineSource
	err       error // the first input error, with the input's name
}

// Fill implements pipeline.Source.
func (w *worker) Fill(ctx context.Context, b *pipeline.Batch, max int) error {
	// The pipeline stops calling when Fill fails: after another source
	// failed, a worker waiting on a quiet stream (below) must say so.
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		if w.cur == nil {
			ok, err := w.next()
			if err != nil {
				return w.fail(err)
			}
			if !ok {
				return io.EOF
			}
		}
		if w.short && w.idle > 0 && w.cr != nil && !w.cr.wait(w.idle) {
			// A quiet stream: return so that a checkpoint barrier
			// waiting at the source goes through.
			return nil
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

// finish retires the current LineSource, keeping its counts.
func (w *worker) finish() {
	w.cur.Close()
	w.mu.Lock()
	w.done.add(lineCounts(w.cur))
	w.pub = nil
	w.mu.Unlock()
	w.cur, w.cr, w.short = nil, nil, false
}

// next opens the worker's next part: a range of a file or its view of a
// stream. It reports false when no input has anything left for it.
func (w *worker) next() (bool, error) {
	pl := w.plan
	for w.k < len(pl.inputs) {
		in := pl.inputs[w.k]
		if w.k < w.skipTo {
			// Resumed past this input.
			if in.stream != nil {
				if err := w.drain(in); err != nil {
					return false, err
				}
			}
			w.k++
			continue
		}
		if w.check && (in.stream == nil || w.resumeAt < 0) {
			if err := w.resumeCheck(); err != nil {
				return false, err
			}
		}
		var ls *pipeline.LineSource
		var err error
		switch {
		case in.stream != nil:
			if w.curIn != in {
				w.cr = w.view(in)
				w.short = true // nothing read yet: wait before blocking
				w.streamAt = 0
				if w.resumeAt >= 0 {
					// The stream a checkpoint was taken in: skip to its
					// position, checking the bytes on the way.
					if err := w.skipStream(in, w.resumeAt); err != nil {
						return false, err
					}
					w.streamAt, w.resumeAt = w.resumeAt, -1
				}
				cfg := pl.cfg
				if w.sum != nil {
					cfg.Consumed = w.sum
				}
				ls, err = pipeline.NewLineSource(w.cr, cfg)
			}
		case pl.dynamic:
			if r := in.next.Add(1) - 1; r < int64(len(in.ranges)) {
				ls, err = pipeline.NewRangeSource(in.file, in.ranges[r], pl.cfg)
			}
		default:
			// Static: range r of a file split into W goes to worker r.
			if !w.took && w.idx < len(in.ranges) {
				w.took = true
				ls, err = pipeline.NewRangeSource(in.file, in.ranges[w.idx], pl.cfg)
			}
		}
		if err != nil {
			return false, fileError(in.name, err)
		}
		w.curIn = in
		if ls != nil && w.resumeAt >= 0 {
			// The input a checkpoint was taken in: go on from its offset.
			if err := ls.SetPosition(w.resumeAt); err != nil {
				ls.Close()
				return false, fmt.Errorf("%s: resume: %w", in.name, trimPipeline(err))
			}
		}
		w.resumeAt = -1
		if ls != nil {
			w.cur = ls
			w.mu.Lock()
			w.pub = ls
			w.mu.Unlock()
			return true, nil
		}
		w.k++
		w.took = false
	}
	if w.check {
		if err := w.resumeCheck(); err != nil {
			return false, err
		}
	}
	return false, nil
}

// view starts stream in's reader, if no worker has, and returns this
// worker's view of the stream.
func (w *worker) view(in *input) *chunkReader {
	in.stream.start(w.ctx)
	return &chunkReader{ctx: w.ctx, s: in.stream, queue: in.stream.queue(w.idx)}
}

// counts returns the worker's counters so far.
func (w *worker) counts() counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.countsLocked()
}

func (w *worker) countsLocked() counts {
	c := w.base
	c.add(w.done)
	c.add(lineCounts(w.pub))
	return c
}

// cleanPathError turns "open x: no such file or directory" into the
// message users know from other tools.
func cleanPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
	}
	return err
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// trimPipeline drops the "pipeline: " prefixes the library puts on its
// errors: users of the command do not know that package.
func trimPipeline(err error) error {
	s := strings.ReplaceAll(err.Error(), "pipeline: line source: ", "")
	s = strings.ReplaceAll(s, "pipeline: ", "")
	return &wrapped{msg: s, err: err}
}

// wrapped is an error with a cleaner message that still unwraps to the
// original (so errors.Is finds EPIPE, context.Canceled, ...).
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }
