package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cluster is the running kfake cluster and a client of it.
type cluster struct {
	kc    *kfake.Cluster
	cl    *kgo.Client
	addrs []string
}

// startCluster starts the brokers on o.ports (with o.dataDir, reloading
// what an earlier run kept there) and makes sure the input topic exists.
func startCluster(o *options) (*cluster, error) {
	opts := []kfake.Opt{
		kfake.Ports(o.ports...),
		kfake.SeedTopics(int32(o.partitions), o.topic),
		kfake.GroupMinSessionTimeout(o.sessionMin),
	}
	if o.dataDir != "" {
		opts = append(opts, kfake.DataDir(o.dataDir))
	}
	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start brokers on ports %v: %w", o.ports, err)
	}
	c := &cluster{kc: kc, addrs: kc.ListenAddrs()}
	c.cl, err = kgo.NewClient(
		kgo.SeedBrokers(c.addrs...),
		kgo.DefaultProduceTopic(o.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
	)
	if err != nil {
		kc.Close()
		return nil, err
	}
	return c, nil
}

func (c *cluster) close() {
	c.cl.Close()
	c.kc.Close()
}

// partitionOf is the partition of a record with this key (the user).
func partitionOf(key []byte, partitions int) int32 {
	return int32(xxhash.Sum64(key) % uint64(partitions))
}

// produceStats says what produce found and did.
type produceStats struct {
	partitions int
	total      int64 // records in the topic at the end
	produced   int64 // records produced by this run
}

// produce writes the stream's records that the topic does not hold yet:
// per partition, the records past its high watermark. With o.rate, records
// are due at o.rate per second from the start. It returns when every
// record is acknowledged, or with ctx's error.
func (c *cluster) produce(ctx context.Context, o *options, t *truth) (produceStats, error) {
	parts := len(t.PerPartition)
	hwm, err := c.highWatermarks(ctx, o.topic, parts)
	if err != nil {
		return produceStats{}, err
	}
	st := produceStats{partitions: parts}
	for p, h := range hwm {
		if h > t.PerPartition[p] {
			return st, fmt.Errorf("partition %d of topic %s holds %d records, more than the %d of this stream: another -seed, -n or -users wrote it; start with another -data or -topic",
				p, o.topic, h, t.PerPartition[p])
		}
		st.total += h
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	done := func(_ *kgo.Record, err error) {
		defer wg.Done()
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	}
	seen := make([]int64, parts)
	start := time.Now()
	err = eachRecord(o, func(i int64, user, line []byte) error {
		p := partitionOf(user, parts)
		if seen[p]++; seen[p] <= hwm[p] {
			return nil
		}
		if o.progress != nil && st.produced%256 == 0 {
			o.progress(st.produced)
		}
		if o.rate > 0 && st.produced%256 == 0 {
			due := start.Add(time.Duration(float64(st.produced) / o.rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		mu.Lock()
		err := firstErr
		mu.Unlock()
		if err != nil {
			return err
		}
		wg.Add(1)
		c.cl.Produce(ctx, &kgo.Record{Key: clone(user), Value: clone(line), Partition: p}, done)
		st.produced++
		return nil
	})
	if err == nil {
		err = c.cl.Flush(ctx)
	}
	wg.Wait()
	if err == nil {
		err = firstErr
	}
	if ctx.Err() != nil {
		return st, nil // interrupted: the next run goes on from here
	}
	if err != nil {
		return st, fmt.Errorf("produce to %s: %w", o.topic, err)
	}
	st.total += st.produced
	return st, nil
}

// clone copies b: the generator reuses its buffers, and a record is
// buffered until the brokers acknowledge it.
func clone(b []byte) []byte { return append([]byte(nil), b...) }

// partitions returns the number of partitions of topic.
func (c *cluster) partitions(ctx context.Context, topic string) (int, error) {
	td, err := kadm.NewClient(c.cl).ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	d, ok := td[topic]
	if !ok {
		return 0, fmt.Errorf("metadata of %s: %d topics in the answer", topic, len(td))
	}
	if d.Err != nil {
		return 0, fmt.Errorf("topic %s: %w", topic, d.Err)
	}
	return len(d.Partitions), nil
}

// highWatermarks returns the end offset of every partition of topic: the
// number of records it holds, since the producer writes no transactions.
func (c *cluster) highWatermarks(ctx context.Context, topic string, parts int) ([]int64, error) {
	ends, err := kadm.NewClient(c.cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	hwm := make([]int64, parts)
	got := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Partition >= 0 && int(o.Partition) < parts {
			hwm[o.Partition] = o.Offset
			got++
		}
	})
	if got != parts || len(ends[topic]) != parts {
		return nil, fmt.Errorf("end offsets of %s: %d partitions answered, %d expected", topic, len(ends[topic]), parts)
	}
	return hwm, nil
}

// eachRecord calls fn with every record of the stream in order: its index,
// its user and its line (both reused after fn returns).
func eachRecord(o *options, fn func(i int64, user, line []byte) error) error {
	users, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: o.seed, Keys: o.users, S: o.s,
		Prefix: "user-", Count: o.records, ValueMean: 120})
	if err != nil {
		return err
	}
	pages, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: o.seed + 1, Keys: o.pages, S: o.s,
		Prefix: "/page/", Count: o.records})
	if err != nil {
		return err
	}
	var ub, pb pipeline.Batch
	var line []byte
	var i int64
	for {
		ub.Reset()
		pb.Reset()
		errU := users.Fill(context.Background(), &ub, 1024)
		errP := pages.Fill(context.Background(), &pb, 1024)
		if ub.Len() != pb.Len() {
			return errors.New("generators out of step") // cannot happen: same Count, same max
		}
		for j := range ub.Len() {
			user := ub.Key(j)
			line = append(line[:0], user...)
			line = append(line, ' ')
			line = append(line, pb.Key(j)...)
			line = append(line, ' ')
			line = fmtLatency(line, ub.Records[j].Value)
			if err := fn(i, user, line); err != nil {
				return err
			}
			i++
		}
		if errors.Is(errU, io.EOF) && errors.Is(errP, io.EOF) {
			return nil
		}
		if errU != nil && !errors.Is(errU, io.EOF) {
			return errU
		}
		if errP != nil && !errors.Is(errP, io.EOF) {
			return errP
		}
	}
}

// fmtLatency appends a latency in milliseconds with one decimal: the
// value the truth's stats are computed over is the one parsed back.
func fmtLatency(dst []byte, ms float64) []byte {
	return fmt.Appendf(dst, "%.1f", math.Round(ms*10)/10)
}
