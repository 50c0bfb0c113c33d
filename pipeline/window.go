package pipeline

import (
	"errors"
	"fmt"
	"time"
)

// ErrWindow: a Window was configured wrongly (a slide that does not divide
// the size, a negative lateness), or asked to restore the state of a
// window of another shape.
var ErrWindow = errors.New("pipeline: window")

// Window defaults.
const (
	// DefaultWindowSize is the size of a zero Window's windows.
	DefaultWindowSize = time.Minute
	// MaxWindowSlots caps Size/Slide plus the slots lateness needs.
	MaxWindowSlots = 1 << 16
)

// Window answers per time window: it runs a mergeable operator (Distinct,
// Frequency, HeavyHitters, Stats, GroupDistinct, ...) over tumbling
// windows (Slide 0 or Size) or sliding ones (Size a whole multiple of
// Slide), and hands each window's answer, with its [Start, End), to
// OnWindow as the window closes; Last keeps the latest for Query.
//
// # Slots
//
// Time is cut into slots of one Slide. Records go to their slot's own
// operator (made by New); when a slot closes, the Size/Slide slots that
// end with it are merged (MergeBinary of each one's MarshalBinary) into
// a scratch operator: the window's answer (the slicing of Flink SQL's
// hop windows). For an operator whose merge is exact (Distinct's HLL,
// Frequency's CountMin with plain updates, a Bloom union) the answer
// equals, byte for byte, a fresh operator fed only the window's records;
// for TopK and KLL it stays within their merged bounds. The slots form a
// ring: Size/Slide + 1 operators (the window's closed slots and the
// filling one; lateness adds ceil(Lateness/Slide)) plus the scratch,
// however long the run, and a slot leaving the ring is reset to the
// empty state New gave it, so steady state allocates only per slide. The
// slots of a Window of Distincts are kept in a faster form than a fresh
// HLL (dense registers from the first record, the sparse keys until they
// are proved dense) that writes the same bytes (window_distinct.go); the
// answers are still Distincts.
//
// An operator that refuses records kept by load shedding (Distinct,
// Sample, Stats, Frequency and HeavyHitters without Unit) refuses them in
// a Window too, with ErrShedRecord. Under key-hash shedding a Window of
// shedding.DistinctHLL counts each window's distinct keys, read with
// shedding.HLLDistinct at the shedders' smallest p so far; a window
// whose records were all shed is not answered, as none reached it.
//
// # Time
//
// Processing time by default: a batch goes to the slot of Clock's time
// when it is processed (Clock is time.Now unless set, injectable for
// tests). With EventTime, each record goes to the slot of its Time (Unix
// nanoseconds); the watermark is the largest Time seen minus Lateness,
// and a slot closes once the watermark passes its end. A record older
// than the oldest open slot is late: it is counted (Late) and left out,
// never dropped silently. A record with Time 0 (a source without time) is
// counted as Untimed and left out. Advance moves time on without records
// (a quiet source).
//
// A window is answered when it closes if it holds a record: one answer
// per slide while records come, none for the empty windows of a quiet
// stretch (or before the first record).
//
// Window is Stateful (its ring, counts and latest answer), so checkpoint
// and restore give the same windows as an uninterrupted run; it is not
// Mergeable (instances' windows merge by [Start, End) in the reader).
//
// The zero value counts distinct keys (a zero Distinct per slot) in
// tumbling one-minute windows of processing time. Set the fields before
// the first Process; a Window is not safe for concurrent use, like every
// operator.
type Window struct {
	// New makes one slot's operator, empty; nil makes zero Distincts.
	New func() (Mergeable, error)
	// Size is the length of a window; 0 means DefaultWindowSize.
	Size time.Duration
	// Slide is the step between window starts; 0 means Size (tumbling).
	// Size must be a whole multiple of it.
	Slide time.Duration
	// EventTime takes each record's time from Record.Time rather than the
	// clock.
	EventTime bool
	// Lateness is how far behind the largest time seen a record may be
	// and still count (event time only).
	Lateness time.Duration
	// Clock is processing time; nil means time.Now.
	Clock func() time.Time
	// OnWindow, if set, is called with each window's answer as it closes,
	// from Process (or Advance); an error stops the pipeline.
	OnWindow func(WindowAnswer) error

	ready   bool
	size    int64 // Size in ns
	slide   int64
	per     int64 // Size / Slide: slots in a window
	open    int64 // slots open at once: 1 + ceil(Lateness/Slide)
	ring    []Mergeable
	counts  []uint64 // records in each slot
	held    uint64   // records in the ring
	empty   []byte   // the state of a fresh slot operator
	scratch Mergeable
	slotNew func() (Mergeable, error) // a ring slot's operator
	acc     *distinctSlot             // a window's union, for distinctSlots
	started bool
	next    int64 // number of the oldest open slot
	maxT    int64
	clock   int64 // processing time: the latest clock reading
	late    uint64
	untimed uint64
	last    WindowAnswer
	view    Batch
}

// WindowAnswer is one window's answer. It is plain data but for Op, which
// belongs to the Window (read it from the goroutine that runs the
// Window, or through Query); the zero value is no answer (Op nil).
type WindowAnswer struct {
	// Start and End bound the window: [Start, End).
	Start, End time.Time
	// Records is the number of records counted in the window.
	Records uint64
	// Late is the number of late records so far (event time), Untimed
	// the number without a time, both since the start of the run.
	Late, Untimed uint64
	// Op is the window's merged operator. It is reused for the next
	// window: read it before then (in OnWindow, or through Query).
	Op Mergeable
}

func (w *Window) setup() error {
	if w.ready {
		return nil
	}
	size, slide := w.Size, w.Slide
	if size == 0 {
		size = DefaultWindowSize
	}
	if slide == 0 {
		slide = size
	}
	switch {
	case size < 0 || slide < 0 || w.Lateness < 0:
		return fmt.Errorf("pipeline: window size %v, slide %v, lateness %v: none may be negative: %w", size, slide, w.Lateness, ErrWindow)
	case size%slide != 0:
		return fmt.Errorf("pipeline: window size %v is not a whole multiple of the slide %v: %w", size, slide, ErrWindow)
	case !w.EventTime && w.Lateness != 0:
		return fmt.Errorf("pipeline: window lateness %v needs event time: %w", w.Lateness, ErrWindow)
	}
	per := int64(size / slide)
	open := 1 + (int64(w.Lateness)+int64(slide)-1)/int64(slide)
	if per+open > MaxWindowSlots {
		return fmt.Errorf("pipeline: window of %d slots of %v plus %d for lateness %v, more than %d: use a longer slide: %w", per, slide, open-1, w.Lateness, MaxWindowSlots, ErrWindow)
	}
	mk := w.New
	if mk == nil {
		mk = func() (Mergeable, error) { return new(Distinct), nil }
	}
	scratch, err := mk()
	if err != nil {
		return err
	}
	// Slots of Distincts are distinctSlots (window_distinct.go): the
	// same states, written faster.
	first, err := mk()
	if err != nil {
		return err
	}
	slotNew := mk
	if slot := slotFor(first); slot != nil {
		p := slot.(*distinctSlot).p
		slotNew = func() (Mergeable, error) { return newDistinctSlot(p), nil }
		first = slot
	}
	ring := make([]Mergeable, per+open)
	ring[0] = first
	for i := 1; i < len(ring); i++ {
		op, err := slotNew()
		if err != nil {
			return err
		}
		ring[i] = op
	}
	empty, err := scratch.MarshalBinary()
	if err != nil {
		return err
	}
	w.size, w.slide, w.per, w.open = int64(size), int64(slide), per, open
	w.ring, w.counts, w.scratch, w.empty, w.slotNew = ring, make([]uint64, len(ring)), scratch, empty, slotNew
	w.ready = true
	return nil
}

// floorDiv is a/b rounded down, b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (w *Window) slot(n int64) int {
	return int(((n % int64(len(w.ring))) + int64(len(w.ring))) % int64(len(w.ring)))
}

// Process implements Operator.
func (w *Window) Process(in, out *Batch) error {
	if err := w.setup(); err != nil {
		return err
	}
	if !w.EventTime {
		now := w.now()
		w.clock = max(w.clock, now)
		if err := w.advance(now); err != nil {
			return err
		}
		if len(in.Records) == 0 {
			return nil
		}
		// A clock stepping back leaves records in the open slot.
		return w.feed(w.next, in, 0, len(in.Records), out)
	}
	// Divisions only where a record leaves the slot of the run before
	// it or moves the watermark past a slot's end: the bounds below say
	// when, with comparisons.
	closeAt, lateBelow := w.bounds()
	run, from := int64(0), -1
	var runLo, runHi int64 // the run's slot; empty while there is no run
	var span uint64        // the fast path's times: [runLo, min(runHi, closeAt))
	recs := in.Records
	maxT := w.maxT
	for i := range recs {
		t := recs[i].Time
		if uint64(t-runLo) < span && t != 0 {
			// The fast path: the run's slot, before the time that
			// closes one.
			maxT = max(maxT, t)
			continue
		}
		if t == 0 {
			if err := w.flush(run, in, from, i, out); err != nil {
				return err
			}
			from, runHi, span = -1, runLo, 0
			w.untimed++
			continue
		}
		if !w.started || t > maxT {
			maxT = t
			if !w.started || t >= closeAt {
				// The watermark closes slots: the run so far goes first.
				if err := w.flush(run, in, from, i, out); err != nil {
					return err
				}
				from, runHi, span = -1, runLo, 0
				w.maxT = maxT
				if err := w.advance(t - int64(w.Lateness)); err != nil {
					return err
				}
				closeAt, lateBelow = w.bounds()
			}
		}
		if t < lateBelow {
			if err := w.flush(run, in, from, i, out); err != nil {
				return err
			}
			from, runHi, span = -1, runLo, 0
			w.late++
			continue
		}
		if from < 0 || t < runLo || t >= runHi {
			if err := w.flush(run, in, from, i, out); err != nil {
				return err
			}
			run, from = floorDiv(t, w.slide), i
			runLo = run * w.slide
			runHi = runLo + w.slide
			span = uint64(max(min(runHi, closeAt)-runLo, 0))
		}
	}
	w.maxT = maxT
	return w.flush(run, in, from, len(in.Records), out)
}

// bounds returns the largest time from which a record moves the
// watermark past the end of slot next (closing it), and the start of slot
// next, below which a record is late.
func (w *Window) bounds() (closeAt, lateBelow int64) {
	return (w.next+1)*w.slide + int64(w.Lateness), w.next * w.slide
}

func (w *Window) now() int64 {
	if w.Clock != nil {
		return w.Clock().UnixNano()
	}
	return time.Now().UnixNano()
}

// flush feeds records [from, to) of in, all of slot s, to that slot; from
// < 0 is an empty run.
func (w *Window) flush(s int64, in *Batch, from, to int, out *Batch) error {
	if from < 0 || from == to {
		return nil
	}
	return w.feed(s, in, from, to, out)
}

func (w *Window) feed(s int64, in *Batch, from, to int, out *Batch) error {
	if s < w.next || s >= w.next+w.open {
		return fmt.Errorf("pipeline: window slot %d beyond the open ones %d..%d (a bug): %w", s, w.next, w.next+w.open-1, ErrWindow)
	}
	// A view of the run: the records and the arena of in, no copy.
	w.view.Records, w.view.arena = in.Records[from:to], in.arena
	err := w.ring[w.slot(s)].Process(&w.view, out)
	w.view.Records, w.view.arena = nil, nil
	w.counts[w.slot(s)] += uint64(to - from)
	w.held += uint64(to - from)
	return err
}

// Advance moves time to t without records: in processing time the clock
// reads t, in event time t counts as a record's time for the watermark.
// It closes the windows that end by then. Call it between batches (from
// the goroutine that runs the pipeline's operators, or through Query).
func (w *Window) Advance(t time.Time) error {
	if err := w.setup(); err != nil {
		return err
	}
	ns := t.UnixNano()
	if w.EventTime {
		if w.started && ns <= w.maxT {
			return nil
		}
		if !w.started {
			// Time alone starts no ring: the first record does.
			return nil
		}
		w.maxT = ns
		ns -= int64(w.Lateness)
	} else {
		w.clock = max(w.clock, ns)
	}
	return w.advance(ns)
}

// advance closes every slot that ends at or before wm, the watermark (or
// the clock's time), and starts the ring at the first call.
func (w *Window) advance(wm int64) error {
	target := floorDiv(wm, w.slide)
	if !w.started {
		w.started, w.next = true, target
		return nil
	}
	for w.next < target {
		if w.held == 0 {
			// Nothing in the ring: the windows until target are empty.
			w.next = target
			return nil
		}
		if err := w.close(); err != nil {
			return err
		}
	}
	return nil
}

// close closes slot next: it merges the window that ends with it into the
// scratch operator, hands it on, and recycles the slot that leaves the
// window as the newest open one.
func (w *Window) close() error {
	n := w.next
	var records uint64
	for s := n - w.per + 1; s <= n; s++ {
		records += w.counts[w.slot(s)]
	}
	if records > 0 {
		merge := w.mergeSlots
		if _, ok := w.ring[0].(*distinctSlot); ok {
			merge = w.mergeDistinct
		}
		if err := merge(n); err != nil {
			return err
		}
	}
	end := (n + 1) * w.slide
	if records > 0 {
		w.last = WindowAnswer{
			Start: time.Unix(0, end-w.size), End: time.Unix(0, end),
			Records: records, Late: w.late, Untimed: w.untimed, Op: w.scratch,
		}
	}
	w.next++
	// Slot next+open-1 opens; its ring place held slot n-per, the first
	// of the window before, which no window needs any more.
	i := w.slot(w.next + w.open - 1)
	if w.counts[i] != 0 {
		if err := w.ring[i].UnmarshalBinary(w.empty); err != nil {
			return err
		}
		w.held -= w.counts[i]
		w.counts[i] = 0
	}
	if w.OnWindow != nil && records > 0 {
		return w.OnWindow(w.last)
	}
	return nil
}

// mergeSlots merges the slots of the window that ends with slot n into
// the scratch operator, which holds the last answer until then.
func (w *Window) mergeSlots(n int64) error {
	if err := w.scratch.UnmarshalBinary(w.empty); err != nil {
		return err
	}
	for s := n - w.per + 1; s <= n; s++ {
		i := w.slot(s)
		if w.counts[i] == 0 {
			continue
		}
		data, err := w.ring[i].MarshalBinary()
		if err != nil {
			return err
		}
		if err := w.scratch.MergeBinary(data); err != nil {
			return err
		}
	}
	return nil
}

// Last returns the latest window's answer, and false before the first
// window closed.
func (w *Window) Last() (WindowAnswer, bool) { return w.last, w.last.Op != nil }

// Late returns the number of records that came after their window closed
// (event time).
func (w *Window) Late() uint64 { return w.late }

// MaxTime returns the largest event time seen (the watermark plus
// Lateness), or, in processing time, the clock's time at the last batch
// or Advance; the zero Time before the first record.
func (w *Window) MaxTime() time.Time {
	if !w.started {
		return time.Time{}
	}
	if !w.EventTime {
		return time.Unix(0, w.clock)
	}
	return time.Unix(0, w.maxT)
}

// Untimed returns the number of records without a time (event time).
func (w *Window) Untimed() uint64 { return w.untimed }

// Slots returns the number of slot operators in the ring (Size/Slide + 1,
// plus the slots lateness needs), 0 before the first batch.
func (w *Window) Slots() int { return len(w.ring) }

// Watermark returns the start of the oldest open slot: every window that
// ends at or before it is closed in this instance (answered, or empty).
// A reader merging the windows of several instances may take a window as
// final once every instance's Watermark has passed its End (the job's
// watermark is the minimum over instances). It is the zero Time before
// the first record.
func (w *Window) Watermark() time.Time {
	if !w.started {
		return time.Time{}
	}
	return time.Unix(0, w.next*w.slide)
}
