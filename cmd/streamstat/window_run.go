package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/pipeline/job"
	"github.com/streamstat/streamstat/sketch"
)

// A windowed run. Each worker's windowOp closes its windows as its
// watermark passes their ends (event time: its largest time minus
// --lateness; processing time: the clock). The job's watermark is the
// minimum over the workers; a window that ends at or before it is closed
// in every worker, so the job merges the workers' answers for it (those
// of the workers that had records in it) and writes it, in the order of
// the windows' ends. A collector does so every tick while the run goes
// on; at the end of the input every window still open is closed and
// written, marked partial when the input ended before the window did.
//
// With event time the answers do not depend on -j or on thread timing
// when no record is late: a window holds the same records whichever
// worker saw them, and its merge is exact for distinct and freq. Which
// records are late depends on the records before them in their worker's
// share of the input (the worker's watermark), so a stream disordered by
// more than --lateness may count other records late at another -j.

// windowRun is the state of a windowed run's answering.
type windowRun struct {
	e     *env
	s     *spec
	j     *job.Job
	rep   *reporter
	flags *windowFlags

	mu      sync.Mutex // one cycle at a time
	emitted int64      // the end of the last window written
	recent  []any      // the last windows' JSON, for --http
	// peak is the most closed windows the workers held at once, waiting
	// for the job (tests: memory stays bounded).
	peak int
	// mem, if set, is --max-memory over what the run holds for its
	// windows (window_mem.go).
	mem *memBudget
}

// testHookWindowRun, if set (by tests), sees a windowed run after its
// last window was written.
var testHookWindowRun func(r *windowRun)

// maxRecent bounds the windows --http keeps.
const maxRecent = 120

// forEach calls fn with each worker's windowOp under the job's query lock.
func (r *windowRun) forEach(fn func(o *windowOp) error) error {
	return r.j.Query(func(_ int, op pipeline.Operator) error { return fn(op.(*windowOp)) })
}

// cycle writes the windows every worker has closed. In processing time
// the workers' windows first move on to the clock (a quiet stream's
// workers see no batch that would). It returns the job's watermark.
func (r *windowRun) cycle() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.flags.eventTime() {
		now := r.e.now()
		if err := r.forEach(func(o *windowOp) error { return o.w.Advance(now) }); err != nil {
			return err
		}
	}
	wm := int64(math.MaxInt64)
	if err := r.forEach(func(o *windowOp) error {
		t := o.w.Watermark()
		if t.IsZero() {
			wm = math.MinInt64
		} else {
			wm = min(wm, t.UnixNano())
		}
		return nil
	}); err != nil {
		return err
	}
	return r.answer(r.forEach, wm, func(int64) bool { return true }, "")
}

// visitor calls fn with windowOps: all the workers' through the job's
// query lock (forEach), or one worker's own, from its Process.
type visitor func(fn func(o *windowOp) error) error

// answer writes the windows that end at or before wm, merging the
// workers' answers, then takes them out of the workers: a checkpoint
// taken between the two keeps a window the run wrote (written again
// after a crash), never loses one. complete says whether a window ended
// before the input did; why says what cut the others short.
func (r *windowRun) answer(visit visitor, wm int64, complete func(end int64) bool, why string) error {
	byEnd := map[int64]*windowStates{}
	held := 0
	var first *closedWindow // the earliest window held, for errors
	if err := visit(func(o *windowOp) error {
		held += len(o.closed)
		if len(o.closed) > 0 && (first == nil || o.closed[0].end < first.end) {
			first = &o.closed[0]
		}
		for _, c := range o.closed {
			if c.end > wm {
				break
			}
			w := byEnd[c.end]
			if w == nil {
				w = &windowStates{start: c.start, end: c.end}
				byEnd[c.end] = w
			}
			w.records += c.records
			w.late += c.late
			w.states = append(w.states, c.state)
		}
		return nil
	}); err != nil {
		return err
	}
	r.peak = max(r.peak, held)
	ends := make([]int64, 0, len(byEnd))
	for end := range byEnd {
		ends = append(ends, end)
	}
	slices.Sort(ends)
	if r.mem != nil && r.mem.over() {
		// The workers' windows passed the cap as they closed.
		what := "as the windows closed"
		if first != nil {
			what = fmt.Sprintf("with %d closed windows waiting to be written, the first the window %s", held,
				spanText(time.Unix(0, first.start).UTC(), time.Unix(0, first.end).UTC()))
		}
		return windowMemError(r.mem, what)
	}
	for _, end := range ends {
		if err := r.answerOne(byEnd[end], complete(end), why); err != nil {
			return err
		}
	}
	if len(ends) == 0 {
		return nil
	}
	last := ends[len(ends)-1]
	return visit(func(o *windowOp) error {
		o.drop(last)
		return nil
	})
}

// windowStates is one window's answers from the workers: its records,
// late records and merged operators' states.
type windowStates struct {
	start, end int64
	records    uint64
	late       uint64
	states     [][]byte
}

// answerOne merges w's states and writes the window; ok says whether the
// window is complete, why what cut it short if not.
func (r *windowRun) answerOne(w *windowStates, ok bool, why string) error {
	op, err := r.s.newWindowSlot(0)
	if err != nil {
		return err
	}
	if b, isB := op.(budgeted); isB {
		defer b.release()
	}
	start, stop := time.Unix(0, w.start).UTC(), time.Unix(0, w.end).UTC()
	for _, st := range w.states {
		if err := op.MergeBinary(st); err != nil {
			return err
		}
		if r.mem != nil && r.mem.over() {
			return windowMemError(r.mem, "merging the workers' answers for the window "+spanText(start, stop))
		}
	}
	a := r.s.newAgg()
	if err := addWindowOp(a, op); err != nil {
		return err
	}
	c := counts{Records: w.records}
	switch st := op.(type) { // the window's records without a number
	case *pipeline.Stats:
		c.Bad = st.Missing
	case *pipeline.GroupStats:
		c.Bad = st.Missing
	}
	res := a.result(c)
	if err := r.rep.window(start, stop, res, w.late, ok, why); err != nil {
		return err
	}
	r.emitted = max(r.emitted, w.end)
	r.recent = append(r.recent, windowJSON(start, stop, res.JSON, w.late, ok))
	if n := len(r.recent); n > maxRecent {
		r.recent = slices.Delete(r.recent, 0, n-maxRecent)
	}
	return nil
}

// resumed drops, from the windows a restored checkpoint's workers hold,
// those written before it: a worker's state may hold a window another
// worker's, taken later, says was written (see windowOp.written).
func (r *windowRun) resumed() error {
	var written int64 = math.MinInt64
	if err := r.forEach(func(o *windowOp) error { written = max(written, o.written); return nil }); err != nil {
		return err
	}
	r.emitted = written
	return r.forEach(func(o *windowOp) error { o.drop(written); return nil })
}

// flush closes every open window and writes it: at the end of the input
// (interrupted: the run stopped early), a window is complete if the
// stream reached its end (event time: a record at or past it; processing
// time: the clock).
func (r *windowRun) flush(interrupted bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var reached int64 = math.MinInt64
	if err := r.forEach(func(o *windowOp) error {
		if t := o.w.MaxTime(); !t.IsZero() {
			reached = max(reached, t.UnixNano())
		}
		return nil
	}); err != nil {
		return err
	}
	if !r.flags.eventTime() {
		reached = r.e.now().UnixNano()
	}
	if reached == math.MinInt64 {
		return nil // no record at all
	}
	// Past every open slot of every worker.
	past := time.Unix(0, reached).Add(r.flags.lateness + 2*r.flags.size)
	if err := r.forEach(func(o *windowOp) error { return o.w.Advance(past) }); err != nil {
		return err
	}
	why := "the input ended before the window did"
	complete := func(end int64) bool { return end <= reached }
	if interrupted {
		why = "interrupted before the window closed"
		complete = func(int64) bool { return false }
	}
	return r.answer(r.forEach, math.MaxInt64, complete, why)
}

// newWindowSlot makes one slot's operator for the windows: the command's
// own, which must merge; for distinct, a pipeline.Distinct, whose slots a
// Window keeps faster than any other (pipeline/window_distinct.go), where
// distinctOp's dense phase would only start as a slot ends.
func (s *spec) newWindowSlot(i int) (pipeline.Mergeable, error) {
	op, err := s.newOp(i)
	if err != nil {
		return nil, err
	}
	if d, ok := op.(*distinctOp); ok {
		h, err := sketch.NewHLL(int(d.p))
		return &pipeline.Distinct{HLL: h}, err
	}
	m, ok := op.(pipeline.Mergeable)
	if !ok {
		return nil, fmt.Errorf("%s: --window needs a mergeable operator, not %T", s.cmd, op)
	}
	return m, nil
}

// addWindowOp merges a window's operator, which the caller drops after
// the answer, into a, fresh: distinct's windows are pipeline.Distincts
// (newWindowSlot); distinct --by -k 0's answer takes the window's
// sketch rather than a copy, within --max-memory.
func addWindowOp(a aggregate, op pipeline.Mergeable) error {
	if d, ok := op.(*pipeline.Distinct); ok {
		if da, ok := a.(*distinctAgg); ok {
			return da.hll.Merge(d.HLL)
		}
	}
	if g, ok := op.(*groupAllOp); ok && g.Sketch != nil {
		if da, ok := a.(*distinctAllAgg); ok && da.g.Groups() == 0 && da.g.Precision() == g.Sketch.Precision() {
			da.g = g.Sketch
			return nil
		}
	}
	return a.addOp(op)
}

// runWindowed runs s with --window: it answers each window as it closes
// (see windowRun), instead of once at the end.
func runWindowed(ctx context.Context, e *env, s *spec) int {
	o := s.opts
	wf := &o.win
	if err := applyTime(e, o, s); err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return fail(e, err)
		}
		return usage(e, s.cmd, err)
	}
	ckpt := o.checkpoint != ""
	if wf.eventTime() && o.jobsAuto {
		// The job's watermark is the slowest worker's: a later worker's
		// windows wait for it, in memory. A stream is dealt in chunks of
		// a MiB, so each worker would hold the windows back until its
		// next chunk came; a file is cut into ranges, so every window of
		// a later range would wait for the first range's end.
		o.jobs = 1
	}
	if ckpt && o.resume && o.jobsAuto {
		if n := resumeJobs(o.checkpoint); n > 0 {
			o.jobs = n
		}
	}
	// Windows answer from each worker's share of the input: fixed shares
	// make late records the same on every run.
	closing := make(chan struct{}, 1)
	ws := &windowSpec{spec: s, closing: closing}
	cfg := job.Config{
		Inputs: s.args, Stdin: e.stdin, Workers: o.jobs, Unordered: false,
		Line: s.line, NewOperator: ws.newOp(e, wf), Name: s.cmd,
		ChunkSize: e.chunkSize, ReadBuffer: e.bufSize, Opened: testHookPlanned,
	}
	hook := new(webHook)
	if ckpt {
		cfg.Checkpoint = checkpointConfig(e, s)
		cfg.Checkpoint.Identity += wf.identity()
		if o.http != "" {
			log := cfg.Checkpoint.OnComplete
			cfg.Checkpoint.OnComplete = func(m checkpoint.Manifest, err error) { log(m, err); hook.onComplete(m, err) }
		}
	}
	j, err := job.New(cfg)
	if err != nil {
		return fail(e, jobError(err))
	}
	defer j.Close()
	r := &windowRun{e: e, s: s, j: j, flags: wf, emitted: math.MinInt64, mem: s.windowMem,
		rep: newReporter(e, e.stdout, o.format, false)}
	ws.run = r
	if err := r.resumed(); err != nil {
		return fail(e, err)
	}
	var page *webPage
	if o.http != "" {
		page, err = startWeb(e, s, j, func() any {
			r.mu.Lock()
			defer r.mu.Unlock()
			return map[string]any{"windows": slices.Clone(r.recent)}
		})
		if err != nil {
			return fail(e, err)
		}
		defer page.stop()
		hook.page.Store(page)
	}

	// runCtx stops the workers; on a signal, only once the collector has
	// stopped, so that no window is written after the last checkpoint
	// was taken (and written again on --resume).
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopCollect, collected := make(chan struct{}), make(chan struct{})
	var collectErr error
	go func() {
		defer close(collected)
		if wf.eventTime() && o.jobs == 1 {
			// The worker writes its windows (windowOp.writeOwn); by event
			// time, a quiet stream closes none.
			<-stopCollect
			return
		}
		tick, stopTicker := e.newTicker(collectEvery(wf))
		defer stopTicker()
		for {
			select {
			case <-tick:
			case <-closing:
			case <-stopCollect:
				return
			}
			if err := r.cycle(); err != nil {
				collectErr = err
				cancel()
				return
			}
		}
	}()
	var stopOnce sync.Once
	stopCollector := func() {
		stopOnce.Do(func() { close(stopCollect) })
		<-collected
	}
	runDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stopCollector()
			cancel()
		case <-runDone:
		}
	}()
	var wg sync.WaitGroup
	stopProgress := make(chan struct{})
	if pr := newProgress(e, o.progress, j); pr != nil {
		if ckpt {
			pr.ckpt = j.Pipeline().CheckpointStats
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr.run(stopProgress)
		}()
	}
	runErr := j.Run(runCtx)
	close(runDone)
	stopCollector()
	close(stopProgress)
	wg.Wait()
	if id := j.FinalCheckpoint(); id > 0 {
		fmt.Fprintf(e.stderr, "streamstat: interrupted: checkpoint %d saved in %s; --resume goes on from there\n", id, o.checkpoint)
	}
	if err := r.rep.err(); err != nil {
		return writeFailed(e, err)
	}
	if collectErr != nil {
		return fail(e, collectErr)
	}
	interrupted := runErr != nil && ctx.Err() != nil
	if runErr != nil && !interrupted {
		if errors.Is(runErr, syscall.EPIPE) {
			return exitOK
		}
		return fail(e, jobError(runErr))
	}
	if page != nil {
		page.obs.Done(nil)
	}
	if err := r.flush(interrupted); err != nil {
		if werr := r.rep.err(); werr != nil {
			return writeFailed(e, werr)
		}
		return fail(e, err)
	}
	if testHookWindowRun != nil {
		testHookWindowRun(r)
	}
	c := jobCounts(j.Counts())
	if interrupted {
		fmt.Fprintf(e.stderr, "streamstat: interrupted: the windows not yet closed are partial, over the %d records read before the signal\n", c.Records)
	}
	r.note(c)
	if ckpt {
		if st := j.Pipeline().CheckpointStats(); st.Failed > 0 {
			fmt.Fprintf(e.stderr, "streamstat: warning: %d of %d checkpoints failed; the last: %v\n",
				st.Failed, st.Failed+st.Completed, st.LastError)
		}
	}
	if page != nil && !interrupted {
		page.serveUntilDone(ctx, e)
	}
	return exitOK
}

// note writes the run's warnings: records skipped (no key, no time) and
// late ones.
func (r *windowRun) note(c counts) {
	var late uint64
	r.forEach(func(o *windowOp) error { late += o.w.Late(); return nil })
	e, s := r.e, r.s
	if c.Skipped > 0 {
		what := s.opts.st.what
		if what == "" {
			what = fmt.Sprintf("-f %d -d %s", s.line.Field, s.line.Delimiter)
		}
		fmt.Fprintf(e.stderr, "streamstat: warning: %d of %d records have no key (%s) and were skipped; --strict stops at the first\n",
			c.Skipped, c.Records, what)
	}
	if c.Bad > 0 {
		fmt.Fprintf(e.stderr, "streamstat: warning: %d of %d values are not numbers and were left out (each window's bad values say where)\n", c.Bad, c.Records)
	}
	if late > 0 {
		fmt.Fprintf(e.stderr, "streamstat: warning: %d of %d records were late (their window had closed: more than --lateness %v behind the latest time before them) and are in no window\n",
			late, c.Records, r.flags.lateness)
	}
}

// readsStream reports whether any of the inputs is a stream (stdin, a
// pipe): not a regular file.
func readsStream(args []string) bool {
	if len(args) == 0 {
		return true
	}
	for _, a := range args {
		if fi, err := os.Stat(a); a == "-" || err != nil || !fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// collectEvery is how often the collector looks for closed windows: a
// quarter of a slide, between 10ms and 1s.
func collectEvery(w *windowFlags) time.Duration {
	slide := w.slide
	if slide == 0 {
		slide = w.size
	}
	return min(max(slide/4, 10*time.Millisecond), time.Second)
}

// windowSpec makes the workers' windowOps.
type windowSpec struct {
	spec    *spec
	closing chan<- struct{}
	run     *windowRun // set before the job runs
}

func (ws *windowSpec) newOp(e *env, w *windowFlags) func(int) (pipeline.Operator, error) {
	return func(i int) (pipeline.Operator, error) {
		if _, err := ws.spec.newWindowSlot(i); err != nil {
			return nil, err
		}
		var o *windowOp
		o = newWindowOp(w, func() (pipeline.Mergeable, error) {
			op, err := ws.spec.newWindowSlot(i)
			return o.budgetSlot(op), err
		}, e.now, ws.closing)
		if mem := ws.spec.windowMem; mem != nil {
			o.mem, o.local = mem, &memBudget{parent: mem}
		}
		if ws.spec.opts.jobs == 1 {
			// The worker writes its windows itself: the collector, woken,
			// would wait for its batch to end.
			o.solo, o.closing = func() *windowRun { return ws.run }, nil
		}
		return o, nil
	}
}
