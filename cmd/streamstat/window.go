package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// Windowed answers (issue 15): --window D [--slide S] on distinct, top,
// freq and stats answer per time window instead of once for the whole
// input. Each worker runs a pipeline.Window over the command's operator;
// the job answers a window once every worker has closed it (window_run.go).

// windowFlags are --window and the flags that only mean something with
// it. The zero value is no windows.
type windowFlags struct {
	size, slide, lateness time.Duration
	timeField             string // --time-field: a field number, a column name, a JSON path
	timeFormatStr         string
	timeFormat            pipeline.TimeFormat
}

// windowCommands take --window.
var windowCommands = map[string]bool{"distinct": true, "top": true, "freq": true, "stats": true}

// register adds the window flags to fs, for the commands that take them.
func (w *windowFlags) register(fs *flag.FlagSet, name string) {
	if !windowCommands[name] {
		return
	}
	fs.DurationVar(&w.size, "window", 0, "")
	fs.DurationVar(&w.slide, "slide", 0, "")
	fs.DurationVar(&w.lateness, "lateness", 0, "")
	fs.StringVar(&w.timeField, "time-field", "", "")
	fs.StringVar(&w.timeFormatStr, "time-format", "", "")
}

// on reports whether the answers are per window.
func (w *windowFlags) on() bool { return w.size > 0 }

// eventTime reports whether windows follow the records' own times.
func (w *windowFlags) eventTime() bool { return w.timeField != "" }

// check validates the window flags.
func (w *windowFlags) check(o *options) error {
	switch {
	case w.size < 0:
		return usagef("--window %v: must be positive", w.size)
	case w.size == 0 && (w.slide != 0 || w.timeField != "" || w.timeFormatStr != "" || w.lateness != 0):
		return usagef("--slide, --time-field, --time-format and --lateness need --window D")
	case !w.on():
		return nil
	case w.slide < 0:
		return usagef("--slide %v: must be positive", w.slide)
	case w.slide > 0 && w.size%w.slide != 0:
		return usagef("--window %v --slide %v: the window must be a whole multiple of the slide (such as --window 1m --slide 10s)", w.size, w.slide)
	case w.lateness < 0:
		return usagef("--lateness %v: must not be negative", w.lateness)
	case w.timeField == "" && (w.lateness != 0 || w.timeFormatStr != ""):
		return usagef("--lateness and --time-format need --time-field, the records' time (without it, windows follow the clock)")
	case o.interval > 0:
		return usagef("--window and --interval: each window is answered as it closes; drop --interval")
	case o.save != "":
		return usagef("--window and --save: a state file holds one answer, not a series of windows")
	case o.shed.on:
		return usagef("--window and --shed are not supported together")
	}
	slide := w.slide
	if slide == 0 {
		slide = w.size
	}
	if slots := int64(w.size/slide) + 1 + int64((w.lateness+slide-1)/slide); slots > pipeline.MaxWindowSlots {
		return usagef("--window %v --slide %v --lateness %v: %d slots, more than %d; use a longer --slide", w.size, slide, w.lateness, slots, pipeline.MaxWindowSlots)
	}
	f, err := pipeline.ParseTimeFormat(w.timeFormatStr)
	if err != nil {
		return usagef("--time-format %q: use rfc3339, unix, unixms, or a Go layout such as \"2006-01-02 15:04:05\"", w.timeFormatStr)
	}
	w.timeFormat = f
	return nil
}

// identity is the window's part of a checkpoint's job description.
func (w *windowFlags) identity() string {
	return fmt.Sprintf("window %v slide %v lateness %v time %q format %q\n", w.size, w.slide, w.lateness, w.timeField, w.timeFormat.String())
}

// applyTime makes s's records carry their time (--time-field): the key's
// extractor (the structured one, or one made from -f and -d) goes into a
// pipeline.TimedKey with an extractor of the same kind for the time.
func applyTime(e *env, o *options, s *spec) error {
	w := &o.win
	if !w.eventTime() {
		return nil
	}
	key := s.line.Extract
	if key == nil {
		var fields []int
		if s.line.Field > 0 {
			fields = []int{s.line.Field}
		}
		k, err := pipeline.NewFieldsKey(s.line.Delimiter, s.line.ValueField, fields...)
		if err != nil {
			return usagef("-f %d: %v", s.line.Field, trimPipeline(err))
		}
		key = k
	}
	var tm pipeline.Extractor
	st := &o.st
	switch {
	case st.json != "" || st.valueJSON != "":
		k, err := pipeline.NewJSONKey("", w.timeField)
		if err != nil {
			return usagef("--time-field %s: %v", w.timeField, trimPipeline(err))
		}
		tm = k
	case st.csvMode():
		var header []string
		if st.header && needsNames(w.timeField) {
			h, err := readHeaders(e, s.args, st.comma(o))
			if err != nil {
				return err
			}
			header = h
		}
		cols, err := pipeline.ParseKeyColumns(w.timeField, header)
		if err != nil || len(cols) != 1 {
			return usagef("--time-field %s: one column, by number or (with --header) name", w.timeField)
		}
		k, err := pipeline.NewCSVKey(st.comma(o), st.header, 0, cols[0])
		if err != nil {
			return usagef("--time-field %s: %v", w.timeField, trimPipeline(err))
		}
		tm = k
	default:
		n, err := strconv.Atoi(w.timeField)
		if err != nil || n < 1 {
			return usagef("--time-field %s: a field number from 1 (column names need --csv --header, paths --json)", w.timeField)
		}
		k, err := pipeline.NewFieldsKey(o.delim, 0, n)
		if err != nil {
			return usagef("--time-field %s: %v", w.timeField, trimPipeline(err))
		}
		tm = k
	}
	tk, err := pipeline.NewTimedKey(key, tm, w.timeFormat)
	if err != nil {
		return err
	}
	s.line.Extract, s.line.Strict = tk, st.strict
	// The skipped-records warning names what a record needs.
	what := st.what
	if what == "" {
		what = fmt.Sprintf("-f %d -d %s", o.field, o.delim)
	}
	st.what = fmt.Sprintf("%s, a time at --time-field %s in %s", what, w.timeField, w.timeFormat)
	return nil
}

// windowOp is one worker's operator under --window: a pipeline.Window
// over the command's operator, and the windows it answered that the job
// has not yet taken (window_run.go), each as its merged operator's state.
// Both are its state, so a checkpoint keeps a closed window until the job
// answers it.
type windowOp struct {
	w      *pipeline.Window
	closed []closedWindow
	// closing, if set, hears (without blocking) of each window closed,
	// so the job takes it soon rather than at its next tick: a file read
	// fast closes many windows a second.
	closing chan<- struct{}
	// written is the end of the last window the job wrote when it last
	// took windows from this worker: with the closed windows, a
	// checkpoint's record of what was written (windowRun.resumed).
	written int64
	// solo, if set, is the run of a job of one worker: Process writes
	// the windows it closed itself, so they cannot pile up faster than
	// they are written (the job's watermark is this worker's).
	solo func() *windowRun
	// mem, if set, is the run's --max-memory (window_mem.go); local, this
	// worker's part of it: the slots count in it themselves, o its closed
	// windows' states.
	mem, local *memBudget
}

// budgetSlot makes op, a new slot operator, count in o's budget.
func (o *windowOp) budgetSlot(op pipeline.Mergeable) pipeline.Mergeable {
	if b, ok := op.(budgeted); ok && o.local != nil {
		b.setBudget(o.local)
	}
	return op
}

// closedBytes is what cs's states hold.
func closedBytes(cs []closedWindow) int64 {
	var n int64
	for _, c := range cs {
		n += int64(len(c.state))
	}
	return n
}

// holdClosed counts cs's states in o's budget, sign -1 as they go.
func (o *windowOp) holdClosed(cs []closedWindow, sign int64) {
	if o.local != nil {
		o.local.add(sign * closedBytes(cs))
	}
}

// drop takes the windows that end at or before end out of o: written.
func (o *windowOp) drop(end int64) {
	i := 0
	for i < len(o.closed) && o.closed[i].end <= end {
		i++
	}
	o.holdClosed(o.closed[:i], -1)
	o.closed = slices.Delete(o.closed, 0, i)
	o.written = max(o.written, end)
}

// closedWindow is one worker's answer for one window.
type closedWindow struct {
	start, end int64 // Unix ns
	records    uint64
	late       uint64 // the worker's late records when it closed the window
	state      []byte // the merged operator's MarshalBinary
}

func newWindowOp(w *windowFlags, newOp func() (pipeline.Mergeable, error), clock func() time.Time, closing chan<- struct{}) *windowOp {
	o := &windowOp{closing: closing, written: math.MinInt64}
	o.w = &pipeline.Window{
		New: newOp, Size: w.size, Slide: w.slide,
		EventTime: w.eventTime(), Lateness: w.lateness, Clock: clock,
		OnWindow: func(a pipeline.WindowAnswer) error {
			st, err := a.Op.MarshalBinary()
			if err != nil {
				return err
			}
			o.closed = append(o.closed, closedWindow{start: a.Start.UnixNano(), end: a.End.UnixNano(), records: a.Records, late: a.Late, state: st})
			o.holdClosed(o.closed[len(o.closed)-1:], 1)
			select {
			case o.closing <- struct{}{}:
			default:
			}
			return nil
		},
	}
	return o
}

// testHookWindowed, if set (by tests), is called with the number of
// records of each batch a windowOp has processed.
var testHookWindowed func(records int)

func (o *windowOp) Process(in, out *pipeline.Batch) error {
	err := o.w.Process(in, out)
	if testHookWindowed != nil {
		testHookWindowed(len(in.Records))
	}
	if err == nil && o.mem != nil && o.mem.over() {
		t := o.w.MaxTime()
		start, end := windowSpan(t, o.w.Size, o.w.Slide)
		err = windowMemError(o.mem, fmt.Sprintf("at %s, in the window %s", t.UTC().Format(timeFormat), spanText(start, end)))
	}
	if err == nil && o.solo != nil && len(o.closed) > 0 {
		err = o.writeOwn(o.solo())
	}
	return err
}

// writeOwn writes the windows o closed, for a job of one worker, unless
// the job's collector is at it (it waits for this batch to end, then
// takes them).
func (o *windowOp) writeOwn(r *windowRun) error {
	if r == nil || !r.mu.TryLock() {
		return nil
	}
	defer r.mu.Unlock()
	self := func(fn func(*windowOp) error) error { return fn(o) }
	return r.answer(self, o.w.Watermark().UnixNano(), func(int64) bool { return true }, "")
}

// windowOpVersion is the first byte of a windowOp's state.
const windowOpVersion = 1

// MarshalBinary implements pipeline.Stateful: the Window's state
// (length-prefixed), the end of the last window written, then the closed
// windows (start, end, records, late, state length-prefixed).
func (o *windowOp) MarshalBinary() ([]byte, error) {
	ws, err := o.w.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := []byte{windowOpVersion}
	b = binary.AppendUvarint(b, uint64(len(ws)))
	b = append(b, ws...)
	b = binary.AppendVarint(b, o.written)
	b = binary.AppendUvarint(b, uint64(len(o.closed)))
	for _, c := range o.closed {
		b = binary.AppendVarint(b, c.start)
		b = binary.AppendVarint(b, c.end)
		b = binary.AppendUvarint(b, c.records)
		b = binary.AppendUvarint(b, c.late)
		b = binary.AppendUvarint(b, uint64(len(c.state)))
		b = append(b, c.state...)
	}
	return b, nil
}

// errWindowState: a windowOp's state does not decode.
var errWindowState = errors.New("window state")

// UnmarshalBinary implements pipeline.Stateful; on error o is unchanged
// but for its Window, which keeps its own state on error too.
func (o *windowOp) UnmarshalBinary(data []byte) error {
	r := envelope.NewReader(data)
	if v := r.U8(); r.Err == nil && v != windowOpVersion {
		return fmt.Errorf("%w: version %d: %w", errWindowState, v, sketch.ErrCorrupt)
	}
	ws := r.LenBytes()
	written := r.Varint()
	n := r.MinimalUvarint()
	if r.Err != nil || n > uint64(r.Len()) {
		return fmt.Errorf("%w: %w", errWindowState, sketch.ErrCorrupt)
	}
	closed := make([]closedWindow, 0, n)
	for range n {
		c := closedWindow{start: r.Varint(), end: r.Varint(), records: r.MinimalUvarint(), late: r.MinimalUvarint()}
		c.state = append([]byte(nil), r.LenBytes()...)
		if r.Err != nil || c.end <= c.start || c.records == 0 || c.end <= written || (len(closed) > 0 && c.end <= closed[len(closed)-1].end) {
			return fmt.Errorf("%w: closed window %d: %w", errWindowState, len(closed), sketch.ErrCorrupt)
		}
		closed = append(closed, c)
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %w", errWindowState, err)
	}
	var before int64
	if o.local != nil {
		before = o.local.used.Load()
	}
	if err := o.w.UnmarshalBinary(ws); err != nil {
		if o.local != nil {
			// The slots restored before the error are dropped.
			o.local.add(before - o.local.used.Load())
		}
		return err
	}
	if o.local != nil {
		// The Window's slots are the restored ones: the old ones go
		// (a scratch kept when the state has no answer was empty, at
		// the start of a run).
		o.local.add(-(before - closedBytes(o.closed)))
	}
	o.holdClosed(o.closed, -1)
	o.holdClosed(closed, 1)
	o.closed, o.written = closed, written
	return nil
}

// MergeBinary implements pipeline.Mergeable, so that distinct's operator
// runs in a Window: it folds in the state another distinctOp's
// MarshalBinary wrote (its HLL; the density bookkeeping is this one's).
func (o *distinctOp) MergeBinary(data []byte) error {
	tmp := &distinctOp{p: o.p}
	if err := tmp.UnmarshalBinary(data); err != nil {
		return err
	}
	o.fold()
	return o.hll.Merge(tmp.hll)
}
