package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// memBudget is --max-memory of distinct --by -k 0: what the run holds
// in its group sketches, over every worker. The holders count what they
// hold as it changes (groupAllOp its sketch, a windowOp its closed
// windows' states, the answer its merge, distinctAllAgg) and the run
// stops with exit 1 when the sum passes the cap.
//
// Without windows, the workers' sketches and, as the run answers, their
// merge: each worker stops at its share of half the cap (GroupHLL's
// MaxBytes), and the merge checks the sum as it grows, since it may hold
// more than the workers together (a group's set split between two
// workers has the capacity of its parts, the merged set that of the
// whole, rounded up by append). Under --window, each open slot's sketch,
// the scratch merge of the last window closed, the closed windows' states
// not yet written and the job's merge of the window being written: how
// many slots and closed windows hold how much depends on the data, so the
// workers check the sum at every batch and the job at every merge.
//
// A worker's part under --window is a budget of its own whose parent is
// the run's (its limit unused): what its slots and closed windows hold,
// so that a restore can take out what the operators it replaced held.
// It is safe for concurrent use.
type memBudget struct {
	limit  int64
	parent *memBudget
	used   atomic.Int64
}

// add counts n more bytes held (n < 0: released), in b and its parents.
func (b *memBudget) add(n int64) {
	for ; b != nil; b = b.parent {
		b.used.Add(n)
	}
}

// testHookBudgetCheck, if set (by tests), sees what a budget holds at
// each check of its cap: the run's peak as far as the cap can tell, with
// no bookkeeping of a peak in every add.
var testHookBudgetCheck func(b *memBudget, used int64)

// over reports whether the run holds more than the cap.
func (b *memBudget) over() bool {
	u := b.used.Load()
	if testHookBudgetCheck != nil {
		testHookBudgetCheck(b, u)
	}
	return u > b.limit
}

// budgeted is a window slot's operator that counts what it holds in a
// memBudget.
type budgeted interface {
	// setBudget makes the operator, new, count in b instead.
	setBudget(b *memBudget)
	// release takes what the operator holds out of the budget, as it is
	// dropped.
	release()
}

// memLimitError is the run's stop past --max-memory.
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
