package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/streamstat/streamstat/pipeline"
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
}

// runJob runs s to the end of its inputs, or until ctx is done (SIGINT,
// SIGTERM), and writes the final answer either way.
func runJob(ctx context.Context, e *env, s *spec) int {
	ckpt := s.opts.checkpoint != ""
	// With checkpoints, a signal first takes a last checkpoint (see
	// finalCheckpoint), then stops the run; otherwise it stops it at once.
	parent := ctx
	if ckpt {
		parent = context.Background()
	}
	jobCtx, cancel := context.WithCancel(parent)
	defer cancel()
	if ckpt && s.opts.resume && s.opts.jobsAuto {
		if n := resumeJobs(s.opts.checkpoint); n > 0 {
			s.opts.jobs = n
		}
	}
	// A checkpoint's positions need every worker's share of the input
	// fixed in advance.
	pl, err := newPlan(e, s.args, s.opts.jobs, s.dynamic && !ckpt, s.line)
	if err != nil {
		return fail(e, err)
	}
	defer pl.close()
	if testHookPlanned != nil {
		testHookPlanned()
	}
	if s.shed != nil {
		if err := s.shed.checkInputs(pl); err != nil {
			fmt.Fprintf(e.stderr, "streamstat: %s: %v\n", s.cmd, err)
			return exitUsage
		}
	}
	ws := pl.newWorkers(jobCtx)
	srcs := make([]pipeline.Source, len(ws))
	for i, w := range ws {
		srcs[i] = w
	}
	var cfg pipeline.Config
	stage := pipeline.Stage{Name: s.cmd, New: s.newOp, Parallelism: len(ws)}
	var cp *checkpointing
	restore := false
	if ckpt {
		if cp, restore, err = openCheckpoints(e, s, pl); err != nil {
			return fail(e, err)
		}
		cp.configure(e, s.opts.ckptInterval, ws, &stage, &cfg)
	}
	if s.shed != nil {
		s.shed.configure(e, &stage, &cfg)
	}
	p, err := pipeline.New(srcs, []pipeline.Stage{stage}, cfg)
	if err != nil {
		return fail(e, trimPipeline(err))
	}
	if restore {
		if _, err := p.Restore(cp.store); err != nil {
			return fail(e, fmt.Errorf("--resume from %s: %w", cp.dir, trimPipeline(err)))
		}
	}
	out := s.out
	if out == nil {
		out = e.stdout
	}
	rep := newReporter(e, out, s.opts.format, s.opts.interval > 0)
	snapshot := func() (aggregate, counts, error) {
		a := s.newAgg()
		err := p.Query(0, func(_ int, op pipeline.Operator) error { return a.addOp(unwrapOp(op)) })
		var c counts
		for _, w := range ws {
			c.add(w.counts())
		}
		if s.extraCounts != nil {
			c.add(s.extraCounts(p))
		}
		return a, c, err
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
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
				if err == nil {
					err = rep.snapshot(a.result(c))
				}
				if err != nil {
					cancel() // a closed stdout: stop reading
					return
				}
			}
		}()
	}
	if pr := newProgress(e, s.opts.progress, pl, ws); pr != nil {
		if ckpt {
			pr.ckpt = p.CheckpointStats
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr.run(stop)
		}()
	}
	runDone := make(chan struct{})
	if ckpt {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-ctx.Done():
				finalCheckpoint(e, p, cp, runDone)
				cancel()
			case <-runDone:
			}
		}()
	}
	runErr := p.Run(jobCtx)
	close(runDone)
	close(stop)
	wg.Wait()

	if err := rep.err(); err != nil {
		return writeFailed(e, err)
	}
	if runErr != nil {
		if errors.Is(runErr, syscall.EPIPE) {
			return exitOK // dedup's stdout was closed
		}
		for _, w := range ws {
			if w.err != nil {
				return fail(e, w.err)
			}
		}
		if ctx.Err() == nil {
			return fail(e, trimPipeline(runErr))
		}
		// Interrupted: the final answer covers what was read.
	}
	interrupted := runErr != nil && ctx.Err() != nil
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
	if c.Skipped > 0 && s.line.Field > 0 {
		fmt.Fprintf(e.stderr, "streamstat: warning: %d of %d lines have no field %d (delimiter %s) and were skipped\n",
			c.Skipped, c.Records, s.line.Field, s.line.Delimiter)
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
