package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// memBudget is --max-memory under --window: what a windowed distinct
// --by -k 0 holds for its answers, over every worker (each open slot's
// sketch, the scratch merge of the last window closed, the closed
// windows' states not yet written) and the job's merge of the window
// being written. Without windows a static split does (setupDistinctAll):
// a run holds one sketch per worker and one merge; with them, how many
// slots and closed windows hold how much depends on the data, so the
// holders count what they hold in one budget and the run stops when the
// sum passes the cap. It is safe for concurrent use.
//
// A worker's part is a budget of its own whose parent is the run's (its
// limit unused): what its slots and closed windows hold, so that a
// restore can take out what the operators it replaced held.
type memBudget struct {
	limit  int64
	parent *memBudget
	used   atomic.Int64
	peak   atomic.Int64 // the most used at once (tests)
}

// add counts n more bytes held (n < 0: released), in b and its parent.
func (b *memBudget) add(n int64) {
	u := b.used.Add(n)
	for p := b.peak.Load(); u > p && !b.peak.CompareAndSwap(p, u); p = b.peak.Load() {
	}
	if b.parent != nil {
		b.parent.add(n)
	}
}

// over reports whether the run holds more than the cap.
func (b *memBudget) over() bool { return b.used.Load() > b.limit }

// budgeted is a window slot's operator that counts what it holds in a
// memBudget.
type budgeted interface {
	// setBudget makes the operator, new, count in b instead.
	setBudget(b *memBudget)
	// release takes what the operator holds out of the budget, as it is
	// dropped.
	release()
}

// memLimitError is the run's stop past --max-memory under --window.
type memLimitError struct{ msg string }

func (e *memLimitError) Error() string { return e.msg }
func (e *memLimitError) Unwrap() error { return pipeline.ErrMemoryLimit }

// windowMemError says that the run passed --max-memory while doing what
// (naming the window), and what to do.
func windowMemError(b *memBudget, what string) error {
	return &memLimitError{fmt.Sprintf("distinct --by -k 0 --window: %s, the run's windows hold %s, past --max-memory %s "+
		"(it bounds every worker's open windows, the closed ones not yet written and the merge of the one being written); "+
		"raise --max-memory, shorten --window (or --lateness), or -k N lists the N groups with the most distinct values of each window in fixed memory",
		what, formatBytes(b.used.Load()), formatBytes(b.limit))}
}

// windowSpan returns the window of size that holds the slot of t, slide
// (0: size) apart: [start, end) in UTC.
func windowSpan(t time.Time, size, slide time.Duration) (start, end time.Time) {
	if slide == 0 {
		slide = size
	}
	ns, sl := t.UnixNano(), int64(slide)
	e := ns - (ns%sl+sl)%sl + sl // the end of t's slot, before 1970 too
	return time.Unix(0, e-int64(size)).UTC(), time.Unix(0, e).UTC()
}

// spanText shows a window as [start, end) in RFC 3339.
func spanText(start, end time.Time) string {
	return fmt.Sprintf("[%s, %s)", start.Format(timeFormat), end.Format(timeFormat))
}
