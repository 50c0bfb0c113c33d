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
// A Pipeline is a tree: parallel sources, then stages of operator
// instances, which may fan out into branches. Each stage says how records
// reach it (Forward, ByKey, RoundRobin). Levels joined by Forward with
// equal parallelism are chained into one goroutine per instance, with no
// channel between them; the others are joined by package flowcontrol's
// credit channels, one per pair of instances. Cancelling Run's context
// stops every goroutine it started.
//
// # Fan-out
//
// A record has one key, and a by-key stage partitions by it; yet one stream
// often has several questions, each about another field: distinct users
// and the top pages of one clickstream. Reading the input once per question
// costs a pass each; a hand-written operator that re-keys records and keeps
// the sketches of both questions is about 80 lines, and Batch.Add there
// would drop the record's Value, Time and KeepP. A fan-out says it
// directly: a last Stage with Branches sends every record down every
// Branch, re-keyed by the branch's KeyFunc (ByField picks a field) and
// hashed once for it, then partitioned by the new hash into the branch's
// own stages:
//
//	stages := []pipeline.Stage{{Name: "clicks", Branches: []pipeline.Branch{
//		{Name: "users", Key: pipeline.ByField(1, pipeline.Whitespace), Stages: []pipeline.Stage{distinct}},
//		{Name: "pages", Key: pipeline.ByField(2, pipeline.Whitespace), Stages: []pipeline.Stage{top}},
//	}}}
//
// The branches are fed in turn by the goroutine before the fan-out, so the
// slowest branch sets the pace (back-pressure, never loss) and a branch
// instance sees each input's records in input order. A branch is an
// input like any other for checkpoints: barriers go down every branch,
// checkpoints hold every branch's state, and recovery restores them all.
// Stages are numbered depth-first, branch by branch; BranchStage finds a
// branch's stages for Query, and Branches counts what each branch took and
// what its key skipped. In a linear graph, the Rekey operator is the same
// re-keying step.
//
// # Determinism
//
// An instance with several inputs takes them in strict turn (one batch per
// input), and a by-key sender ships one batch per receiver per input batch
// (lockstep), so that the records an instance sees, and their order, depend
// only on the input and the configuration, not on goroutine timing: the same
// input gives the same state, byte for byte. Checkpoints do not change this
// (a barrier takes no turn, and an instance taking turns never holds an
// input back; see CheckpointConfig), nor does recovery from one. It holds
// where records reach an order-sensitive operator through chained forward
// and by-key exchanges: a round-robin exchange, and Config.Unordered, give
// arrival order (use them for order-insensitive state: HLL, Bloom, plain
// CountMin), and a NoChain forward exchange ships the batch it holds at
// each barrier, so that a by-key exchange after it sends different rounds
// when checkpoints fall differently.
//
// # Checkpoints
//
// With Config.Checkpoint, the coordinator injects barriers into the sources
// (waking those waiting for input, WakeableSource); barriers travel
// in-band, instances align them and snapshot their Stateful operators, and
// a background writer publishes each checkpoint atomically in a
// checkpoint.Store. A source saves a position (SeekableSource) or bytes
// (StatefulSource: offsets per partition, counters). Restore rewinds
// sources and restores operators, also into another number of sources
// (RescalableSource) and instances (Mergeable), and RunWithRestarts
// retries a failed job under a RestartStrategy. See CheckpointConfig for
// the protocol and its guarantees.
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
// back-pressured time; backlog, credits, queue usage) and per-source ones
// (records, busy, idle and back-pressured time, so a source's back-pressure
// shows), cheap enough to stay on; they stop when Run returns.
// Metrics.Rates and SourceRates turn two snapshots into per-second rates.
//
// # Structured input
//
// LineConfig.Extract takes a record's key (and value) from JSON lines
// (JSONKey: a dotted path or JSON pointer), RFC 4180 CSV (CSVKey: columns by
// number, or by header name with CSVColumn; records framed by quote parity,
// so a quoted field may hold newlines, and SplitCSVFile cuts a file for
// parallel reading only at record starts) or delimited fields (FieldsKey);
// several parts make one composite key (AppendTuplePart), shown by
// FormatTuple. Records without a key are skipped and counted, or with
// LineConfig.Strict an error. Extraction allocates nothing per record.
//
// JSON is read by a scanner of this package, not github.com/valyala/fastjson
// or github.com/buger/jsonparser: it validates each line in the one pass
// that finds the key (jsonparser does not validate, so an invalid line would
// yield a key instead of being skipped), it reads exactly as encoding/json
// reads (the last of duplicate names wins where both libraries take the
// first; invalid UTF-8 reads as U+FFFD; nesting past 10000 is invalid),
// which FuzzJSONKey checks, and it keeps no parse tree, so one JSONKey
// serves every goroutine without a parser per worker (fastjson's Parser
// must not be shared). Its time is linear in the line's length.
//
// # Groups
//
// Answers per group read (group, value) composite keys (AppendTuplePart,
// PairKey; GroupOf takes the group back), so that a record's hash is its
// pair's: GroupDistinct ranks groups by distinct values in fixed memory
// (one theta sample of pairs), GroupHLL counts every group's distinct
// values in memory that grows with the groups (MaxBytes caps it, failing
// with ErrMemoryLimit rather than evicting), GroupTop counts records per
// group and per pair, and GroupStats (keyed by the group alone) keeps
// the moments and quantiles of the groups with the most records in
// Space-Saving counters. All are Mergeable, so they run round-robin and
// inside a Window.
//
// # Windows and event time
//
// Window answers a Mergeable operator per time window, tumbling or
// sliding, by the clock or by Record.Time. A TimedKey gives records their
// time from a field, read in a TimeFormat (RFC 3339 without allocating,
// Unix seconds or milliseconds, or a Go layout); a record whose time is
// missing or does not parse is skipped and counted like one without a key.
package pipeline
