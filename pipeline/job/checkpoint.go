package job

// Checkpoints of a job (Config.Checkpoint).
//
// A job with checkpoints is a pipeline with checkpoints on
// (pipeline.CheckpointConfig, a checkpoint.DirStore in the directory):
// every interval, each worker records its state between two batches and
// the state of its operator, and the parts go to the directory in the
// background. What the job adds:
//
//   - Workers get fixed shares of the input (static ranges and chunk
//     dealing). A worker is a pipeline.StatefulSource: its state (see
//     state.go) is its line counters and the items left of its share, the
//     one it reads advanced to where it is: a file range from the next
//     line, a stream view from the next byte with the XXH64 of the view's
//     bytes before it, so a resumed job reports the counters of the whole
//     input and recognizes the stream it skips. It also records its
//     position (workerPos), for tools.
//   - The directory's JobFile describes the job (the caller's identity
//     lines, the inputs by what they are: a file by size, modification
//     time, device and inode, a stream by nothing but its bytes); resuming
//     refuses a checkpoint of another job instead of producing a wrong
//     answer.
//   - The pipeline wakes a worker waiting on a quiet stream when a
//     checkpoint starts (pipeline.WakeableSource), so that checkpoints
//     complete while a live stream is quiet.
//   - A checkpoint resumes with another number of workers if the
//     operators' states merge (pipeline.RescalableSource, see
//     RedealSources and filter.go).
//
// A resumed job over the same file continues from the recorded offsets. A
// stream cannot seek: piped again, its first bytes are read, hashed and
// skipped up to the recorded offsets, so the same stream gives the answer
// of an uninterrupted job, and another one is refused.

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

const (
	// DefaultCheckpointInterval is CheckpointConfig.Interval's default.
	DefaultCheckpointInterval = 10 * time.Second
	// JobFile names the job description in the checkpoint directory.
	JobFile = "JOB"
	// jobHeader is the first line of a job description; jobHeaderV1 that
	// of the version before inputs were described by identity.
	jobHeader   = "streamstat checkpoint job, version 2"
	jobHeaderV1 = "streamstat checkpoint job, version 1"
)

// A worker position packs the index of its current input (high bits) and
// offset+1 in its share of that input (low posBits bits), or 0 there when
// it has not started the input. So inputs are limited to 2^(63-posBits)
// and each to 16 TiB.
const (
	posBits  = 44
	posMask  = 1<<posBits - 1
	maxInput = posMask - 1
)

func workerPos(k int, off int64, started bool) int64 {
	p := int64(k) << posBits
	if started {
		p |= off + 1
	}
	return p
}

// DecodePosition splits a worker's position, as a checkpoint of a job
// records it (the source part of the manifest, 8 bytes little-endian),
// into the index of its current input and its byte offset in its share of
// that input; started is false when the worker has not begun that input.
func DecodePosition(pos int64) (input int, offset int64, started bool) {
	if pos&posMask == 0 {
		return int(pos >> posBits), 0, false
	}
	return int(pos >> posBits), pos&posMask - 1, true
}

// checkpointing is what a job with checkpoints needs besides the
// pipeline's configuration.
type checkpointing struct {
	cfg     *CheckpointConfig
	store   *checkpoint.DirStore
	restore bool // there is a checkpoint to restore
	// logf is cfg.Logf, or a func that drops the notes.
	logf func(format string, args ...any)
	// oldWorkers is the number of workers that took the checkpoint to
	// restore; restored is its id, once restored.
	oldWorkers int
	restored   uint64
	// verify counts the checks of the restored positions left: no
	// checkpoint is taken before they have all passed (see verify.go).
	verify  *verification
	settled chan settled // checkpoints as they complete or fail
}

// configure turns checkpoints on in cfg; the workers hash the stream
// bytes they move past, and an operator that wraps a pipeline.Stateful one
// (Unwrapper) is checkpointed through its wrapper.
func (c *checkpointing) configure(ws []*worker, st *pipeline.Stage, cfg *pipeline.Config) {
	for _, w := range ws {
		w.hashing = true
	}
	newOp := st.New
	st.New = func(i int) (pipeline.Operator, error) {
		op, err := newOp(i)
		return checkpointed(op), err
	}
	interval := c.cfg.Interval
	if interval <= 0 {
		interval = DefaultCheckpointInterval
	}
	cfg.Checkpoint = &pipeline.CheckpointConfig{
		Store: c.store, Interval: interval, Ready: c.verify.done,
		OnComplete: func(m checkpoint.Manifest, err error) {
			select {
			case c.settled <- settled{m.ID, err}:
			default: // nobody waits
			}
			if c.cfg.OnComplete != nil {
				c.cfg.OnComplete(m, err)
			}
		},
	}
}

// settled is a checkpoint that completed (err nil) or failed.
type settled struct {
	id  uint64
	err error
}

// finalCheckpointWait bounds how long a stopped job waits for its last
// checkpoint.
const finalCheckpointWait = 10 * time.Second

// finalCheckpoint takes a checkpoint of a job asked to stop before it
// stops, so that resuming goes on from there rather than from the last
// periodic checkpoint, as Flink's stop-with-savepoint does. The job goes
// on meanwhile; it gives up when the job ends by itself or after
// finalCheckpointWait. It returns the checkpoint's id, or 0 if none was
// saved. A resumed job whose input is not yet verified takes none at once
// (see verify.go): the checkpoint it restored stays the newest.
func finalCheckpoint(p *pipeline.Pipeline, c *checkpointing, runDone <-chan struct{}) uint64 {
	timeout := time.NewTimer(finalCheckpointWait)
	defer timeout.Stop()
	for {
		if !c.verify.done() {
			c.stoppedUnverified()
			return 0
		}
		id, err := p.Checkpoint()
		switch {
		case err == nil:
		case errors.Is(err, pipeline.ErrCheckpointBusy) && p.CheckpointStats().InProgress:
			id = 0 // wait for the one in progress, then try again
		default:
			return 0 // a source has finished: no more checkpoints
		}
		for waiting := true; waiting; {
			select {
			case s := <-c.settled:
				switch {
				case id == 0:
					waiting = false
				case s.id >= id:
					if s.err == nil {
						return s.id
					}
					return 0
				}
			case <-runDone:
				return 0
			case <-timeout.C:
				return 0
			}
		}
	}
}

// Unwrapper is an operator that wraps another (Unwrap returns it). A job
// looks through wrappers for the pipeline.Stateful operator it
// checkpoints, and Query shows the operators New made.
type Unwrapper interface {
	Unwrap() pipeline.Operator
}

// stateful finds the pipeline.Stateful operator in op's wrappers, if any.
func stateful(op pipeline.Operator) (pipeline.Stateful, bool) {
	for {
		if st, ok := op.(pipeline.Stateful); ok {
			return st, true
		}
		u, ok := op.(Unwrapper)
		if !ok {
			return nil, false
		}
		op = u.Unwrap()
	}
}

// checkpointed returns op, or, if op is not pipeline.Stateful but wraps
// an operator that is, op with that operator's state (and its merging,
// if it is pipeline.Mergeable).
func checkpointed(op pipeline.Operator) pipeline.Operator {
	if _, ok := op.(pipeline.Stateful); ok {
		return op
	}
	st, ok := stateful(op)
	if !ok {
		return op // refused by the pipeline, naming it
	}
	if m, ok := st.(pipeline.Mergeable); ok {
		return &mergeableOp{statefulOp{op, st}, m}
	}
	return &statefulOp{op, st}
}

// statefulOp is an operator with the state of the one it wraps. It is as
// safe for concurrent use as the operator.
type statefulOp struct {
	op pipeline.Operator
	st pipeline.Stateful
}

func (o *statefulOp) Process(in, out *pipeline.Batch) error { return o.op.Process(in, out) }
func (o *statefulOp) MarshalBinary() ([]byte, error)        { return o.st.MarshalBinary() }
func (o *statefulOp) UnmarshalBinary(data []byte) error     { return o.st.UnmarshalBinary(data) }

// Unwrap returns the operator New made.
func (o *statefulOp) Unwrap() pipeline.Operator { return o.op }

// mergeableOp is a statefulOp whose state merges.
type mergeableOp struct {
	statefulOp
	m pipeline.Mergeable
}

func (o *mergeableOp) MergeBinary(data []byte) error { return o.m.MergeBinary(data) }

// unwrapOp returns the operator New made, which checkpointed may have
// wrapped.
func unwrapOp(op pipeline.Operator) pipeline.Operator {
	switch o := op.(type) {
	case *statefulOp:
		return o.op
	case *mergeableOp:
		return o.op
	}
	return op
}

// checkRescale refuses to resume a checkpoint taken with another number of
// workers if the operators' states do not merge (pipeline.Mergeable):
// their answer could not be the one the old workers' states give.
func (c *checkpointing) checkRescale(p *pipeline.Pipeline, workers int) error {
	if c.oldWorkers == 0 || c.oldWorkers == workers {
		return nil
	}
	ops := p.Operators(0)
	switch ops[0].(type) {
	case pipeline.Mergeable, pipeline.StatelessOperator:
		return nil
	}
	return fmt.Errorf("job: the checkpoint in %s was taken with %d workers, and the state of its operator (%T) does not merge, so it resumes only with %d workers: %w",
		c.cfg.Dir, c.oldWorkers, unwrapOp(ops[0]), c.oldWorkers, ErrOtherJob)
}
