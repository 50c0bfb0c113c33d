package observe

import "github.com/streamstat/streamstat/pipeline"

// Runtime is what a Snapshot reads of a running job: a *pipeline.Pipeline,
// or another runtime that shapes its counters as a pipeline's (package
// pipeline/kafka's Worker: its poll loop as the source, its partitions'
// operators as the instances of one stage, its transactions as the
// checkpoints). Its methods are called from the goroutine taking a
// snapshot, concurrently with the job, and must be safe for that.
type Runtime interface {
	// Metrics returns the sources' and operator instances' counters.
	Metrics() pipeline.Metrics
	// CheckpointStats returns the checkpoints' counters.
	CheckpointStats() pipeline.CheckpointStats
	// Branches returns the arms of a fan-out (nil: none).
	Branches() []pipeline.BranchStats
}

var _ Runtime = (*pipeline.Pipeline)(nil)
