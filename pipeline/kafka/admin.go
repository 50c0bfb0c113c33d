package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// adminClient is a client for metadata and admin requests. Its metadata
// may be at most 50 ms old (franz-go caches it for 5 s by default), so
// that a topic another worker just created shows its partitions when
// asked again.
func adminClient(brokers []string, opts []kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return cl, nil
}

// defaultMaxMessageBytes is Kafka's default max.message.bytes, used when
// the broker does not report the topic's.
const defaultMaxMessageBytes = 1048588

// topics is what the setup learns about the input and checkpoint topics.
type topics struct {
	partitions      int32 // of both
	maxMessageBytes int32 // of the checkpoint topic
}

// adminErr turns a deadline into ErrUnreachable, naming what was asked.
func adminErr(ctx context.Context, what string, brokers []string, err error) error {
	var op *net.OpError
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &op) || ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %s: no answer from %v: %v", ErrUnreachable, what, brokers, err)
	}
	return fmt.Errorf("kafka: %s: %w", what, err)
}

// partitionCount returns the number of partitions of topic, or an error
// wrapping ErrNoTopic.
func partitionCount(ctx context.Context, adm *kadm.Client, topic string, brokers []string) (int32, bool, error) {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, false, adminErr(ctx, "listing topic "+topic, brokers, err)
	}
	d, ok := td[topic]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return 0, false, nil
	}
	if d.Err != nil {
		return 0, false, fmt.Errorf("kafka: topic %s: %w", topic, d.Err)
	}
	return int32(len(d.Partitions)), true, nil
}

// setupTopics checks the input topic, creates the checkpoint topic if it
// is missing (compacted, as many partitions as the input) and reads its
// max.message.bytes.
func setupTopics(ctx context.Context, cl *kgo.Client, cfg *Config) (topics, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	adm := kadm.NewClient(cl)
	n, ok, err := partitionCount(ctx, adm, cfg.Topic, cfg.Brokers)
	if err != nil {
		return topics{}, err
	}
	if !ok {
		return topics{}, fmt.Errorf("%w: %s (create it first, or check the broker addresses %v)", ErrNoTopic, cfg.Topic, cfg.Brokers)
	}
	cn, ok, err := partitionCount(ctx, adm, cfg.CheckpointTopic, cfg.Brokers)
	if err != nil {
		return topics{}, err
	}
	if !ok {
		compact := "compact"
		resp, err := adm.CreateTopic(ctx, n, -1, map[string]*string{"cleanup.policy": &compact}, cfg.CheckpointTopic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return topics{}, adminErr(ctx, "creating checkpoint topic "+cfg.CheckpointTopic, cfg.Brokers, err)
		}
		if err == nil {
			cfg.logf("kafka: created checkpoint topic %s with %d partitions", cfg.CheckpointTopic, n)
			cn = n
		} else {
			// Another worker created it just now: its partitions may not
			// be in the metadata yet.
			err = retryUntil(ctx, cfg.Timeout, func(ctx context.Context) error {
				var ok bool
				cn, ok, err = partitionCount(ctx, adm, cfg.CheckpointTopic, cfg.Brokers)
				if err == nil && (!ok || cn == 0) {
					err = fmt.Errorf("%w: checkpoint topic %s was created but has no partitions yet", ErrNoTopic, cfg.CheckpointTopic)
				}
				return err
			})
			if err != nil {
				return topics{}, err
			}
		}
	}
	if cn != n {
		return topics{}, fmt.Errorf("%w: %s has %d, %s has %d (delete the checkpoint topic only if the group's state may be lost)", ErrPartitionMismatch, cfg.CheckpointTopic, cn, cfg.Topic, n)
	}
	mmb, err := maxMessageBytes(ctx, adm, cfg.CheckpointTopic, cfg.Brokers)
	if err != nil {
		return topics{}, err
	}
	return topics{partitions: n, maxMessageBytes: mmb}, nil
}

// maxMessageBytes reads the topic's max.message.bytes.
func maxMessageBytes(ctx context.Context, adm *kadm.Client, topic string, brokers []string) (int32, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, adminErr(ctx, "describing topic "+topic, brokers, err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return 0, fmt.Errorf("kafka: describing topic %s: %w", topic, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key != "max.message.bytes" || c.Value == nil {
				continue
			}
			v, err := strconv.ParseInt(*c.Value, 10, 32)
			if err != nil || v < minMessageBytes {
				return 0, fmt.Errorf("%w: topic %s has max.message.bytes %q; want at least %d", ErrConfig, topic, *c.Value, minMessageBytes)
			}
			return int32(v), nil
		}
	}
	return defaultMaxMessageBytes, nil
}

// minMessageBytes is the smallest max.message.bytes a checkpoint topic
// may have: room for a manifest and a useful chunk beside the overheads.
const minMessageBytes = 4096

// recordHeadroom is what a record batch holding one checkpoint record
// needs beside the value: the batch header (61 bytes), the record's
// framing and its key, with room to spare.
const recordHeadroom = 512

// retryUntil calls fn until it succeeds, ctx ends or the timeout passes,
// sleeping between attempts: used where a broker needs a moment (a new
// topic's leaders).
func retryUntil(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
