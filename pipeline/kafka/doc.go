// Package kafka runs streamstat operators as the workers of a Kafka
// consumer group, with each input partition a key group whose state is
// checkpointed in Kafka transactions (github.com/twmb/franz-go).
//
// # Workers and key groups
//
// A Worker joins a consumer group on the input topic (cooperative-sticky
// assignment, or KIP-848 with Config.KIP848). For each partition it owns
// it keeps one operator, made by Config.New: a pipeline.Mergeable, such as
// pipeline.Distinct or pipeline.Frequency. Polled records go to their
// partition's operator in offset order, keyed by the record value or by
// Config.Extract (the pipeline's extractors), through the partition's
// shedder if Config.NewShedder is set. The partition count is the
// group's maximum parallelism.
//
// # Checkpoints are transactions
//
// Every Config.Interval the worker runs transaction n
// (kgo.GroupTransactSession): the snapshot of every partition that took
// records since its last commit (operator state, shedder state, offset,
// counts of records, shed and skipped) goes to a compacted checkpoint
// topic, in the partition of the same number, cut into chunks sized under
// the topic's max.message.bytes and followed by a manifest; the consumer
// offsets are committed in the same transaction. State and offsets never
// disagree: both commit or neither does.
//
// On assignment a worker reads the partition's latest committed snapshot
// (read_committed) and requires that its offset equal the group's
// committed offset (ErrNoSnapshot otherwise; a partition without a commit
// must have no snapshot and starts empty), then checks that the records
// continue exactly there, offset by offset (ErrOffsetGap; see
// Config.AllowOffsetGaps). A transaction aborted by a rebalance or by a
// failed write rolls every owned partition back to its last commit (the
// session rewinds every partition's offset, not only the revoked ones);
// an End that fails leaves the outcome unknown, so the worker recreates
// its session and restores every partition from Kafka. The transaction
// timeout is set below the session timeout, so that a new owner does not
// wait out a dead owner's open transaction.
//
// A checkpoint holds up the poll loop while it copies the dirty
// partitions' state (MarshalBinary) and ends the transaction: a
// GroupTransactSession may not poll during End. Stats.LastCheckpoint
// says how long; against kfake on loopback it is a few milliseconds, and
// BenchmarkKafkaThroughput compares a worker checkpointing every second
// with a bare franz-go loop over the same records.
//
// Merge (and ReadSnapshots) read the latest snapshot of every partition
// and merge them: the global answer of the group.
//
// # A Kafka source for a pipeline
//
// Source is a pipeline.Source over a fixed set of partitions of a topic,
// read without a group, for a pipeline.Pipeline that checkpoints to its
// own checkpoint.Store: the whole pipeline serves a Kafka job (operators,
// credit-based flow control, shedding, metrics, pipeline/observe's
// dashboard). Its byte state (pipeline.StatefulSource) is each
// partition's next offset, so recovery goes on exactly after the records
// the operators' state holds, and a checkpoint taken with n sources
// restores into m (pipeline.RescalableSource: the partitions are dealt
// anew and the sources' forward stages merged). Credits reach the
// brokers: a source left holding more than four batches of fetched
// records when the pipeline stops asking (no credit) pauses fetching its
// partitions until its next Fill. A checkpoint barrier wakes a Fill
// waiting for records (pipeline.WakeableSource). Sources deals a topic's
// partitions to m sources; StopAtEnd makes a batch job of what the topic
// holds.
//
// # What is and is not integrated with package pipeline
//
// The group Worker integrates the operators (any pipeline.Mergeable), the
// extractors (pipeline.Extractor), and load shedding (any
// pipeline.Shedder, such as shedding.Shedder). Its shedders get a real
// load signal: the operator runs chained to the poll loop, as a pipeline
// runs a stage inline, so the pipeline.Pressure counts the records each
// partition's operator took as sent and the time the loop did not wait
// for records (processing, checkpointing) as back-pressure. A worker
// behind its input never waits and polls full batches, which
// shedding.Controller reads as lag, and learns the operator's capacity
// from the records taken per busy second: fed faster than its operator
// counts, the worker sheds (TestKafkaShedOverload), fed slower it sheds
// nothing (TestKafkaShedNoOverload). A shedder decides on ShedChunk
// records of a poll at a time, so that a poll holding seconds of a slow
// operator's work is shed as the lag shows. It is not a pipeline.Pipeline: each
// partition's operator runs on the poll goroutine, chained to its source,
// with no credit channels (a slow operator slows the poll loop, and
// franz-go's fetch buffer is the bound), its checkpoints are Kafka
// transactions rather than barriers into a checkpoint.Store, and its
// metrics are Worker.Stats. Worker.Metrics and CheckpointStats shape them
// as a pipeline's (the poll loop as the source, each partition's operator
// as an instance of stage "partition", transactions as checkpoints), so
// that pipeline/observe's page and its Prometheus adapter read a Worker
// (observe.Runtime) as they read a pipeline; PartitionState.Shedder gives
// the page the owned partitions' shedders (observe.Info.Shedders). A pipeline over Sources has all of
// pipeline's machinery but no consumer group: its parallelism is fixed
// by the caller (and changed by restoring at another), and its
// checkpoints are the pipeline's, not Kafka transactions.
package kafka
