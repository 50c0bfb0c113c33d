package kafka

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/pipeline"
)

// ReadConfig says where a group's snapshots are. Fields left zero take
// the documented defaults. It is a plain value.
type ReadConfig struct {
	// Brokers and Group are required.
	Brokers []string
	Group   string
	// CheckpointTopic "" means DefaultCheckpointTopic(Group).
	CheckpointTopic string
	// Opts are extra franz-go client options.
	Opts []kgo.Opt
	// Timeout bounds the whole read; 0 means DefaultTimeout.
	Timeout time.Duration
}

// ReadSnapshots returns the latest committed snapshot of every partition
// of the group's checkpoint topic that has one, sorted by partition. It
// reads read_committed, so it never sees a snapshot of an aborted or open
// transaction; each snapshot's Offset is the offset the group committed
// with it.
func ReadSnapshots(ctx context.Context, cfg ReadConfig) ([]Snapshot, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, fmt.Errorf("%w: no brokers", ErrConfig)
	case cfg.Group == "" && cfg.CheckpointTopic == "":
		return nil, fmt.Errorf("%w: no consumer group", ErrConfig)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: negative timeout", ErrConfig)
	}
	if cfg.CheckpointTopic == "" {
		cfg.CheckpointTopic = DefaultCheckpointTopic(cfg.Group)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cl, err := adminClient(cfg.Brokers, cfg.Opts)
	if err != nil {
		return nil, err
	}
	n, ok, err := partitionCount(ctx, kadm.NewClient(cl), cfg.CheckpointTopic, cfg.Brokers)
	cl.Close()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: checkpoint topic %s (has a worker of group %s ever run?)", ErrNoTopic, cfg.CheckpointTopic, cfg.Group)
	}
	parts := make([]int32, n)
	for i := range parts {
		parts[i] = int32(i)
	}
	snaps, err := readLatest(ctx, cfg.Brokers, cfg.Opts, cfg.CheckpointTopic, parts)
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, 0, len(snaps))
	for _, p := range slices.Sorted(maps.Keys(snaps)) {
		out = append(out, snaps[p])
	}
	return out, nil
}

// Merge reads the latest snapshots (ReadSnapshots) and folds each one's
// State into into with MergeBinary: the global answer of the group, as of
// each partition's last commit. into should start empty and have the
// shape of the workers' operators.
func Merge(ctx context.Context, cfg ReadConfig, into pipeline.Mergeable) ([]Snapshot, error) {
	snaps, err := ReadSnapshots(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for _, s := range snaps {
		if err := into.MergeBinary(s.State); err != nil {
			return nil, fmt.Errorf("kafka: merging partition %d's snapshot at offset %d: %w", s.Partition, s.Offset, err)
		}
	}
	return snaps, nil
}
