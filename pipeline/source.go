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
