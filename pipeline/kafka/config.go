package kafka

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/pipeline"
)

// Errors. Broker errors are wrapped, so errors.Is finds both these and
// franz-go's kerr values.
var (
	// ErrConfig: the Config or ReadConfig is incomplete or invalid.
	ErrConfig = errors.New("kafka: invalid configuration")
	// ErrNoTopic: the input topic does not exist.
	ErrNoTopic = errors.New("kafka: topic does not exist")
	// ErrUnreachable: no broker answered within the timeout.
	ErrUnreachable = errors.New("kafka: brokers unreachable")
	// ErrPartitionMismatch: the checkpoint topic's partition count differs
	// from the input topic's.
	ErrPartitionMismatch = errors.New("kafka: checkpoint topic and input topic have different partition counts")
	// ErrNoSnapshot: the group has a committed offset for a partition but
	// the checkpoint topic holds no snapshot at that offset (or holds one
	// without a committed offset), so state and offsets disagree.
	ErrNoSnapshot = errors.New("kafka: no snapshot at the committed offset")
	// ErrBadSnapshot: a checkpoint record does not decode.
	ErrBadSnapshot = errors.New("kafka: bad checkpoint record")
	// ErrOffsetGap: a partition's records did not continue at the offset
	// its state was restored at (or skipped an offset on the way).
	ErrOffsetGap = errors.New("kafka: records do not continue the restored offset")
	// ErrRunTwice: Worker.Run was called a second time.
	ErrRunTwice = errors.New("kafka: Worker.Run called twice")
)

// Defaults of a zero Config.
const (
	DefaultInterval       = time.Second
	DefaultSessionTimeout = 10 * time.Second
	DefaultMaxPollRecords = 10000
	DefaultTimeout        = 30 * time.Second
)

// DefaultCheckpointTopic is the checkpoint topic of a group whose Config
// leaves CheckpointTopic empty.
func DefaultCheckpointTopic(group string) string { return group + "-streamstat-checkpoints" }

// Config describes one worker of a consumer group. Fields left zero take
// the documented defaults. It is a plain value.
type Config struct {
	// Brokers, Topic and Group are the seed brokers, the input topic and
	// the consumer group; all required.
	Brokers []string
	Topic   string
	Group   string
	// CheckpointTopic is the compacted topic of per-partition snapshots;
	// "" means DefaultCheckpointTopic(Group). Run creates it, with the
	// input's partition count, if it does not exist; an existing one with
	// another partition count is an error (ErrPartitionMismatch).
	CheckpointTopic string
	// New makes the operator of one input partition (its key group).
	// Required. Every worker of a group must make the same shape of
	// operator, so that snapshots restore and merge.
	New func(partition int32) (pipeline.Mergeable, error)
	// Extract, if set, finds each record's key (and value) in the Kafka
	// record's value, as LineConfig.Extract does in a line (its Framing is
	// ignored: a Kafka record is one record). A record it rejects is
	// skipped and counted (Snapshot.Skipped). nil: the key is the whole
	// value.
	Extract pipeline.Extractor
	// NewShedder, if set, gives each owned partition a load shedder,
	// applied to each polled batch before the operator, with the poll
	// loop's load as its pipeline.Pressure (see Worker.Metrics and the
	// package doc). It is called again for every state the worker makes
	// of the partition (a restore, a rollback): return a fresh shedder.
	// Shed records still advance the partition's offset; the snapshot
	// counts them and saves the shedder's state if it is a
	// BinaryMarshaler.
	NewShedder func(partition int32) (pipeline.Shedder, error)
	// Interval between checkpoints (transactions); 0 means
	// DefaultInterval.
	Interval time.Duration
	// SessionTimeout is the group session timeout; 0 means
	// DefaultSessionTimeout. The transaction timeout is set below it
	// (two thirds), so that a new owner never waits out a dead owner's
	// open transaction. The other side of that choice: a checkpoint under
	// way when a classic rebalance starts waits for the join to finish
	// (no offsets are committed during one), and a join that waits for a
	// dead member's session outlasts the transaction, which the
	// coordinator then aborts (PRODUCER_FENCED): the worker recreates its
	// session and restores every partition (Stats.Failed), exact but at
	// the cost of one more rebalance.
	SessionTimeout time.Duration
	// KIP848 uses the KIP-848 consumer group protocol (the broker assigns
	// partitions) instead of the classic one with cooperative-sticky
	// assignment. The broker must support it (Kafka 4.0+); franz-go
	// otherwise falls back to the classic protocol. Under KIP-848 the
	// session timeout and the heartbeat interval are the broker's
	// (group.consumer.session.timeout.ms, default 45 s, and
	// group.consumer.heartbeat.interval.ms, default 5 s: a partition
	// changes owner on a heartbeat, so the interval bounds a handover);
	// set SessionTimeout to at most the broker's, so that the
	// transaction timeout stays below it.
	KIP848 bool
	// TransactionalID must be unique among the live workers of all
	// groups; "" means Group + "-" + 16 random hex digits.
	TransactionalID string
	// MaxPollRecords bounds the records taken per poll; 0 means
	// DefaultMaxPollRecords.
	MaxPollRecords int
	// AllowOffsetGaps accepts input offsets that skip (a transactional
	// or compacted input topic); by default every record must follow the
	// previous one's offset + 1 (ErrOffsetGap).
	AllowOffsetGaps bool
	// Timeout bounds the setup (reaching the brokers, topics), each
	// partition restore and the end of each transaction; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Opts are extra franz-go client options (TLS, SASL, a dialer, a
	// logger), applied after the worker's own.
	Opts []kgo.Opt
	// Logf, if set, receives one line per notable event (restore,
	// rollback, session recreated).
	Logf func(format string, args ...any)
}

func (c *Config) fill() error {
	switch {
	case len(c.Brokers) == 0:
		return fmt.Errorf("%w: no brokers", ErrConfig)
	case c.Topic == "":
		return fmt.Errorf("%w: no input topic", ErrConfig)
	case c.Group == "":
		return fmt.Errorf("%w: no consumer group", ErrConfig)
	case c.New == nil:
		return fmt.Errorf("%w: no operator factory (Config.New)", ErrConfig)
	case c.Interval < 0 || c.SessionTimeout < 0 || c.MaxPollRecords < 0 || c.Timeout < 0:
		return fmt.Errorf("%w: negative interval, session timeout, poll size or timeout", ErrConfig)
	}
	if c.CheckpointTopic == "" {
		c.CheckpointTopic = DefaultCheckpointTopic(c.Group)
	}
	if c.CheckpointTopic == c.Topic {
		return fmt.Errorf("%w: checkpoint topic is the input topic %q", ErrConfig, c.Topic)
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = DefaultMaxPollRecords
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.TransactionalID == "" {
		c.TransactionalID = fmt.Sprintf("%s-%016x", c.Group, randomID())
	}
	return nil
}

// txnTimeout is two thirds of the session timeout, at least a second.
func (c *Config) txnTimeout() time.Duration {
	return max(time.Second, c.SessionTimeout*2/3)
}

func randomID() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func (c *Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}
