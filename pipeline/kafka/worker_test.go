package kafka

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamstat/streamstat/pipeline"
)

// scale shrinks record counts under -short.
func scale(n int) int {
	if testing.Short() {
		return n / 4
	}
	return n
}

func TestKafkaSmoke(t *testing.T) {
	c := newCluster(t)
	c.produce(t, 3000)
	a := start(t, c.config())
	snaps := c.waitCommitted(t, 20*time.Second)
	c.checkFinal(t, snaps)
	a.stop(t, true)
	if n := c.checkAllSnapshots(t); n < testPartitions {
		t.Errorf("%d committed snapshots, want at least %d", n, testPartitions)
	}
}

// producing produces batches in the background until stopped.
func producing(t testing.TB, c *cluster, batch int) (stop func()) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			c.produce(t, batch)
		}
	}()
	return func() { close(done); wg.Wait() }
}

// TestKafkaJoinLeave: worker A alone, B joins mid-stream, A leaves, over
// both group protocols. The merged state must be exact, and every
// committed snapshot the exact state at its offset.
func TestKafkaJoinLeave(t *testing.T) {
	for _, kip848 := range []bool{false, true} {
		name := "classic"
		if kip848 {
			name = "kip848"
		}
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			var heartbeats, joins atomic.Int64
			c.ControlKey(int16(kmsg.ConsumerGroupHeartbeat), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				heartbeats.Add(1)
				return nil, nil, false
			})
			c.ControlKey(int16(kmsg.JoinGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				joins.Add(1)
				return nil, nil, false
			})
			cfg := c.config()
			cfg.KIP848 = kip848
			c.produce(t, scale(4000))
			a := start(t, cfg)
			stopProd := producing(t, c, scale(200))
			time.Sleep(time.Second)
			b := start(t, cfg)
			waitOwned(t, b, 20*time.Second)
			time.Sleep(time.Second)
			a.stop(t, true)
			time.Sleep(time.Second)
			stopProd()
			c.produce(t, scale(2000))
			snaps := c.waitCommitted(t, 30*time.Second)
			c.checkFinal(t, snaps)
			sa, sb := a.w.Stats(), b.w.Stats()
			b.stop(t, true)
			if sa.Committed == 0 || sb.Committed == 0 {
				t.Errorf("committed transactions: A %d, B %d; want both > 0", sa.Committed, sb.Committed)
			}
			if sb.Restores == 0 {
				t.Errorf("B restored no partition")
			}
			if n := c.checkAllSnapshots(t); n == 0 {
				t.Errorf("no committed snapshot")
			}
			if kip848 {
				if heartbeats.Load() == 0 || joins.Load() != 0 {
					t.Errorf("KIP-848: %d ConsumerGroupHeartbeat and %d JoinGroup requests; want some and none", heartbeats.Load(), joins.Load())
				}
			} else if heartbeats.Load() != 0 || joins.Load() == 0 {
				t.Errorf("classic: %d ConsumerGroupHeartbeat and %d JoinGroup requests; want none and some", heartbeats.Load(), joins.Load())
			}
			t.Logf("A %+v", sa)
			t.Logf("B %+v", sb)
		})
	}
}

// waitOwned waits until r owns a partition.
func waitOwned(t testing.TB, r *running, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if len(r.w.Stats().Owned) > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("worker owns no partition after %v", within)
}

func TestKafkaNoTopic(t *testing.T) {
	c := newCluster(t)
	cfg := c.config()
	cfg.Topic = "missing"
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); !errors.Is(err, ErrNoTopic) {
		t.Fatalf("Run on a missing topic: %v, want ErrNoTopic", err)
	}
}

func TestKafkaUnreachable(t *testing.T) {
	ln, err := (&netListenConfig{}).listenClosed()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Brokers: []string{ln}, Topic: "t", Group: "g", New: newExactOp, Timeout: time.Second}
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := w.Run(context.Background()); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Run against a closed port: %v, want ErrUnreachable", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Run took %v to give up, Timeout 1s", d)
	}
	_, err = ReadSnapshots(context.Background(), ReadConfig{Brokers: []string{ln}, Group: "g", Timeout: time.Second})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("ReadSnapshots against a closed port: %v, want ErrUnreachable", err)
	}
}

func TestKafkaConfigErrors(t *testing.T) {
	base := Config{Brokers: []string{"x:1"}, Topic: "t", Group: "g", New: newExactOp}
	for name, mod := range map[string]func(*Config){
		"no brokers":       func(c *Config) { c.Brokers = nil },
		"no topic":         func(c *Config) { c.Topic = "" },
		"no group":         func(c *Config) { c.Group = "" },
		"no factory":       func(c *Config) { c.New = nil },
		"negative":         func(c *Config) { c.Interval = -1 },
		"checkpoint=input": func(c *Config) { c.CheckpointTopic = "t" },
	} {
		cfg := base
		mod(&cfg)
		if _, err := NewWorker(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestKafkaCheckpointTopicRace: the worker finds no checkpoint topic, and
// its create fails because another worker created it meanwhile: it must
// see the new topic's partitions soon, not after franz-go's 5 s metadata
// cache expires, nor give up.
func TestKafkaCheckpointTopicRace(t *testing.T) {
	c := newCluster(t)
	c.produce(t, 600)
	ckpt := DefaultCheckpointTopic(testGroup)
	c.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.CreateTopicsRequest)
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			st.ErrorCode = kerr.TopicAlreadyExists.Code
			resp.Topics = append(resp.Topics, st)
		}
		go func() { // the other worker's create, landing just after
			time.Sleep(50 * time.Millisecond)
			adm, err := kadm.NewOptClient(kgo.SeedBrokers(c.addrs...))
			if err != nil {
				return
			}
			defer adm.Close()
			compact := "compact"
			adm.CreateTopic(context.Background(), testPartitions, -1, map[string]*string{"cleanup.policy": &compact}, ckpt)
		}()
		return resp, nil, true
	})
	t0 := time.Now()
	r := start(t, c.config())
	for r.w.Stats().Committed == 0 {
		select {
		case err := <-r.done:
			t.Fatalf("Run: %v", err)
		default:
		}
		if time.Since(t0) > 3*time.Second {
			t.Fatalf("no commit 3 s after start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.stop(t, true)
}

// TestKafkaStartTogether: workers started at the same moment on a new
// group race to create the checkpoint topic; all of them must run.
func TestKafkaStartTogether(t *testing.T) {
	for i := range 3 {
		c := newCluster(t)
		c.produce(t, 600)
		var rs []*running
		for range 3 {
			rs = append(rs, start(t, c.config()))
		}
		snaps := c.waitCommitted(t, 20*time.Second)
		c.checkFinal(t, snaps)
		for _, r := range rs {
			select {
			case err := <-r.done:
				t.Fatalf("round %d: a worker stopped: %v", i, err)
			default:
			}
		}
		for _, r := range rs {
			r.stop(t, true)
		}
	}
}

// panicOp panics on its first batch.
type panicOp struct{ exactOp }

func (*panicOp) Process(in, out *pipeline.Batch) error { panic("operator bug") }

// TestKafkaOperatorPanic: an operator that panics stops Run with an error
// wrapping pipeline.ErrPanic, not the process.
func TestKafkaOperatorPanic(t *testing.T) {
	c := newCluster(t)
	c.produce(t, 100)
	cfg := c.config()
	cfg.New = func(int32) (pipeline.Mergeable, error) { return &panicOp{}, nil }
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Run(ctx); !errors.Is(err, pipeline.ErrPanic) {
		t.Fatalf("Run: %v, want pipeline.ErrPanic", err)
	}
}

// TestKafkaBadSessionTimeout: a session timeout the brokers refuse is an
// error of Run naming it, not an endless rejoin.
func TestKafkaBadSessionTimeout(t *testing.T) {
	c := newCluster(t)
	cfg := c.config()
	cfg.SessionTimeout = 10 * time.Minute // the brokers allow at most 5
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Run(ctx); !errors.Is(err, kerr.InvalidSessionTimeout) {
		t.Fatalf("Run: %v, want INVALID_SESSION_TIMEOUT", err)
	}
}

// TestKafkaOffsetsMovedElsewhere: a group whose offsets something else
// committed (no snapshot at them) is refused with ErrNoSnapshot, not
// counted from the middle with an empty state.
func TestKafkaOffsetsMovedElsewhere(t *testing.T) {
	c := newCluster(t)
	c.produce(t, 600)
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(c.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: testTopic, Partition: 2, At: 50, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, testGroup, offs); err != nil {
		t.Fatal(err)
	}
	cfg := c.config()
	// A restore waits up to Timeout for a snapshot to catch up with the
	// committed offset (its transaction markers may lag the offsets').
	cfg.Timeout = 2 * time.Second
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(ctx); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Run: %v, want ErrNoSnapshot", err)
	}
}
