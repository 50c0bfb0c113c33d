package kafka

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// fill produces n records to the input without remembering them.
func (c *cluster) fill(tb testing.TB, n int) {
	tb.Helper()
	const batch = 10000
	recs := make([]*kgo.Record, 0, batch)
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Topic: testTopic, Partition: int32(i % testPartitions), Value: []byte("u" + strconv.Itoa(i*7919%100003))})
		if len(recs) == batch || i == n-1 {
			if err := c.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				tb.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}

func newDistinct(int32) (pipeline.Mergeable, error) { return &pipeline.Distinct{}, nil }

// BenchmarkKafkaThroughput compares one worker (a Distinct per partition,
// checkpoints every second) with a bare franz-go consume loop that updates
// an HLL per partition, over the same records, in one run:
// throughput-ratio is the worker's records/s over the bare loop's (target
// >= 0.8). Each is timed from its first record to its last, so that
// joining the group is not counted.
func BenchmarkKafkaThroughput(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	c := newCluster(b)
	c.fill(b, n)
	var bare, worker, bareCPU, workerCPU time.Duration
	var commits uint64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d, cpu := benchBare(b, c, n)
		bare, bareCPU = bare+d, bareCPU+cpu
		d, cpu, st := benchWorker(b, c, n, fmt.Sprintf("bench-%d", i))
		worker, workerCPU = worker+d, workerCPU+cpu
		commits += st.Committed
	}
	iters := float64(b.N)
	b.ReportMetric(iters*float64(n)/worker.Seconds(), "records/s")
	b.ReportMetric(iters*float64(n)/bare.Seconds(), "bare-records/s")
	b.ReportMetric(bare.Seconds()/worker.Seconds(), "throughput-ratio")
	if cputime.Available {
		b.ReportMetric(bareCPU.Seconds()/workerCPU.Seconds(), "cpu-throughput-ratio")
	}
	b.ReportMetric(float64(commits)/iters, "commits/op")
}

// benchBare consumes the input with a plain client, updating one HLL per
// partition, and returns the time and CPU time from the first record to
// the last.
func benchBare(b *testing.B, c *cluster, n int) (time.Duration, time.Duration) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.ConsumeTopics(testTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var hlls [testPartitions]sketch.HLL
	var t0 time.Time
	var c0 time.Duration
	seen := 0
	for seen < n {
		fs := cl.PollRecords(context.Background(), DefaultMaxPollRecords)
		if err := fs.Err(); err != nil {
			b.Fatal(err)
		}
		if t0.IsZero() && fs.NumRecords() > 0 {
			t0, c0 = time.Now(), cputime.Process()
		}
		fs.EachRecord(func(r *kgo.Record) {
			hlls[r.Partition].AddHash(sketch.Hash(r.Value))
			seen++
		})
	}
	return time.Since(t0), cputime.Process() - c0
}

// benchWorker runs a worker of a new group over the input and returns the
// time and CPU time from its first record to its last.
func benchWorker(b *testing.B, c *cluster, n int, group string) (time.Duration, time.Duration, Stats) {
	cfg := c.config()
	cfg.Group, cfg.New, cfg.Interval = group, newDistinct, time.Second
	w, err := NewWorker(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var (
		seen     atomic.Int64
		t0       time.Time
		c0       time.Duration
		finished = make(chan time.Time, 1)
		cpuEnd   time.Duration
	)
	w.hooks = &hooks{take: func(_ int32, k int, at time.Time) {
		if t0.IsZero() {
			t0, c0 = at, cputime.Process()
		}
		if seen.Add(int64(k)) == int64(n) {
			cpuEnd = cputime.Process()
			finished <- time.Now()
		}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var end time.Time
	select {
	case end = <-finished:
	case err := <-done:
		b.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Minute):
		b.Fatal("worker did not finish")
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return end.Sub(t0), cpuEnd - c0, w.Stats()
}

// BenchmarkKafkaHandover measures the time from a partition's revoke on
// its owner to the first records processed on its new owner, while input
// flows: each op, worker A leaves (its partitions go to B) and a new A
// joins (B gives some back). handover-ms is the mean, max-handover-ms the
// largest (target <= 2000 with the tests' 1.5 s session timeout).
func BenchmarkKafkaHandover(b *testing.B) {
	b.Run("classic", func(b *testing.B) { benchHandover(b, false) })
	b.Run("kip848", func(b *testing.B) { benchHandover(b, true) })
}

func benchHandover(b *testing.B, kip848 bool) {
	c := newCluster(b)
	c.fill(b, 6000)
	var (
		mu        sync.Mutex
		revokedAt = map[int32]time.Time{}
		handovers []time.Duration
	)
	h := &hooks{
		revoked: func(ps []int32, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range ps {
				revokedAt[p] = at
			}
		},
		take: func(p int32, _ int, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			if t0, ok := revokedAt[p]; ok {
				handovers = append(handovers, at.Sub(t0))
				delete(revokedAt, p)
			}
		},
	}
	startHooked := func(id string) *running {
		cfg := c.config()
		cfg.TransactionalID, cfg.KIP848 = id, kip848
		w, err := NewWorker(cfg)
		if err != nil {
			b.Fatal(err)
		}
		w.hooks = h
		ctx, cancel := context.WithCancel(context.Background())
		r := &running{w: w, cancel: cancel, done: make(chan error, 1)}
		go func() { r.done <- w.Run(ctx) }()
		return r
	}
	settled := func() {
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			left := len(revokedAt)
			mu.Unlock()
			if left == 0 {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d revoked partitions never resumed", left)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	stopProd := producing(b, c, 60)
	defer stopProd()
	wb := startHooked("b")
	defer wb.stop(b, true)
	wa := startHooked("a0")
	waitOwned(b, wa, 20*time.Second)
	waitOwned(b, wb, 20*time.Second)
	settled()
	mu.Lock()
	handovers = nil
	mu.Unlock()
	for i := 0; b.Loop(); i++ {
		wa.stop(b, true)
		settled()
		wa = startHooked(fmt.Sprintf("a%d", i+1))
		waitOwned(b, wa, 20*time.Second)
		settled()
	}
	wa.stop(b, true)
	mu.Lock()
	defer mu.Unlock()
	if len(handovers) == 0 {
		b.Fatal("no handover measured")
	}
	var sum time.Duration
	for _, d := range handovers {
		sum += d
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(handovers)), "handover-ms")
	b.ReportMetric(float64(slices.Max(handovers).Milliseconds()), "max-handover-ms")
}
