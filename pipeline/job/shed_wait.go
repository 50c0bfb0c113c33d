package job

import (
	"io"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// Waiting for input, for the shedders' controllers (pipeline.InputWaiter).
// A worker that waits for the bytes of a stream keeps up with it, though
// it fills every batch it is asked to: a file piped in (cat FILE |
// streamstat top --shed) is read about as fast as the workers count it,
// and the workers take turns waiting for the goroutine that reads the
// pipe and deals them chunks. Without the waits in view such a worker
// looked behind its input all along, and its shedder tried shedding for
// nothing.

// InputWait implements pipeline.InputWaiter: the time the worker has
// waited for the bytes of its streams, by the shedding clock (0 without
// shedding). A file's ranges are never waited for.
func (w *worker) InputWait() time.Duration { return w.waited }

// reader is the worker's view of a stream as its LineSource reads it:
// timed while waiting, when shedding.
func (w *worker) reader(cr *chunkReader) io.Reader {
	if w.clock == nil {
		return cr
	}
	return waitingReader{w: w, cr: cr}
}

// A LineSource takes a shedding worker's stream bytes in place, as it
// does a chunkReader's.
var _ pipeline.Lender = waitingReader{}

// waitingReader is a chunkReader whose Read counts the time it waits for
// bytes in the worker's waited.
type waitingReader struct {
	w  *worker
	cr *chunkReader
}

func (r waitingReader) Read(b []byte) (int, error) {
	if len(b) > 0 {
		r.wait()
	}
	return r.cr.Read(b)
}

// Lend passes the view's Lend through (pipeline.Lender), so that a
// LineSource takes the bytes where they lie as it does without shedding,
// and counts the time it waited for them.
func (r waitingReader) Lend() ([]byte, error) {
	r.wait()
	return r.cr.Lend()
}

// wait waits, counted, for bytes if none are at hand (a Read or Lend of
// the view would block), having released the last loan: the LineSource
// is done with it once it reads again.
func (r waitingReader) wait() {
	r.cr.endLoan()
	if r.cr.p.buf == nil {
		r.w.waitInput(r.cr, nil)
	}
}

// waitInput waits until a Read of the stream view cr would not block or
// wake fires (chunkReader.wait), counting the time when shedding.
func (w *worker) waitInput(cr *chunkReader, wake <-chan struct{}) bool {
	if w.clock == nil {
		return cr.wait(wake)
	}
	start := w.clock.Now()
	ok := cr.wait(wake)
	w.waited += max(w.clock.Now().Sub(start), 0)
	return ok
}

// systemClock is the clock of a ShedConfig without one.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
