package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// sourcePipeline is a pipeline of m Sources over the test topic, each
// chained to its exactOp instance, checkpointing into store.
func sourcePipeline(t *testing.T, c *cluster, m int, store checkpoint.Store, interval time.Duration) (*pipeline.Pipeline, []pipeline.Source) {
	t.Helper()
	srcs, err := Sources(context.Background(), SourceConfig{Brokers: c.addrs, Topic: testTopic, StopAtEnd: true}, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range srcs {
			s.(*Source).Close()
		}
	})
	p, err := pipeline.New(srcs, []pipeline.Stage{{
		Name: "exact", Parallelism: m,
		New: func(int) (pipeline.Operator, error) { return &slowOp{exactOp{counts: map[string]uint64{}}}, nil },
	}}, pipeline.Config{BatchSize: 16, Checkpoint: &pipeline.CheckpointConfig{Store: store, Interval: interval}})
	if err != nil {
		t.Fatal(err)
	}
	return p, srcs
}

// slowOp is an exactOp that takes a millisecond per batch, so that a
// pipeline over a few thousand records lasts long enough to checkpoint.
type slowOp struct{ exactOp }

func (o *slowOp) Process(in, out *pipeline.Batch) error {
	time.Sleep(time.Millisecond)
	return o.exactOp.Process(in, out)
}

// merged merges the states of every instance of the pipeline's stage.
func merged(t *testing.T, p *pipeline.Pipeline) *exactOp {
	t.Helper()
	var out exactOp
	err := p.Query(0, func(_ int, op pipeline.Operator) error {
		b, err := op.(*slowOp).MarshalBinary()
		if err != nil {
			return err
		}
		return out.MergeBinary(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &out
}

func checkMerged(t *testing.T, c *cluster, got *exactOp) {
	t.Helper()
	want := c.in.all()
	if !maps.Equal(got.counts, want.counts) {
		t.Errorf("counts differ from the input's")
	}
	gb, _ := got.hll.MarshalBinary()
	wb, _ := want.hll.MarshalBinary()
	if !bytes.Equal(gb, wb) {
		t.Errorf("HLL differs from one process's over the same records")
	}
}

// TestKafkaSourcePipeline: a pipeline of two Sources with StopAtEnd reads
// every record of the topic exactly once.
func TestKafkaSourcePipeline(t *testing.T) {
	c := newCluster(t)
	c.produce(t, scale(4000))
	p, _ := sourcePipeline(t, c, 2, newStore(t), 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	checkMerged(t, c, merged(t, p))
	if st := p.CheckpointStats(); st.Completed == 0 {
		t.Errorf("no checkpoint completed: %+v", st)
	}
}

// TestKafkaSourceRescale: a pipeline of two Sources stopped mid-way
// resumes from its checkpoint with one and with three sources (the
// partitions dealt anew, the operator states merged) and ends with the
// answer of one uninterrupted process.
func TestKafkaSourceRescale(t *testing.T) {
	c := newCluster(t)
	c.produce(t, 6000) // ~190 batches of a millisecond per source: time to checkpoint
	for _, m := range []int{1, 3} {
		t.Run(fmt.Sprintf("2to%d", m), func(t *testing.T) {
			store := newStore(t)
			p, _ := sourcePipeline(t, c, 2, store, time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			// Wait for a checkpoint that began after both sources took
			// records: one mid-way through the input.
			var after uint64
			for {
				if after == 0 {
					ms := p.Metrics().Sources
					if len(ms) == 2 && ms[0].Records > 0 && ms[1].Records > 0 {
						after = p.CheckpointStats().Completed + 1
					}
				} else if p.CheckpointStats().Completed > after {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("the run finished (%v) before a checkpoint mid-way", err)
				case <-time.After(time.Millisecond):
				}
			}
			cancel()
			<-done
			q, srcs := sourcePipeline(t, c, m, store, 0)
			if _, err := q.Restore(store); err != nil {
				t.Fatal(err)
			}
			var resumed, parts int
			for _, src := range srcs {
				for _, off := range src.(*Source).Offsets() {
					parts++
					if off > 0 {
						resumed++
					}
				}
			}
			if parts != testPartitions || resumed == 0 {
				t.Fatalf("restored sources hold %d partitions, %d of them mid-way; want %d, some", parts, resumed, testPartitions)
			}
			if err := q.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkMerged(t, c, merged(t, q))
		})
	}
}

func newStore(t *testing.T) *checkpoint.DirStore {
	t.Helper()
	s, err := checkpoint.NewDirStore(t.TempDir(), 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKafkaSourceState(t *testing.T) {
	s, err := NewSource(SourceConfig{Brokers: []string{"x:1"}, Topic: "t", Partitions: []int32{0, 2, 4}})
	if err != nil {
		t.Fatal(err)
	}
	s.next[2] = 77
	st, err := s.SourceState()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewSource(SourceConfig{Brokers: []string{"x:1"}, Topic: "t"})
	if err := r.RestoreSource(st); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(r.next, map[int32]int64{0: -1, 2: 77, 4: -1}) {
		t.Errorf("restored offsets %v", r.next)
	}
	other, _ := NewSource(SourceConfig{Brokers: []string{"x:1"}, Topic: "u"})
	if err := other.RestoreSource(st); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("state of another topic: %v", err)
	}
	s2, _ := NewSource(SourceConfig{Brokers: []string{"x:1"}, Topic: "t", Partitions: []int32{1, 3}})
	st2, _ := s2.SourceState()
	dealt, err := s.RedealSources([][]byte{st, st2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dealt {
		_, next, err := decodeSourceState(d)
		if err != nil {
			t.Fatal(err)
		}
		for p := range next {
			if int(p)%2 != i {
				t.Errorf("partition %d dealt to source %d of 2", p, i)
			}
		}
	}
	if _, err := s.RedealSources([][]byte{st, st}, 2); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("a partition in two states: %v", err)
	}
}

// FuzzDecodeSourceState: bad bytes give an error wrapping ErrBadSnapshot;
// good ones encode back to themselves.
func FuzzDecodeSourceState(f *testing.F) {
	f.Add(encodeSourceState("clicks", map[int32]int64{0: 5, 3: -1, 9: 1 << 40}))
	f.Add(encodeSourceState("", nil))
	f.Add([]byte("SSKS\x01\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		topic, next, err := decodeSourceState(b)
		if err != nil {
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(encodeSourceState(topic, next), b) {
			t.Fatal("a decoded state does not encode back to its bytes")
		}
	})
}

// TestKafkaSourcePauses: a source asked for small batches while much is
// fetched pauses fetching between Fills, resumes in the next, and loses
// nothing.
func TestKafkaSourcePauses(t *testing.T) {
	c := newCluster(t)
	c.produce(t, 3000)
	s, err := NewSource(SourceConfig{Brokers: c.addrs, Topic: testTopic, StopAtEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := exactOp{counts: map[string]uint64{}}
	var b pipeline.Batch
	sawPaused := false
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		b.Reset()
		err := s.Fill(ctx, &b, 10)
		got.Process(&b, nil)
		sawPaused = sawPaused || s.paused
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !sawPaused || s.paused {
		t.Errorf("paused during the read: %v, at the end: %v (%d pauses); want true, false", sawPaused, s.paused, s.pauses)
	}
	t.Logf("%d pauses", s.pauses)
	checkMerged(t, c, &got)
}
