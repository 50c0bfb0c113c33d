package job

// Checkpoints of a job (Config.Checkpoint).
//
// A job with checkpoints is a pipeline with checkpoints on
// (pipeline.CheckpointConfig, a checkpoint.DirStore in the directory):
// every interval, each worker records its position between two batches and
// the state of its operator, and the parts go to the directory in the
// background. What the job adds:
//
//   - Workers get fixed shares of the input (static ranges and chunk
//     dealing), so a position means the same thing in the resumed job. A
//     worker's position is its input index and the byte offset in its
//     share of that input (see workerPos).
//   - Each worker's operator is wrapped in a countedOp, whose state also
//     holds the worker's line counters and a hash of the stream bytes it
//     moved past, as they were at the barrier, so a resumed job reports
//     the counters of the whole input and recognizes the stream it skips.
//   - The directory's JobFile describes the job (the caller's identity
//     lines, the inputs by what they are: a file by size, modification
//     time, device and inode, a stream by nothing but its bytes); resuming
//     refuses a checkpoint of another job instead of producing a wrong
//     answer.
//   - A worker waiting on an idle stream returns every idleWait, so that
//     checkpoints complete while a live stream is quiet.
//
// A resumed job over the same file continues from the recorded offsets. A
// stream cannot seek: piped again, its first bytes are read, hashed and
// skipped up to the recorded offsets, so the same stream gives the answer
// of an uninterrupted job, and another one is refused.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

const (
	// DefaultCheckpointInterval is CheckpointConfig.Interval's default.
	DefaultCheckpointInterval = 10 * time.Second
	// idleWait is how long a worker waits on a quiet stream before it
	// returns with nothing, letting a pending checkpoint barrier through.
	idleWait = 100 * time.Millisecond
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
	restore bool         // there is a checkpoint to restore
	settled chan settled // checkpoints as they complete or fail
}

// configure turns checkpoints on in cfg and wraps the stage's operators in
// countedOps; the workers wait at most idleWait on a quiet stream and hash
// the stream bytes they move past.
func (c *checkpointing) configure(ws []*worker, st *pipeline.Stage, cfg *pipeline.Config) {
	for _, w := range ws {
		w.idle = idleWait
		w.sum = xxhash.New()
	}
	newOp := st.New
	st.New = func(i int) (pipeline.Operator, error) {
		op, err := newOp(i)
		return &countedOp{op: op, w: ws[i]}, err
	}
	interval := c.cfg.Interval
	if interval <= 0 {
		interval = DefaultCheckpointInterval
	}
	cfg.Checkpoint = &pipeline.CheckpointConfig{
		Store: c.store, Interval: interval,
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
// saved.
func finalCheckpoint(p *pipeline.Pipeline, c *checkpointing, runDone <-chan struct{}) uint64 {
	timeout := time.NewTimer(finalCheckpointWait)
	defer timeout.Stop()
	for {
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

// countedOp is a worker's operator with the worker's state in its
// checkpointed state: its line counters and the hash of the stream bytes
// it moved past, as they were at the barrier. It is as safe for concurrent
// use as the operator.
//
// The worker's state belongs to the source, not the operator; it rides in
// the operator's part of a checkpoint because the pipeline keeps no state
// for sources but their position.
type countedOp struct {
	op pipeline.Operator
	w  *worker
}

func (o *countedOp) Process(in, out *pipeline.Batch) error { return o.op.Process(in, out) }

// Unwrap returns the operator countedOp wraps.
func (o *countedOp) Unwrap() pipeline.Operator { return o.op }

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

// The first byte of a countedOp's state: version 2 adds the hash of the
// stream bytes before the position (see worker.resumeCheck); version 1
// states, without it, are still read.
const (
	countsVersion1 = 1
	countsVersion  = 2
)

// workerState is what a countedOp's state holds besides the operator's:
// the worker's counters at the barrier and the hash of the stream bytes
// it had moved past (hasSum: not in a version 1 state).
type workerState struct {
	c      Counts
	shed   uint64 // a counter the format holds, always 0 since shedders count their own
	sum    uint64
	hasSum bool
}

// MarshalBinary implements pipeline.Stateful: the worker's state
// (appendWorkerState), then the operator's.
func (o *countedOp) MarshalBinary() ([]byte, error) {
	st, ok := stateful(o.op)
	if !ok {
		return nil, fmt.Errorf("operator %T cannot be checkpointed", o.op)
	}
	inner, err := st.MarshalBinary()
	return append(appendWorkerState(nil, o.w.barrierState()), inner...), err
}

// appendWorkerState appends a version byte, the counters as uvarints and,
// in version 2, the stream hash in 8 bytes, little-endian.
func appendWorkerState(dst []byte, st workerState) []byte {
	v := byte(countsVersion)
	if !st.hasSum {
		v = countsVersion1
	}
	dst = append(dst, v)
	c := st.c
	for _, v := range []uint64{c.Records, c.Skipped, c.Bad, st.shed, c.Bytes} {
		dst = binary.AppendUvarint(dst, v)
	}
	if st.hasSum {
		dst = binary.LittleEndian.AppendUint64(dst, st.sum)
	}
	return dst
}

// UnmarshalBinary implements pipeline.Stateful.
func (o *countedOp) UnmarshalBinary(data []byte) error {
	st, ok := stateful(o.op)
	if !ok {
		return fmt.Errorf("operator %T cannot be checkpointed", o.op)
	}
	ws, rest, err := decodeWorkerState(data)
	if err != nil {
		return err
	}
	if err := st.UnmarshalBinary(rest); err != nil {
		return err
	}
	o.w.restore(ws)
	return nil
}

func decodeWorkerState(data []byte) (workerState, []byte, error) {
	if len(data) == 0 {
		return workerState{}, nil, fmt.Errorf("worker state: empty: %w", sketch.ErrTruncated)
	}
	if data[0] != countsVersion && data[0] != countsVersion1 {
		return workerState{}, nil, fmt.Errorf("worker state: version %d: %w", data[0], sketch.ErrVersion)
	}
	r := envelope.NewReader(data[1:])
	var st workerState
	c := &st.c
	for _, v := range []*uint64{&c.Records, &c.Skipped, &c.Bad, &st.shed, &c.Bytes} {
		*v = r.MinimalUvarint()
	}
	if data[0] == countsVersion {
		st.sum, st.hasSum = r.U64(), true
	}
	if r.Err != nil {
		return workerState{}, nil, fmt.Errorf("worker state: %w", r.Err)
	}
	if c.Skipped > c.Records || c.Bad > c.Records {
		return workerState{}, nil, fmt.Errorf("worker state: %d skipped or %d bad of %d records: %w", c.Skipped, c.Bad, c.Records, sketch.ErrCorrupt)
	}
	return st, r.Bytes(r.Len()), nil
}

// unwrapOp returns the operator a countedOp wraps, or op.
func unwrapOp(op pipeline.Operator) pipeline.Operator {
	if c, ok := op.(*countedOp); ok {
		return c.op
	}
	return op
}

// Position implements pipeline.SeekableSource; see workerPos. The
// pipeline reads it when it injects a checkpoint barrier, between two
// Fills, so it also takes note of the counters at that point: they are the
// ones the checkpoint holds (countedOp), even when the operator takes its
// snapshot later, behind a channel (--shed), after the worker read on.
func (w *worker) Position() int64 {
	w.mu.Lock()
	w.atBarrier = w.countsLocked()
	if w.sum != nil {
		w.sumAt = w.sum.Sum64()
	}
	w.mu.Unlock()
	if w.cur != nil {
		off := w.cur.Position()
		if w.curIn.stream != nil {
			off += w.streamAt
		}
		return workerPos(w.k, off, true)
	}
	k := w.k
	if k < len(w.plan.inputs) && w.curIn == w.plan.inputs[k] {
		k++ // done with input k
	}
	return workerPos(k, 0, false)
}

// SetPosition implements pipeline.SeekableSource: the next Fill goes on
// from pos, skipping the worker's share of the inputs before it (a
// stream's share is read and discarded, so that the stream's reader is
// never held up by this worker).
func (w *worker) SetPosition(pos int64) error {
	k := pos >> posBits
	if pos < 0 || k > int64(len(w.plan.inputs)) || w.k != 0 || w.cur != nil || w.curIn != nil {
		return fmt.Errorf("worker %d: position %#x: %w", w.idx, pos, sketch.ErrCorrupt)
	}
	w.skipTo = int(k)
	w.resumeAt = pos&posMask - 1
	if w.resumeAt >= 0 && w.skipTo == len(w.plan.inputs) {
		return fmt.Errorf("worker %d: position %#x past the last input: %w", w.idx, pos, sketch.ErrCorrupt)
	}
	return nil
}

// barrierState returns the counters and the stream hash at the last
// barrier (see Position).
func (w *worker) barrierState() workerState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return workerState{c: w.atBarrier, sum: w.sumAt, hasSum: true}
}

// restore sets the counters of the part of the input before the restored
// position, and the hash its stream bytes must have.
func (w *worker) restore(st workerState) {
	w.mu.Lock()
	w.base = st.c
	w.mu.Unlock()
	w.want, w.check = st.sum, st.hasSum && w.sum != nil
}

// drain reads and discards this worker's share of stream in (one it
// resumes past), hashing it.
func (w *worker) drain(in *input) error {
	if _, err := io.Copy(w.hash(), w.view(in)); err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	return nil
}

// hash is where the worker's stream bytes go: sum, or nowhere.
func (w *worker) hash() io.Writer {
	if w.sum == nil {
		return io.Discard
	}
	return w.sum
}

// skipStream reads and discards the first n bytes of the worker's share of
// stream in (the part a resumed checkpoint accounts for), hashing them, and
// checks the hash.
func (w *worker) skipStream(in *input, n int64) error {
	got, err := io.CopyN(w.hash(), w.cr, n)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: input ended %d bytes before the checkpoint's position: not the stream the checkpoint was taken of: %w", in.name, n-got, ErrOtherStream)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", in.name, err)
	}
	if w.check {
		return w.resumeCheck()
	}
	return nil
}

// resumeCheck compares the hash of the stream bytes the worker has moved
// past on its way to the restored position with the checkpoint's: a
// different stream of the same length is refused, not counted as if it
// were the one the checkpoint was taken of.
func (w *worker) resumeCheck() error {
	w.check = false
	if w.sum.Sum64() == w.want {
		return nil
	}
	var names []string
	for _, in := range w.plan.inputs[:min(w.k+1, len(w.plan.inputs))] {
		if in.stream != nil {
			names = append(names, in.name)
		}
	}
	return fmt.Errorf("%s: not the stream the checkpoint was taken of (its bytes before the checkpoint's position differ): %w", strings.Join(names, ", "), ErrOtherStream)
}
