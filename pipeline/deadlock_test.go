package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// TestFanOutTwoSourcesCheckpointNoDeadlock: two sources fan out into a
// by-key branch, whose instances take their two inputs in strict turn,
// and a round-robin branch, whose instances align barriers; checkpoints
// come every few milliseconds. An aligning instance that stopped reading
// an input that delivered its barrier could close a cycle through the
// credits: it waits for source 0's barrier, source 0 waits for credit
// from a by-key instance (sending that barrier), which waits for source
// 1's batch in turn, and source 1 waits for credit from the held input.
// Every run must end, with every record in both branches, with and
// without shedding.
func TestFanOutTwoSourcesCheckpointNoDeadlock(t *testing.T) {
	const count = 60000
	runs := 6
	if testing.Short() {
		runs = 3
	}
	for _, shed := range []bool{false, true} {
		name := "no shedding"
		if shed {
			name = "shedding"
		}
		t.Run(name, func(t *testing.T) {
			for run := range runs {
				var byKey, rr atomic.Int64
				counter := func(name string, in Partitioning, n *atomic.Int64) Stage {
					return Stage{Name: name, Input: in, Parallelism: 2, New: func(int) (Operator, error) {
						return Stateless(OperatorFunc(func(in, _ *Batch) error {
							n.Add(int64(in.Len()))
							return nil
						})), nil
					}}
				}
				var srcs []Source
				for i := range 2 {
					g, err := NewGenerator(GeneratorConfig{Seed: uint64(run*2 + i + 1), Count: count, Keys: 5000})
					if err != nil {
						t.Fatal(err)
					}
					srcs = append(srcs, g)
				}
				cfg := Config{BatchSize: 16, Exclusive: 2, Floating: 0,
					Checkpoint: &CheckpointConfig{Store: newMemStore(), Interval: 2 * time.Millisecond}}
				if shed {
					cfg.NewShedder = func(int) Shedder { return markHalf{} }
				}
				p, err := New(srcs, []Stage{{Name: "fan", Branches: []Branch{
					{Name: "users", Stages: []Stage{counter("distinct", ByKey, &byKey)}},
					{Name: "all", Stages: []Stage{counter("freq", RoundRobin, &rr)}},
				}}}, cfg)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err = p.Run(ctx)
				cancel()
				if err != nil {
					t.Fatalf("run %d: Run: %v after %d checkpoints (a deadlock, if the deadline passed)", run, err, p.CheckpointStats().Completed)
				}
				if byKey.Load() != rr.Load() || !shed && rr.Load() != 2*count || rr.Load() == 0 {
					t.Errorf("run %d: %d records by key, %d round-robin, of %d", run, byKey.Load(), rr.Load(), 2*count)
				}
				if p.CheckpointStats().Completed == 0 {
					t.Errorf("run %d: no checkpoint completed", run)
				}
			}
		})
	}
}

// TestStashBoundGoesUnaligned: an aligning instance sets aside what its
// held inputs deliver; at the bound (one batch per input here) it goes
// unaligned rather than set aside more, and recovery from such a
// checkpoint is still exactly-once: the state equals a run without
// failure, byte for byte (the state is order-insensitive).
func TestStashBoundGoesUnaligned(t *testing.T) {
	defer func(n int) { stashPerInput = n }(stashPerInput)
	stashPerInput = 1
	ref := alignedGraph(t, newMemStore(), 0, false)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)
	trials := 30
	if testing.Short() {
		trials = 10
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var unaligned uint64
	for trial := range trials {
		failAt := 1 + rng.Int64N(20000)
		store := newMemStore()
		p := alignedGraph(t, store, failAt, false)
		if err := p.Run(context.Background()); !errors.Is(err, errInjected) {
			t.Fatalf("trial %d: failing run returned %v", trial, err)
		}
		unaligned += p.CheckpointStats().Unaligned
		q := alignedGraph(t, store, 0, false)
		if _, err := q.Restore(store); err != nil && !errors.Is(err, checkpoint.ErrNoCheckpoint) {
			t.Fatal(err)
		}
		if err := q.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		unaligned += q.CheckpointStats().Unaligned
		if got := states(t, q); got != want {
			t.Fatalf("trial %d (failure at record %d): recovered state differs", trial, failAt)
		}
	}
	if unaligned == 0 {
		t.Error("no instance went unaligned at the bound")
	}
}
