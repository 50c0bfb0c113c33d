// Package pipeline runs sketch operators over streams of records in a graph
// of goroutines wired with credit-based channels, so memory stays bounded and
// back-pressure is visible.
//
// # Records and batches
//
// A Record carries its key's 64-bit xxhash, computed once at ingress by the
// source; every sketch, the partitioner and the shedder use that hash. Records
// travel in Batches whose key bytes live in one arena, and batch buffers are
// recycled through the channels' credits: in steady state the runtime
// allocates nothing per record.
//
// # Graph
//
// A Pipeline is a linear graph: parallel sources, then stages of operator
// instances. Each stage says how records reach it (Forward, ByKey,
// RoundRobin). Levels joined by Forward with equal parallelism are chained
// into one goroutine per instance, with no channel between them; the others
// are joined by package flowcontrol's credit channels, one per pair of
// instances. Cancelling Run's context stops every goroutine it started.
//
// # Determinism
//
// An instance with several inputs takes them in strict turn (one batch per
// input), and a by-key sender ships one batch per receiver per input batch
// (lockstep), so that the records an instance sees, and their order, depend
// only on the input and the configuration, not on goroutine timing: the same
// input gives the same state, byte for byte. Config.Unordered trades this
// for throughput where state is order-insensitive.
//
// # Checkpoints
//
// With Config.Checkpoint, the coordinator injects barriers into the sources;
// barriers travel in-band, instances align them and snapshot their Stateful
// operators, and a background writer publishes each checkpoint atomically in
// a checkpoint.Store. Restore rewinds sources and restores operators, and
// RunWithRestarts retries a failed job under a RestartStrategy. See
// CheckpointConfig for the protocol and its guarantees.
//
// # Load shedding
//
// Config.NewShedder puts a Shedder behind each source: it drops records
// before they cost anything downstream and marks survivors with the keep
// probability in force (Record.KeepP), so that estimates can be scaled.
// Package shedding provides shedders and the controller.
//
// # Metrics
//
// Metrics returns per-instance counters (records in and out; busy, idle and
// back-pressured time; backlog, credits, queue usage) cheap enough to stay
// on, and Metrics.Rates turns two snapshots into per-second rates.
package pipeline
