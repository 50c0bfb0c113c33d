package main

// Checkpoints of a counting run (--checkpoint DIR, --resume).
//
// A run with --checkpoint is the pipeline of any run with checkpoints on
// (pipeline.CheckpointConfig, a checkpoint.DirStore in DIR): every
// --checkpoint-interval, each worker records its position between two
// batches and the state of its sketch, and the parts go to DIR in the
// background. What the CLI adds:
//
//   - Workers get fixed shares of the input (static ranges and chunk
//     dealing), so a position means the same thing in the resumed run.
//     A worker's position is its input index and the byte offset in its
//     share of that input (see workerPos).
//   - Each worker's operator is wrapped in a countedOp, whose state also
//     holds the worker's line counters as they were at the barrier, so a
//     resumed run reports the records, skipped lines and bytes of the
//     whole input. Under --shed the shedders' state (the keep probability
//     in force, what was shed) is saved by the pipeline beside it.
//   - DIR/JOB describes the job (subcommand, the flags that shape the
//     state, the inputs and their sizes); --resume refuses a checkpoint of
//     another job instead of producing a wrong answer.
//   - A worker waiting on an idle stream returns every idleWait, so that
//     checkpoints complete while a live stream is quiet.
//
// A resumed run over the same file continues from the recorded offsets. A
// stream (stdin) cannot seek: piped again, its first bytes are read and
// skipped up to the recorded offsets, so the same stream gives the answer
// of an uninterrupted run.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

const (
	// defaultCheckpointInterval is --checkpoint-interval's default.
	defaultCheckpointInterval = 10 * time.Second
	// idleWait is how long a worker waits on a quiet stream before it
	// returns with nothing, letting a pending checkpoint barrier through.
	idleWait = 100 * time.Millisecond
	// jobFile names the job description in the checkpoint directory.
	jobFile = "JOB"
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

// resumeJobs returns the number of workers of the job checkpointed in dir,
// or 0 if it cannot tell: a resumed run without -j takes it, so that a
// checkpoint moves to a machine with another number of CPUs.
func resumeJobs(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, jobFile))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "workers "); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= maxJobs {
				return n
			}
		}
	}
	return 0
}

// checkpointing is what a run with --checkpoint needs besides the
// pipeline's configuration.
type checkpointing struct {
	dir     string
	store   *checkpoint.DirStore
	settled chan settled // checkpoints as they complete or fail
}

// configure turns checkpoints on in cfg, every interval, and wraps the
// stage's operators in countedOps; the workers wait at most idleWait on a
// quiet stream.
func (c *checkpointing) configure(e *env, interval time.Duration, ws []*worker, st *pipeline.Stage, cfg *pipeline.Config) {
	for _, w := range ws {
		w.idle = idleWait
		w.sum = xxhash.New()
	}
	newOp := st.New
	st.New = func(i int) (pipeline.Operator, error) {
		op, err := newOp(i)
		return &countedOp{op: op, w: ws[i]}, err
	}
	// A failure is reported when it first happens and when it changes,
	// not at every interval of a full disk.
	var lastErr string
	cfg.Checkpoint = &pipeline.CheckpointConfig{
		Store: c.store, Interval: interval,
		OnComplete: func(m checkpoint.Manifest, err error) {
			select {
			case c.settled <- settled{m.ID, err}:
			default: // nobody waits
			}
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

// settled is a checkpoint that completed (err nil) or failed.
type settled struct {
	id  uint64
	err error
}

// finalCheckpointWait bounds how long an interrupted run waits for its
// last checkpoint.
const finalCheckpointWait = 10 * time.Second

// finalCheckpoint takes a checkpoint of an interrupted run (SIGINT,
// SIGTERM) before it stops, so that --resume goes on from where it was
// interrupted rather than from the last periodic checkpoint, as Flink's
// stop-with-savepoint does. The run goes on meanwhile; it gives up when
// the run ends by itself or after finalCheckpointWait (a second signal
// kills the process anyway).
func finalCheckpoint(e *env, p *pipeline.Pipeline, c *checkpointing, runDone <-chan struct{}) {
	timeout := time.NewTimer(finalCheckpointWait)
	defer timeout.Stop()
	for {
		id, err := p.Checkpoint()
		switch {
		case err == nil:
		case errors.Is(err, pipeline.ErrCheckpointBusy) && p.CheckpointStats().InProgress:
			id = 0 // wait for the one in progress, then try again
		default:
			return // a source has finished: no more checkpoints
		}
		for waiting := true; waiting; {
			select {
			case s := <-c.settled:
				switch {
				case id == 0:
					waiting = false
				case s.id >= id:
					if s.err == nil {
						fmt.Fprintf(e.stderr, "streamstat: interrupted: checkpoint %d saved in %s; --resume goes on from there\n", s.id, c.dir)
					}
					return
				}
			case <-runDone:
				return
			case <-timeout.C:
				return
			}
		}
	}
}

// describeJob returns the job description of s over pl: what must be the
// same for a checkpoint to be resumed. An input is described by what it
// is, not by how it was named: a file by its size, modification time,
// device and inode (huge.txt, ./huge.txt and its absolute path are one
// file; a copy is another), a stream by nothing (its bytes are checked as
// they are skipped, see worker.resumeCheck). The name follows, for
// messages only: sameJob ignores it.
func describeJob(s *spec, pl *plan) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", jobHeader)
	describeShape(&b, s, pl)
	for _, in := range pl.inputs {
		if in.stream != nil {
			fmt.Fprintf(&b, "stream%s%q\n", jobName, in.name)
			continue
		}
		if in.size > maxInput {
			return "", fmt.Errorf("%s: %d bytes: too large to checkpoint (at most %d)", in.name, in.size, int64(maxInput))
		}
		fmt.Fprintf(&b, "file size %d modified %s%s%s%q\n", in.size,
			in.info.ModTime().UTC().Format(time.RFC3339Nano), fileIdentity(in.info), jobName, in.name)
	}
	if len(pl.inputs) >= 1<<(63-posBits) {
		return "", fmt.Errorf("%d inputs: too many to checkpoint", len(pl.inputs))
	}
	return b.String(), nil
}

// describeShape writes the lines of a job description before its inputs.
func describeShape(b *strings.Builder, s *spec, pl *plan) {
	o := s.opts
	fmt.Fprintf(b, "command %s\n", s.cmd)
	fmt.Fprintf(b, "field %d\ndelimiter %s\nprecision %d\nk %d\nseed %d\nquantiles %s\nworkers %d\n",
		o.field, o.delim, o.precision, o.k, o.seed, o.quantStr, pl.workers)
	if s.shed != nil {
		fmt.Fprintf(b, "shed %s, max latency %v\n", s.shed.policy, s.shed.maxLatency)
	}
}

// describeJobV1 is the job description streamstat wrote before inputs were
// described by identity: a checkpoint made then is resumed when its
// description is this, byte for byte, as it was then.
func describeJobV1(s *spec, pl *plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", jobHeaderV1)
	describeShape(&b, s, pl)
	for _, in := range pl.inputs {
		if in.stream != nil {
			fmt.Fprintf(&b, "stream %q\n", in.name)
		} else {
			fmt.Fprintf(&b, "file %q %d\n", in.name, in.size)
		}
	}
	return b.String()
}

// jobName separates an input's description from its name.
const jobName = " name "

// sameJob reports whether the job description old (read from a
// checkpoint) is cur's, and if not, says where they differ.
func sameJob(old, cur, curV1 string) (bool, string) {
	if strings.HasPrefix(old, jobHeaderV1+"\n") {
		return old == curV1, jobDiff(old, curV1)
	}
	if !strings.HasPrefix(old, jobHeader+"\n") {
		first, _, _ := strings.Cut(old, "\n")
		return false, fmt.Sprintf("it was written by another version of streamstat (%q)", first)
	}
	a, b := strings.Split(old, "\n"), strings.Split(cur, "\n")
	if len(a) == len(b) {
		same := true
		for i := range a {
			x, _, _ := strings.Cut(a[i], jobName)
			y, _, _ := strings.Cut(b[i], jobName)
			same = same && x == y
		}
		if same {
			return true, ""
		}
	}
	return false, jobDiff(old, cur)
}

// openCheckpoints prepares DIR for the run: with resume, it checks that a
// checkpoint there is of the same job; otherwise (or when DIR holds no
// checkpoint) it clears DIR's checkpoints and writes the job description.
// It reports whether there is a checkpoint to restore.
func openCheckpoints(e *env, s *spec, pl *plan) (*checkpointing, bool, error) {
	o := s.opts
	job, err := describeJob(s, pl)
	if err != nil {
		return nil, false, err
	}
	// Latest runs here and again in Restore: say each skip once.
	var logMu sync.Mutex
	logged := map[string]bool{}
	store, err := checkpoint.NewDirStore(o.checkpoint, 0, func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		logMu.Lock()
		defer logMu.Unlock()
		if !logged[msg] {
			logged[msg] = true
			fmt.Fprintf(e.stderr, "streamstat: %s\n", msg)
		}
	})
	if err != nil {
		return nil, false, fmt.Errorf("--checkpoint: %w", unwrapPath(err))
	}
	c := &checkpointing{dir: o.checkpoint, store: store, settled: make(chan settled, 1)}
	path := filepath.Join(c.dir, jobFile)
	if o.resume {
		old, err := os.ReadFile(path)
		switch {
		case err == nil:
			if ok, diff := sameJob(string(old), job, describeJobV1(s, pl)); !ok {
				return nil, false, fmt.Errorf("--resume: the checkpoint in %s is of another job: %s; run without --resume to start over", c.dir, diff)
			}
			if _, err := store.Latest(); err == nil {
				return c, true, nil
			} else if !errors.Is(err, checkpoint.ErrNoCheckpoint) {
				return nil, false, fmt.Errorf("--resume: %w", err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, false, fmt.Errorf("--resume: %w", cleanPathError(err))
		}
		fmt.Fprintf(e.stderr, "streamstat: no checkpoint in %s to resume: starting from the beginning\n", c.dir)
	}
	if err := store.Clear(); err != nil {
		return nil, false, fmt.Errorf("--checkpoint: %w", unwrapPath(err))
	}
	if err := writeFileAtomic(path, []byte(job)); err != nil {
		return nil, false, fmt.Errorf("--checkpoint: %w", err)
	}
	return c, false, nil
}

// jobDiff names the first line where two job descriptions differ (input
// names aside, in version 2).
func jobDiff(old, cur string) string {
	a, b := strings.Split(old, "\n"), strings.Split(cur, "\n")
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x0, _, _ := strings.Cut(x, jobName); x0 != y && !strings.HasPrefix(y, x0+jobName) {
			return fmt.Sprintf("it has %q where this run has %q", x, y)
		}
	}
	return "it differs"
}

// countedOp is a worker's operator with the worker's line counters in its
// checkpointed state. It is as safe for concurrent use as the operator.
type countedOp struct {
	op pipeline.Operator
	w  *worker
}

func (o *countedOp) Process(in, out *pipeline.Batch) error { return o.op.Process(in, out) }

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
	c      counts
	sum    uint64
	hasSum bool
}

// MarshalBinary implements pipeline.Stateful: the worker's state
// (appendWorkerState), then the operator's.
func (o *countedOp) MarshalBinary() ([]byte, error) {
	st, ok := unwrapCost(o.op).(pipeline.Stateful)
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
	for _, v := range []uint64{c.Records, c.Skipped, c.Bad, c.Shed, c.Bytes} {
		dst = binary.AppendUvarint(dst, v)
	}
	if st.hasSum {
		dst = binary.LittleEndian.AppendUint64(dst, st.sum)
	}
	return dst
}

// UnmarshalBinary implements pipeline.Stateful.
func (o *countedOp) UnmarshalBinary(data []byte) error {
	st, ok := unwrapCost(o.op).(pipeline.Stateful)
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
	for _, v := range []*uint64{&c.Records, &c.Skipped, &c.Bad, &c.Shed, &c.Bytes} {
		*v = readUvarint(r)
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
		return fmt.Errorf("%s: input ended %d bytes before the checkpoint's position: not the stream the checkpoint was taken of; run without --resume to start over", in.name, n-got)
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
	return fmt.Errorf("%s: --resume: not the stream the checkpoint was taken of (its bytes before the checkpoint's position differ); run without --resume to start over", strings.Join(names, ", "))
}
