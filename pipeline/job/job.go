package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/streamstat/streamstat/flowcontrol"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// Errors a job reports, wrapped with what went wrong where.
var (
	// ErrOtherJob: resuming found a checkpoint of another job (other
	// identity lines or inputs, another number of workers with operators
	// whose state does not merge, or an earlier version's format) in the
	// directory.
	ErrOtherJob = errors.New("job: checkpoint of another job")
	// ErrOtherStream: resuming found a stream that is not the one the
	// checkpoint was taken of: shorter than the checkpoint's position, or
	// with other bytes before it.
	ErrOtherStream = errors.New("job: not the stream the checkpoint was taken of")
	// ErrFileChanged: a file ended before the size it had when the job
	// opened it (pipeline.ErrFileChanged).
	ErrFileChanged = pipeline.ErrFileChanged
)

// Config describes a job. Inputs, Workers, Line and NewOperator say what
// it computes; the rest how. Workers and NewOperator are required (New
// refuses a zero Config); the zero value of every other field means its
// documented default. A Config is a plain value; New copies what it needs.
type Config struct {
	// Inputs are the paths to read, in order; "-" (or no input at all)
	// is Stdin. A regular file is cut into newline-aligned ranges read in
	// parallel through one descriptor opened by New; anything else (a
	// pipe, a FIFO, a device, a file whose size says nothing such as those
	// of /proc) is a stream, read by one goroutine that deals
	// newline-aligned chunks to the workers.
	Inputs []string
	// Stdin is what "-" reads; nil means os.Stdin.
	Stdin io.Reader
	// Workers is the number of parallel workers, each a pipeline source
	// with its own operator; at least 1.
	Workers int
	// Unordered lets any idle worker take the next range or chunk, which
	// balances load on a busy machine, for operators whose merged state
	// does not depend on which worker saw which record (HLL, Count-Min).
	// Otherwise each worker has a fixed share of every input, so the same
	// input gives the same state on every run (TopK, reservoirs). With
	// Checkpoint, shares are always fixed.
	Unordered bool
	// Line says how lines become records.
	Line pipeline.LineConfig
	// NewOperator returns worker i's operator, chained to its source.
	NewOperator func(worker int) (pipeline.Operator, error)
	// Name names the stage in metrics and errors; "" means "job".
	Name string
	// Checkpoint, if set, checkpoints the job and resumes it.
	Checkpoint *CheckpointConfig
	// Shed, if set, sheds load at every worker.
	Shed *ShedConfig
	// ChunkSize is the size of the chunks a stream is dealt in; 0 means 1
	// MiB. ReadBuffer is the size of a stream's reads; 0 means 256 KiB.
	ChunkSize  int64
	ReadBuffer int
	// Opened, if set, is called when every input is open, before any is
	// read.
	Opened func()
}

// CheckpointConfig turns checkpoints on. Dir is required; the zero value
// of every other field means its documented default.
type CheckpointConfig struct {
	// Dir holds the checkpoints (a checkpoint.DirStore) and the job
	// description (JobFile).
	Dir string
	// Interval is the time between checkpoints; 0 means
	// DefaultCheckpointInterval.
	Interval time.Duration
	// Resume goes on from the newest complete checkpoint in Dir, if its
	// job is this one (New fails with ErrOtherJob otherwise), restoring
	// the operators' state; without a checkpoint the job starts from the
	// beginning. Without Resume, New clears Dir's checkpoints.
	Resume bool
	// Identity is the part of the job description the caller makes:
	// lines (each ending in a newline) naming whatever shapes the state
	// (the operator, its parameters). A checkpoint is resumed only if they
	// are the same, and its inputs are the same files (by device, inode,
	// size and modification time, whatever their names) and streams (by
	// the hash of their bytes). It resumes with another number of workers
	// if the operators' states merge (see the package documentation).
	Identity string
	// OnComplete, if set, is called as each checkpoint completes or fails
	// (see pipeline.CheckpointConfig).
	OnComplete func(m checkpoint.Manifest, err error)
	// Logf, if set, receives notes: a damaged checkpoint skipped, no
	// checkpoint to resume.
	Logf func(format string, args ...any)
}

// ShedConfig turns load shedding on: each worker's records pass its
// shedder before its operator (pipeline.Config.NewShedder), with a channel
// between source and operator so that the shedder sees the operator's
// back-pressure. NewShedder is required.
type ShedConfig struct {
	NewShedder func(worker int) pipeline.Shedder
	// Clock times the channel and the shedders; nil means the system
	// clock.
	Clock flowcontrol.Clock
}

// Job is a parallel job over files and streams: each worker is a
// pipeline source over its share of the inputs, with its operator chained
// to it (or behind a channel, when shedding), and the answer is what the
// caller makes of the workers' operators (Query), at the end or while the
// job runs.
//
// The zero value is not usable: make one with New; Run it once; Close it.
// Query, Counts, Inputs, Size and Workers may be called from any
// goroutine, also during Run.
type Job struct {
	pl     *plan
	ws     []*worker
	p      *pipeline.Pipeline
	cp     *checkpointing
	ctx    context.Context // the workers' (stream reads)
	cancel context.CancelFunc
	final  uint64
}

// Input describes one input of a job. It is a plain value.
type Input struct {
	Name   string // as given ("stdin" for "-")
	Stream bool   // read as a stream (see Config.Inputs)
	Size   int64  // bytes, or -1 for a stream
}

// New opens the inputs of cfg (so an unreadable one fails at once, before
// anything is read), prepares the checkpoint directory and, when resuming,
// restores the newest checkpoint.
func New(cfg Config) (*Job, error) {
	if cfg.Workers < 1 || cfg.NewOperator == nil {
		return nil, fmt.Errorf("job: %d workers, operator constructor set %v: %w", cfg.Workers, cfg.NewOperator != nil, pipeline.ErrInvalidGraph)
	}
	ckpt := cfg.Checkpoint
	// A checkpoint's positions need every worker's share of the input
	// fixed in advance.
	pl, err := newPlan(&cfg, cfg.Workers, cfg.Unordered && ckpt == nil)
	if err != nil {
		return nil, err
	}
	j := &Job{pl: pl}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Job, error) {
		j.Close()
		return nil, err
	}
	if cfg.Opened != nil {
		cfg.Opened()
	}
	j.ws = pl.newWorkers(j.ctx)
	srcs := make([]pipeline.Source, len(j.ws))
	for i, w := range j.ws {
		srcs[i] = w
	}
	name := cfg.Name
	if name == "" {
		name = "job"
	}
	stage := pipeline.Stage{Name: name, New: cfg.NewOperator, Parallelism: len(j.ws)}
	var pcfg pipeline.Config
	if ckpt != nil {
		if j.cp, err = openCheckpoints(ckpt, pl); err != nil {
			return fail(err)
		}
		j.cp.configure(j.ws, &stage, &pcfg)
	}
	if sh := cfg.Shed; sh != nil {
		// The pipeline puts a channel in front of the stage (and runs it
		// in the worker's goroutine while nothing is shed).
		pcfg.NewShedder = sh.NewShedder
		pcfg.Clock = sh.Clock
		// The workers time their waits for input, which the shedders'
		// controllers read (pipeline.InputWaiter).
		var clock flowcontrol.Clock = systemClock{}
		if sh.Clock != nil {
			clock = sh.Clock
		}
		for _, w := range j.ws {
			w.clock = clock
		}
	}
	if j.p, err = pipeline.New(srcs, []pipeline.Stage{stage}, pcfg); err != nil {
		return fail(err)
	}
	if j.cp != nil && j.cp.restore {
		if err := j.cp.checkRescale(j.p, len(j.ws)); err != nil {
			return fail(err)
		}
		m, err := j.p.Restore(j.cp.store)
		if err != nil {
			return fail(fmt.Errorf("job: resume from %s: %w", ckpt.Dir, err))
		}
		j.cp.restored = m.ID
		pl.countChecks(j.ws)
	}
	return j, nil
}

// Run runs the job to the end of its inputs, or until ctx is done. With
// checkpoints, ctx done first takes a last checkpoint (as Flink's
// stop-with-savepoint does), so that resuming goes on from there, then
// stops; FinalCheckpoint says which. A job stopped so returns an error
// (ctx's, or what it caused); an input error names the input.
func (j *Job) Run(ctx context.Context) error {
	runDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			if j.cp != nil {
				j.final = finalCheckpoint(j.p, j.cp, runDone)
			}
			j.cancel()
		case <-runDone:
		}
	}()
	err := j.p.Run(j.ctx)
	close(runDone)
	wg.Wait()
	if err == nil {
		return nil
	}
	for _, w := range j.ws {
		w.mu.Lock()
		werr := w.err
		w.mu.Unlock()
		if werr != nil {
			return werr
		}
	}
	return err
}

// FinalCheckpoint returns the id of the checkpoint Run took when its ctx
// was done, or 0 if it took none. Call it after Run.
func (j *Job) FinalCheckpoint() uint64 { return j.final }

// Query calls fn with each worker's operator, as NewOperator made it,
// under the pipeline's query lock (see pipeline.Pipeline.Query): fn must
// be quick and keep no reference.
func (j *Job) Query(fn func(worker int, op pipeline.Operator) error) error {
	return j.p.Query(0, func(i int, op pipeline.Operator) error { return fn(i, unwrapOp(op)) })
}

// Counts returns the job's line counters so far, over every worker (with
// those of the input before a restored checkpoint).
func (j *Job) Counts() Counts {
	var c Counts
	for _, w := range j.ws {
		c.Add(w.counts())
	}
	return c
}

// Workers returns the number of workers.
func (j *Job) Workers() int { return len(j.ws) }

// Inputs describes the job's inputs, in order.
func (j *Job) Inputs() []Input {
	ins := make([]Input, len(j.pl.inputs))
	for i, in := range j.pl.inputs {
		ins[i] = Input{Name: in.name, Stream: in.stream != nil, Size: in.size}
	}
	return ins
}

// Size is the number of bytes in all inputs, or -1 if any is a stream.
func (j *Job) Size() int64 { return j.pl.total }

// Pipeline returns the job's pipeline, for its metrics and checkpoint
// statistics.
func (j *Job) Pipeline() *pipeline.Pipeline { return j.p }

// Close closes the job's inputs.
func (j *Job) Close() error {
	j.cancel()
	j.pl.close()
	return nil
}
