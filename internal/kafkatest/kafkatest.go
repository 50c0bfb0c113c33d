// Package kafkatest starts in-process Kafka clusters (kfake) for tests:
// several brokers on loopback ports, seeded topics, a short group session
// timeout, and helpers to fill topics, restart the cluster on its data
// directory, and find a port nothing listens on.
package kafkatest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults used where a Config field is zero.
const (
	DefaultBrokers           = 3
	DefaultPartitions        = 6
	DefaultMinSessionTimeout = 200 * time.Millisecond
)

// Config describes a test cluster. The zero value means DefaultBrokers
// brokers on free ports, no topics, DefaultMinSessionTimeout, in memory.
type Config struct {
	// Brokers is the number of brokers; 0 means DefaultBrokers.
	Brokers int
	// Topics are created with Partitions partitions each (0 means
	// DefaultPartitions).
	Topics     []string
	Partitions int
	// MinSessionTimeout is the smallest group session timeout the
	// brokers accept; 0 means DefaultMinSessionTimeout. Workers that use
	// a short one notice a dead member soon.
	MinSessionTimeout time.Duration
	// DataDir, if set, keeps the cluster's state there (kfake.DataDir),
	// so that Restart keeps topics, records, groups and offsets.
	DataDir string
	// Opts are more kfake options, after those the fields make.
	Opts []kfake.Opt
}

// Cluster is a running kfake cluster. Its methods are safe for concurrent
// use, except Restart.
type Cluster struct {
	*kfake.Cluster
	cfg   Config
	addrs []string
}

// Start starts a cluster and closes it when the test ends.
func Start(tb testing.TB, cfg Config) *Cluster {
	tb.Helper()
	if cfg.Brokers == 0 {
		cfg.Brokers = DefaultBrokers
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.MinSessionTimeout == 0 {
		cfg.MinSessionTimeout = DefaultMinSessionTimeout
	}
	c := &Cluster{cfg: cfg}
	if err := c.start(make([]int, cfg.Brokers)); err != nil {
		tb.Fatalf("kafkatest: start %d brokers: %v", cfg.Brokers, err)
	}
	tb.Cleanup(func() { c.Cluster.Close() })
	return c
}

func (c *Cluster) start(ports []int) error {
	opts := []kfake.Opt{
		kfake.Ports(ports...),
		kfake.GroupMinSessionTimeout(c.cfg.MinSessionTimeout),
	}
	if len(c.cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(c.cfg.Partitions), c.cfg.Topics...))
	}
	if c.cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(c.cfg.DataDir))
	}
	kc, err := kfake.NewCluster(append(opts, c.cfg.Opts...)...)
	if err != nil {
		return err
	}
	c.Cluster, c.addrs = kc, kc.ListenAddrs()
	return nil
}

// Addrs returns the brokers' host:port addresses.
func (c *Cluster) Addrs() []string { return append([]string(nil), c.addrs...) }

// Brokers returns the brokers' addresses joined by commas, as
// --kafka-brokers takes them.
func (c *Cluster) Brokers() string { return strings.Join(c.addrs, ",") }

// Restart closes the cluster and starts it again on the same ports (and
// data directory: without one, everything is lost). Clients reconnect.
func (c *Cluster) Restart(tb testing.TB) {
	tb.Helper()
	c.Cluster.Close()
	ports := make([]int, len(c.addrs))
	for i, a := range c.addrs {
		_, p, _ := net.SplitHostPort(a)
		fmt.Sscan(p, &ports[i])
	}
	// The old listeners may take a moment to let go of their ports.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.start(ports)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("kafkatest: restart on ports %v: %v", ports, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client returns a client of the cluster, closed when the test ends.
func (c *Cluster) Client(tb testing.TB, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addrs...)}, opts...)...)
	if err != nil {
		tb.Fatalf("kafkatest: client: %v", err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

// PartitionOf is the partition ProduceLines sends a record with this
// key to: xxhash of the key modulo partitions.
func PartitionOf(key string, partitions int) int32 {
	return int32(xxhash.Sum64String(key) % uint64(partitions))
}

// ProduceLines writes each line as one record of topic (value the line,
// key the line's first space-separated field) to partition
// PartitionOf(key) of the Config's Partitions, and waits until every
// record is acknowledged. It returns the number of records written to
// each partition.
func (c *Cluster) ProduceLines(tb testing.TB, topic string, lines []string) []int64 {
	tb.Helper()
	parts := c.cfg.Partitions
	cl := c.Client(tb, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	per := make([]int64, parts)
	recs := make([]*kgo.Record, 0, len(lines))
	for _, l := range lines {
		key, _, _ := strings.Cut(l, " ")
		p := PartitionOf(key, parts)
		per[p]++
		recs = append(recs, &kgo.Record{Key: []byte(key), Value: []byte(l), Partition: p})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		tb.Fatalf("kafkatest: produce %d records to %s: %v", len(lines), topic, err)
	}
	return per
}

// ClosedAddr returns a loopback host:port that refuses connections: a
// port that was just free, whose listener is closed.
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("kafkatest: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
