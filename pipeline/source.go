package pipeline

import "context"

// Source produces records into batches supplied by the runtime. Pulling
// (rather than a source pushing on its own goroutine) lets the runtime
// decide batch sizes and hand out buffers only when it holds credit.
//
// Fill is called from one goroutine at a time.
type Source interface {
	// Fill appends up to max records to b. It returns io.EOF when the
	// source is exhausted (b may still hold records appended in that call);
	// other errors are failures. A call may append fewer than max records,
	// and then returns nil: it never waits to fill a batch completely if
	// it would have to wait for input that is not yet due (a rate-limited
	// generator) or would exceed a byte budget (long lines).
	Fill(ctx context.Context, b *Batch, max int) error
}

// SeekableSource is a Source whose replay position a checkpoint can record
// and recovery can restore. Position, read between two Fill calls, says
// where the next Fill continues: a byte offset for a LineSource, a record
// index for a Generator. SetPosition(pos) makes the next Fill continue
// from pos, so that SetPosition(Position()) on a fresh source built the
// same way replays exactly the records the old one had not yet returned.
type SeekableSource interface {
	Source
	Position() int64
	SetPosition(pos int64) error
}

// StatefulSource is a Source whose checkpointed state is bytes rather than
// one int64: a Kafka source's offsets per partition, a job worker's
// position with its line counters. With checkpoints, a pipeline takes a
// source that is a SeekableSource or a StatefulSource (or both: then the
// checkpoint holds the position too, for tools that read it, and Restore
// restores the state only).
//
// SourceState is called between two Fill calls, from the goroutine that
// calls Fill, when the source injects a checkpoint barrier: it returns
// what a fresh source built the same way needs to go on with exactly the
// records this one has not yet returned, in a slice the source does not
// keep. RestoreSource(state), called by Restore before the first Fill,
// makes the source go on from there. A state it cannot read (damaged,
// another format) is an error, never a panic; a source whose format
// changes reads its older versions or refuses them saying so.
type StatefulSource interface {
	Source
	SourceState() ([]byte, error)
	RestoreSource(state []byte) error
}

// RescalableSource is a StatefulSource whose saved states can be dealt to
// another number of sources, so that a checkpoint taken with n sources
// restores into a pipeline with m (all of one type; see
// CheckpointConfig). Restore calls RedealSources on source 0 with the n
// saved states, in source order, and restores source i from the i-th of
// the m states it returns. Together they must hold exactly the input the
// n states had not yet returned, each record in one of them, so that no
// record is lost or counted twice.
type RescalableSource interface {
	StatefulSource
	RedealSources(states [][]byte, m int) ([][]byte, error)
}

// WakeableSource is a Source whose Fill, waiting for input, can be cut
// short. Wake, safe to call from any goroutine at any time, makes a Fill
// in progress, or else the next one, return soon with a nil error and the
// records it has appended (perhaps none); the records it has not yet
// returned come in later Fills, none lost or repeated. The runtime wakes
// every source when a checkpoint is triggered, so that the barrier need
// not wait for input on a quiet source. A source that is not a
// WakeableSource and may wait long for input must return now and then by
// itself for checkpoints to complete.
type WakeableSource interface {
	Source
	Wake()
}
