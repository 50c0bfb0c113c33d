package shedding

import (
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/hashmix"
	"github.com/streamstat/streamstat/pipeline"
)

// inlineWorker simulates, on a fake clock, a job worker reading a file
// piped in (cat FILE | streamstat top --shed) while nothing is shed: every
// Fill fills its batch (the pipe is never empty for long), taking Read to
// read and hash it, the operator runs in the worker's goroutine for Op
// (the pipeline counts its records as sent and its time as
// back-pressure), and every WaitEvery-th Fill also waits Wait for its
// input (the goroutine that reads the pipe deals chunks to several
// workers, which take turns waiting for it). Records kept at p < 1 cost
// the operator p·Op, as if it still ran inline.
type inlineWorker struct {
	Batch           int
	Read, Op, Wait  time.Duration
	WaitEvery       int
	now             time.Time
	pr              pipeline.Pressure
	b               pipeline.Batch
	next            uint64
	offered, kept   uint64
	waited, elapsed time.Duration
}

func (w *inlineWorker) run(sh *Shedder, d time.Duration) {
	if w.now.IsZero() {
		w.now = t0
		w.pr.Buffers = 10 // the channel the pipeline puts in front of the operator
	}
	for end := w.now.Add(d); w.now.Before(end); {
		fill := w.Read
		if w.WaitEvery > 0 && w.next/uint64(w.Batch)%uint64(w.WaitEvery) == 0 {
			fill += w.Wait
			w.pr.InputWait += w.Wait
			w.waited += w.Wait
		}
		w.now = w.now.Add(fill)
		w.elapsed += fill
		w.b.Reset()
		for range w.Batch {
			w.next++
			w.b.AddHashed(nil, hashmix.SplitMix64(w.next))
		}
		sh.Shed(&w.b, w.now, w.pr)
		w.offered += uint64(w.Batch)
		w.kept += uint64(w.b.Len())
		if k := w.b.Len(); k > 0 {
			op := time.Duration(float64(w.Op) * float64(k) / float64(w.Batch))
			w.now = w.now.Add(op)
			w.elapsed += op
			w.pr.BackPressured += op
			w.pr.Records += uint64(k)
			w.pr.Batches++
		}
	}
}

// TestControllerKeepsUpWithPipe: a worker that fills every batch but waits
// for its input for a tenth of the time or more keeps up with it: no
// record waits in front of it all along, however long the pipe stays
// full, and nothing is shed. (Before InputWait, such a worker looked behind
// its input from its first tick, declared overload once that had lasted
// MaxLatency, and shed for a trial before finding shedding futile: a file
// piped into top --shed ran 6-9% slower than into top.) A worker that
// waits for its input hardly ever (a thirtieth of the time) is behind it,
// and does shed.
func TestControllerKeepsUpWithPipe(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wait      time.Duration
		every     int
		wantShed  bool
		minWaited float64 // fraction of the time waited for input, at least
		maxWaited float64 // ... and at most
	}{
		{"waits a tenth", 300 * time.Microsecond, 64, false, 0.09, 0.12},
		{"waits 30%", 600 * time.Microsecond, 32, false, 0.27, 0.32},
		{"waits a tenth in short waits", 20 * time.Microsecond, 4, false, 0.09, 0.12},
		{"waits a thirtieth", 100 * time.Microsecond, 64, true, 0, 0},
		{"never waits", 0, 0, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := newTestShedder(t, Config{Policy: Random})
			w := &inlineWorker{Batch: 1024, Read: 15 * time.Microsecond, Op: 30 * time.Microsecond,
				Wait: tc.wait, WaitEvery: tc.every}
			w.run(sh, time.Second)
			s := sh.Summary()
			frac := w.waited.Seconds() / w.elapsed.Seconds()
			t.Logf("waited %.3f of the time; shed %d of %d (min p %v)", frac, s.Shed, s.Seen, s.MinP)
			if !tc.wantShed && (frac < tc.minWaited || frac > tc.maxWaited) {
				t.Fatalf("the worker waited %.3f of the time, want [%v, %v]: fix the case", frac, tc.minWaited, tc.maxWaited)
			}
			if shed := s.Shed > 0; shed != tc.wantShed {
				t.Errorf("shed %d of %d records (min p %v), want shedding %v", s.Shed, s.Seen, s.MinP, tc.wantShed)
			}
		})
	}
}
