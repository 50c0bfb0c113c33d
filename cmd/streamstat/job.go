package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"

	"github.com/streamstat/streamstat/internal/errmsg"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/pipeline/job"
)

// aggregate is a subcommand's answer in the making: the merge of its
// workers' sketches, or of state files.
type aggregate interface {
	// addOp merges in the state of one worker's operator; it runs under
	// Pipeline.Query's lock, so it must be quick and keep no reference.
	addOp(op pipeline.Operator) error
	// merge merges in an aggregate of the same subcommand, read from a
	// state file; the error wraps sketch.ErrIncompatible when shapes
	// differ.
	merge(o aggregate) error
	// appendState appends the aggregate's state for --save.
	appendState(dst []byte) ([]byte, error)
	// result renders the answer over the counts c.
	result(c counts) result
}

// spec is one counting run: the inputs, the operator each worker chains to
// its source, and how to merge and show their states.
type spec struct {
	cmd     string
	args    []string // input files
	opts    *options
	dynamic bool // the sketch does not care which worker saw a record
	line    pipeline.LineConfig
	newOp   func(i int) (pipeline.Operator, error)
	newAgg  func() aggregate
	// out receives the answers; nil means stdout. show, if set, says
	// whether to write the final answer at all (dedup's summary).
	out  io.Writer
	show func(a aggregate, c counts) bool
	// extraCounts adds counts the operators keep (dedup's skipped lines).
	extraCounts func(p *pipeline.Pipeline) counts
	// shed, if set, sheds load at every worker (--shed; see shed.go).
	shed *shedRun
	// windowMem, if set, is the budget of --max-memory the window slots
	// newOp makes count in (--window; see window_mem.go).
	windowMem *memBudget
	// setExtract, if set, takes the key's extractor of structured input
	// (structured.go) in place of line.Extract: dedup, whose source keeps
	// whole lines for its output.
	setExtract func(pipeline.Extractor)
}

// testHookPlanned, if set (by tests), runs when a run's inputs are open,
// before any is read.
var testHookPlanned func()

// runJob runs s to the end of its inputs, or until ctx is done (SIGINT,
// SIGTERM), and writes the final answer either way. The job itself (input
// planning, the workers, checkpoints, shedding) is package job's.
func runJob(ctx context.Context, e *env, s *spec) int {
	if s.opts.win.on() {
		return runWindowed(ctx, e, s) // window_run.go
	}
	ckpt := s.opts.checkpoint != ""
	// runCtx also stops the run when stdout is closed.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if ckpt && s.opts.resume && s.opts.jobsAuto {
		if n := resumeJobs(s.opts.checkpoint); n > 0 {
			s.opts.jobs = n
		}
	}
	cfg := job.Config{
		Inputs: s.args, Stdin: e.stdin, Workers: s.opts.jobs, Unordered: s.dynamic,
		Line: s.line, NewOperator: s.newOp, Name: s.cmd,
		ChunkSize: e.chunkSize, ReadBuffer: e.bufSize, Opened: testHookPlanned,
	}
	if ckpt {
		cfg.Checkpoint = checkpointConfig(e, s)
	}
	hook := new(webHook) // --http: the page hears of each checkpoint
	if ckpt && s.opts.http != "" {
		log := cfg.Checkpoint.OnComplete
		cfg.Checkpoint.OnComplete = func(m checkpoint.Manifest, err error) { log(m, err); hook.onComplete(m, err) }
	}
	if s.shed != nil {
		cfg.Shed = s.shed.config(e)
	}
	j, err := job.New(cfg)
	if err != nil {
		return fail(e, jobError(err))
	}
	defer j.Close()
	if s.shed != nil {
		if err := s.shed.checkInputs(j.Inputs()); err != nil {
			fmt.Fprintf(e.stderr, "streamstat: %s: %v\n", s.cmd, err)
			return exitUsage
		}
	}
	p := j.Pipeline()
	out := s.out
	if out == nil {
		out = e.stdout
	}
	rep := newReporter(e, out, s.opts.format, s.opts.interval > 0)
	snapshot := func() (aggregate, counts, error) {
		a := s.newAgg()
		err := j.Query(func(_ int, op pipeline.Operator) error { return a.addOp(op) })
		c := jobCounts(j.Counts())
		if s.extraCounts != nil {
			c.add(s.extraCounts(p))
		}
		return a, c, err
	}
	var page *webPage
	if s.opts.http != "" {
		page, err = startWeb(e, s, j, func() any {
			a, c, err := snapshot()
			if err != nil {
				return map[string]string{"error": err.Error()}
			}
			return a.result(c).JSON
		})
		if err != nil {
			return fail(e, err)
		}
		defer page.stop()
		hook.page.Store(page)
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var snapErr error // an answer at an --interval that could not be made
	if d := s.opts.interval; d > 0 {
		tick, stopTicker := e.newTicker(d)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer stopTicker()
			for {
				select {
				case <-tick:
				case <-stop:
					return
				}
				a, c, err := snapshot()
				if err != nil {
					// Past --max-memory as the answer merged (distinct
					// --by -k 0): the run stops with that error.
					snapErr = err
					cancel()
					return
				}
				if err := rep.snapshot(a.result(c)); err != nil {
					cancel() // a closed stdout: stop reading
					return
				}
			}
		}()
	}
	if pr := newProgress(e, s.opts.progress, j); pr != nil {
		if ckpt {
			pr.ckpt = p.CheckpointStats
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr.run(stop)
		}()
	}
	runErr := j.Run(runCtx)
	close(stop)
	wg.Wait()
	if snapErr != nil {
		return fail(e, snapErr)
	}
	if id := j.FinalCheckpoint(); id > 0 {
		fmt.Fprintf(e.stderr, "streamstat: interrupted: checkpoint %d saved in %s; --resume goes on from there\n", id, s.opts.checkpoint)
	}

	if err := rep.err(); err != nil {
		return writeFailed(e, err)
	}
	if runErr != nil {
		if errors.Is(runErr, syscall.EPIPE) {
			return exitOK // dedup's stdout was closed
		}
		if ctx.Err() == nil {
			return fail(e, jobError(runErr))
		}
		// Interrupted: the final answer covers what was read.
	}
	interrupted := runErr != nil && ctx.Err() != nil
	if page != nil {
		if interrupted {
			page.obs.Done(nil)
		} else {
			page.obs.Done(runErr)
		}
	}
	a, c, err := snapshot()
	if err != nil {
		return fail(e, err)
	}
	if s.show == nil || s.show(a, c) {
		if err := rep.final(a.result(c), !interrupted); err != nil {
			return writeFailed(e, err)
		}
	}
	if interrupted {
		notePartial(e, s, c)
	}
	if err := answerCheck(e, a, c); err != nil {
		return fail(e, err)
	}
	if c.Skipped > 0 && s.line.Field > 0 && s.line.Extract == nil {
		fmt.Fprintf(e.stderr, "streamstat: warning: %d of %d lines have no field %d (delimiter %s) and were skipped\n",
			c.Skipped, c.Records, s.line.Field, s.line.Delimiter)
	}
	if c.Skipped > 0 && s.line.Extract != nil {
		fmt.Fprintf(e.stderr, "streamstat: warning: %d of %d records have no key (%s) and were skipped; --strict stops at the first\n",
			c.Skipped, c.Records, s.opts.st.what)
	}
	if ckpt {
		if st := p.CheckpointStats(); st.Failed > 0 {
			fmt.Fprintf(e.stderr, "streamstat: warning: %d of %d checkpoints failed; the last: %v\n",
				st.Failed, st.Failed+st.Completed, st.LastError)
		}
	}
	if s.shed != nil {
		s.shed.note(e.stderr)
	}
	if s.opts.save != "" {
		if err := saveRun(s, c, a, !interrupted); err != nil {
			return fail(e, err)
		}
	}
	if page != nil && !interrupted {
		page.serveUntilDone(ctx, e)
	}
	return exitOK
}

// fail reports err on stderr and returns exit code 1.
func fail(e *env, err error) int {
	fmt.Fprintf(e.stderr, "streamstat: %v\n", err)
	return exitFailure
}

// writeFailed handles an error writing the answer: a closed pipe (the
// reader, say head, has seen enough) ends the program quietly.
func writeFailed(e *env, err error) int {
	if errors.Is(err, syscall.EPIPE) {
		return exitOK
	}
	return fail(e, fmt.Errorf("write output: %w", unwrapPath(err)))
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

func jobCounts(c job.Counts) counts {
	return counts{Records: c.Records, Skipped: c.Skipped, Bad: c.Bad, Bytes: c.Bytes}
}

// checkpointConfig is the job's checkpoint configuration for --checkpoint
// DIR: its identity lines say what shapes the state, and its notes and
// failures go to stderr.
func checkpointConfig(e *env, s *spec) *job.CheckpointConfig {
	// A failure is reported when it first happens and when it changes,
	// not at every interval of a full disk.
	var lastErr string
	return &job.CheckpointConfig{
		Dir: s.opts.checkpoint, Interval: s.opts.ckptInterval, Resume: s.opts.resume,
		Identity: describeShape(s),
		Logf: func(format string, a ...any) {
			fmt.Fprintf(e.stderr, "streamstat: "+format+"\n", a...)
		},
		OnComplete: func(m checkpoint.Manifest, err error) {
			if err == nil {
				lastErr = ""
				return
			}
			if msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("checkpoint %d: ", m.ID)); msg != lastErr {
				lastErr = msg
				fmt.Fprintf(e.stderr, "streamstat: warning: checkpoint %d failed (the run goes on): %s\n", m.ID, msg)
			}
		},
	}
}

// describeShape returns the lines of a checkpoint's job description that
// the command makes (job.CheckpointConfig.Identity): what shapes the state.
func describeShape(s *spec) string {
	o := s.opts
	var b strings.Builder
	fmt.Fprintf(&b, "command %s\n", s.cmd)
	// The number of workers is the job's to check (a checkpoint resumes
	// with another -j if its state merges).
	fmt.Fprintf(&b, "field %d\ndelimiter %s\nprecision %d\nk %d\nseed %d\nquantiles %s\n",
		o.field, o.delim, o.precision, o.k, o.seed, o.quantStr)
	if o.st.desc != "" {
		fmt.Fprintf(&b, "key %s\n", o.st.desc)
	}
	if s.shed != nil {
		fmt.Fprintf(&b, "shed %s, max latency %v\n", s.shed.policy, s.shed.maxLatency)
	}
	return b.String()
}

// resumeJobs returns the number of workers that took the newest
// checkpoint in dir, or 0 if it cannot tell: a resumed run without -j
// takes it, so that a checkpoint moves to a machine with another number
// of CPUs and goes on as it was.
func resumeJobs(dir string) int {
	if n := job.CheckpointWorkers(dir); n <= maxJobs {
		return n
	}
	return 0
}

// jobError is err from package job in the command's words: without the
// packages' prefixes, and saying what to do about a checkpoint that is not
// this run's.
func jobError(err error) error {
	switch {
	case errors.Is(err, job.ErrOtherJob):
		return fmt.Errorf("--resume: %v; run without --resume to start over", trimJob(err))
	case errors.Is(err, job.ErrOtherStream):
		return fmt.Errorf("%v; run without --resume to start over", trimJob(err))
	}
	return trimJob(err)
}

// trimJob drops the sentinel's text at the end of a job error and the
// package prefixes.
func trimJob(err error) error {
	msg := err.Error()
	for _, sentinel := range []error{job.ErrOtherJob, job.ErrOtherStream} {
		msg = strings.TrimSuffix(msg, ": "+sentinel.Error())
	}
	msg = strings.TrimPrefix(msg, "job: ")
	return trimPipeline(errmsg.Wrap(msg, err))
}
