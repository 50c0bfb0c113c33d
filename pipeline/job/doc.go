// Package job runs a parallel counting job over files and streams, the
// machinery of the streamstat command as a library: "count distinct over
// these files in parallel, with checkpoints" is a Config and three calls.
//
//	j, err := job.New(job.Config{
//		Inputs:      []string{"mon.log", "tue.log"},
//		Workers:     4,
//		Unordered:   true,
//		NewOperator: func(int) (pipeline.Operator, error) { return &pipeline.Distinct{}, nil },
//		Checkpoint:  &job.CheckpointConfig{Dir: "ckpt", Resume: true, Identity: "distinct p14\n"},
//	})
//	...
//	err = j.Run(ctx)
//	j.Query(func(_ int, op pipeline.Operator) error { return total.Merge(op.(*pipeline.Distinct).HLL) })
//
// # Inputs
//
// A regular file is opened once, by New, and cut into newline-aligned
// ranges (pipeline.SplitReaderAt) that the workers read through that one
// descriptor (pipeline.NewRangeSource): a file renamed or replaced during
// the job is not mixed with its replacement, and one that shrinks fails
// the job (ErrFileChanged). Anything else is a stream: stdin, a pipe, a
// FIFO (opened in the background, so a job waiting for its writer still
// stops when asked), a device, or a file whose size says nothing (those
// of /proc report 0, sysfs a page). One goroutine reads a stream and deals
// newline-aligned chunks of fixed size to the workers: with fixed shares,
// chunk i goes to worker i mod Workers, so each worker sees the same
// records on every run and order-sensitive operators (TopK) give the same
// state; with Config.Unordered, any idle worker takes the next one.
//
// # Workers
//
// Each worker is a pipeline source (reading its shares of the inputs in
// order, one pipeline.LineSource at a time) with its operator chained to
// it; with Config.Shed, a channel and a shedder sit between them. The
// job's answer is what the caller makes of the workers' operators, merged
// with Query, at the end or while the job runs (a periodic snapshot).
//
// # Checkpoints
//
// With Config.Checkpoint, each worker saves its own state at every
// checkpoint (it is a pipeline.StatefulSource: its line counters and what
// is left of its share of the inputs, with an XXH64 of the stream bytes
// it has moved past; DecodePosition reads the position it also records),
// and the state of its operator, which must then be a pipeline.Stateful
// (or wrap one, see Unwrapper). A worker waiting on a quiet stream is
// woken when a checkpoint starts (pipeline.WakeableSource), so that the
// checkpoint completes while a live stream is quiet; a worker in the
// middle of a line waits for the line's end.
//
// Resuming checks that the checkpoint is of this job: the caller's
// Identity lines, and the inputs by what they are (a file by device,
// inode, size and modification time, whatever its name; a stream by the
// hash of the bytes skipped to reach the checkpoint's position, so another
// stream of the same length is refused, ErrOtherStream). Asked to stop
// (Run's context done), a job with checkpoints takes a last one before it
// stops. A resumed job takes no checkpoint, not even that last one, until
// every hash of the stream bytes the restored checkpoint counted has been
// checked, as those bytes are read again (those of a worker that had
// finished the stream only at its end; a stream after files only once the
// workers reach it): so a resume refused or stopped on the way leaves the
// directory's newest checkpoint the one it restored.
//
// # Resuming with another number of workers
//
// A checkpoint taken with N workers resumes with M if the operators'
// states merge (pipeline.Mergeable; otherwise New refuses with
// ErrOtherJob): the N operator states are merged into worker 0's, the
// counters go to worker 0, and what is left of the input is dealt to the
// M workers. Of a file, the unread part of each old worker's range is cut
// into M ranges at line starts. A stream piped again is cut into chunks
// and dealt as the N workers had it, each old worker's part up to its
// position is dropped (and its hash checked), and the rest is dealt anew
// to the M workers, so every record is counted exactly once. Sketches
// whose merge is exact and order-free (HLL, plain count-min, Bloom) then
// end byte-identical to an uninterrupted run's; those whose state depends
// on which worker saw which record (top-k, conservative count-min, KLL,
// reservoirs) end as valid within their bounds, not byte-identical.
package job
