package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// timedSource stamps each record of a checkpoint-triggering generator
// with an event time from its position: 1 ms apart, so that replay from
// a checkpoint stamps the same times.
type timedSource struct{ *triggering }

func (s timedSource) Fill(ctx context.Context, b *Batch, max int) error {
	pos, n := s.Position(), b.Len()
	err := s.triggering.Fill(ctx, b, max)
	for j := n; j < b.Len(); j++ {
		b.Records[j].Time = (pos + int64(j-n) + 1) * int64(time.Millisecond)
	}
	return err
}

// windowCrashGraph: the timed source, a fault stage, then by key to two
// Windows (sliding, event time) of Distinct and of GroupDistinct.
func windowCrashGraph(t testing.TB, store checkpoint.Store, failAt int64) *Pipeline {
	gen, err := NewGenerator(GeneratorConfig{Seed: 5, Keys: 3000, Count: 20000})
	if err != nil {
		t.Fatal(err)
	}
	src := timedSource{&triggering{Generator: gen, every: 1500}}
	var seen atomic.Int64
	window := func(mk func() (Mergeable, error)) func(int) (Operator, error) {
		return func(int) (Operator, error) {
			return &Window{New: mk, Size: time.Second, Slide: 250 * time.Millisecond, EventTime: true}, nil
		}
	}
	stages := []Stage{
		{Name: "fault", New: func(int) (Operator, error) {
			return Stateless(OperatorFunc(func(in, out *Batch) error {
				if n := seen.Add(int64(in.Len())); failAt > 0 && n >= failAt {
					return errInjected
				}
				return pass(true, in, out)
			})), nil
		}},
		{Name: "distinct", Input: ByKey, Parallelism: 2, New: window(func() (Mergeable, error) {
			h, err := sketch.NewHLL(10)
			return &Distinct{HLL: h, Pass: true}, err
		})},
		{Name: "pairs", Parallelism: 2, New: func(int) (Operator, error) {
			// (first byte, key): groups of keys by their first byte.
			return Stateless(&Rekey{Key: func(key []byte, _ *Record) ([]byte, bool) {
				return groupKey(nil, string(key[:1]), string(key)), true
			}}), nil
		}},
		{Name: "groups", Parallelism: 2, New: window(func() (Mergeable, error) {
			g, err := sketch.NewGroupDistinct(64)
			return &GroupDistinct{Sketch: g}, err
		})},
	}
	p, err := New([]Source{src}, stages, Config{BatchSize: 64, Checkpoint: &CheckpointConfig{Store: store}})
	if err != nil {
		t.Fatal(err)
	}
	src.p = p
	return p
}

// TestWindowCrashEquivalence: a pipeline of Windows that fails and
// recovers from its latest checkpoint ends with every window ring, count
// and latest answer as a run that never failed, byte for byte.
func TestWindowCrashEquivalence(t *testing.T) {
	ref := windowCrashGraph(t, newMemStore(), 0)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)
	err := QueryAs(ref, 3, func(_ int, w *Window) error {
		a, ok := w.Last()
		if !ok {
			return errors.New("no window closed")
		}
		if g := a.Op.(*GroupDistinct); g.Skipped != 0 || g.Sketch.Exact() {
			return errors.New("the group windows skipped records or sampled none")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	trials := 12
	if testing.Short() {
		trials = 3
	}
	rng := rand.New(rand.NewPCG(3, 4))
	recoverTrials(t, trials, func() int64 { return 2000 + rng.Int64N(17000) }, windowCrashGraph, want, "windows after recovery differ")
}
