package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// chainedGraph is the shape of the CLI and of the report: par
// sources, each chained to its own Distinct instance.
func chainedGraph(t *testing.T, store checkpoint.Store, par int, failAt int64) *Pipeline {
	t.Helper()
	var srcs []Source
	var trig []*triggering
	var seen atomic.Int64
	for i := range par {
		gen, err := NewGenerator(GeneratorConfig{Seed: uint64(10 + i), Keys: 50_000, Count: 20_000})
		if err != nil {
			t.Fatal(err)
		}
		tr := &triggering{Generator: gen, every: 3000}
		trig, srcs = append(trig, tr), append(srcs, tr)
	}
	p, err := New(srcs, []Stage{
		{Name: "distinct", Parallelism: par, New: func(int) (Operator, error) {
			h, err := sketch.NewHLL(12)
			return &Distinct{HLL: h, Pass: true}, err
		}},
		{Name: "fault", Parallelism: par, New: failingOp(&seen, failAt)},
	}, Config{BatchSize: 64, Checkpoint: &CheckpointConfig{Store: store}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trig {
		tr.p = p
	}
	return p
}

func failingOp(seen *atomic.Int64, failAt int64) func(int) (Operator, error) {
	return func(int) (Operator, error) {
		return Stateless(OperatorFunc(func(in, out *Batch) error {
			if n := seen.Add(int64(in.Len())); failAt > 0 && n >= failAt {
				return errInjected
			}
			return pass(true, in, out)
		})), nil
	}
}

// TestRestoreRefusesOtherTopology is the case: a checkpoint taken
// with two sources chained to two Distinct instances, restored into one
// (which dropped instance 1's state without a word) or three (which failed
// with "no such part"), is refused with ErrTopologyMismatch naming the
// difference, before anything is changed.
func TestRestoreRefusesOtherTopology(t *testing.T) {
	store := newMemStore()
	if err := chainedGraph(t, store, 2, 25_000).Run(context.Background()); !errors.Is(err, errInjected) {
		t.Fatalf("failing run: %v", err)
	}
	if _, err := store.Latest(); err != nil {
		t.Fatal(err)
	}
	for _, par := range []int{1, 3} {
		p := chainedGraph(t, store, par, 0)
		before := states(t, p)
		_, err := p.Restore(store)
		t.Logf("parallelism %d: %v", par, err)
		if !errors.Is(err, ErrTopologyMismatch) || !strings.Contains(err.Error(), "sources 2") {
			t.Errorf("restore at parallelism %d: %v; want ErrTopologyMismatch naming the sources", par, err)
		}
		if states(t, p) != before {
			t.Errorf("restore at parallelism %d changed the state before refusing", par)
		}
	}
	// The same shape restores.
	if _, err := chainedGraph(t, store, 2, 0).Restore(store); err != nil {
		t.Errorf("restore at the same parallelism: %v", err)
	}
	// Another operator type is another graph.
	q, err := New(chainedGraph(t, store, 2, 0).sources, []Stage{
		{Name: "distinct", Parallelism: 2, New: func(int) (Operator, error) {
			c, err := sketch.NewCountMinWidthDepth(64, 2)
			return &Frequency{CM: c, Pass: true}, err
		}},
		{Name: "fault", Parallelism: 2, New: failingOp(new(atomic.Int64), 0)},
	}, Config{BatchSize: 64, Checkpoint: &CheckpointConfig{Store: store}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Restore(store); !errors.Is(err, ErrTopologyMismatch) || !strings.Contains(err.Error(), "*pipeline.Frequency") {
		t.Errorf("restore into another operator type: %v; want ErrTopologyMismatch naming it", err)
	}
}

// TestRestoreWithoutTopology: a checkpoint written before topologies were
// recorded restores only into a pipeline whose parts it matches exactly.
func TestRestoreWithoutTopology(t *testing.T) {
	store := newMemStore()
	if err := chainedGraph(t, store, 2, 25_000).Run(context.Background()); !errors.Is(err, errInjected) {
		t.Fatalf("failing run: %v", err)
	}
	for i := range store.published {
		m := &store.published[i]
		for j, part := range m.Parts {
			if part.Name == topologyPart {
				m.Parts = append(m.Parts[:j:j], m.Parts[j+1:]...)
				break
			}
		}
	}
	if _, err := chainedGraph(t, store, 2, 0).Restore(store); err != nil {
		t.Errorf("old checkpoint into the same graph: %v", err)
	}
	for _, par := range []int{1, 3} {
		if _, err := chainedGraph(t, store, par, 0).Restore(store); !errors.Is(err, ErrTopologyMismatch) {
			t.Errorf("old checkpoint into parallelism %d: %v; want ErrTopologyMismatch", par, err)
		}
	}
}

// dealtGraph: two sources dealing batches round-robin to par instances of
// Distinct, then a fault stage and a linear CountMin chained to it: every
// stateful stage is mergeable and sees records regardless of their key, so
// a checkpoint rescales exactly.
func dealtGraph(t testing.TB, store checkpoint.Store, par int, failAt int64, input Partitioning) *Pipeline {
	t.Helper()
	var srcs []Source
	var trig []*triggering
	var seen atomic.Int64
	for i := range 2 {
		gen, err := NewGenerator(GeneratorConfig{Seed: uint64(20 + i), Keys: 40_000, Count: 30_000})
		if err != nil {
			t.Fatal(err)
		}
		tr := &triggering{Generator: gen, every: 4000}
		trig, srcs = append(trig, tr), append(srcs, tr)
	}
	p, err := New(srcs, []Stage{
		{Name: "distinct", Input: input, Parallelism: par, New: func(int) (Operator, error) {
			h, err := sketch.NewHLL(12)
			return &Distinct{HLL: h, Pass: true}, err
		}},
		{Name: "fault", Parallelism: par, New: failingOp(&seen, failAt)},
		{Name: "count", Parallelism: par, New: func(int) (Operator, error) {
			c, err := sketch.NewCountMinWidthDepth(512, 3)
			c.SetConservative(false)
			return &Frequency{CM: c}, err
		}},
	}, Config{BatchSize: 50, Checkpoint: &CheckpointConfig{Store: store}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trig {
		tr.p = p
	}
	return p
}

// merged returns the merged HLL estimate and CountMin bytes of dealtGraph.
func merged(t *testing.T, p *Pipeline) (sketch.Estimate, string) {
	t.Helper()
	h, _ := sketch.NewHLL(12)
	c, _ := sketch.NewCountMinWidthDepth(512, 3)
	c.SetConservative(false)
	if err := QueryAs(p, 0, func(_ int, op *Distinct) error { return h.Merge(op.HLL) }); err != nil {
		t.Fatal(err)
	}
	if err := QueryAs(p, 2, func(_ int, op *Frequency) error { return c.Merge(op.CM) }); err != nil {
		t.Fatal(err)
	}
	enc, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return h.Estimate(), string(enc)
}

// TestRestoreRescalesMergeable: a checkpoint taken at parallelism 2 of a
// round-robin stage restores at parallelism 1 and 3 by merging, and the
// finished run's merged answers equal those of a run that never failed:
// the same distinct estimate, the same CountMin bytes.
func TestRestoreRescalesMergeable(t *testing.T) {
	ref := dealtGraph(t, newMemStore(), 2, 0, RoundRobin)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantEst, wantCM := merged(t, ref)
	for _, par := range []int{1, 2, 3} {
		store := newMemStore()
		if err := dealtGraph(t, store, 2, 35_000, RoundRobin).Run(context.Background()); !errors.Is(err, errInjected) {
			t.Fatalf("failing run: %v", err)
		}
		p := dealtGraph(t, store, par, 0, RoundRobin)
		m, err := p.Restore(store)
		if err != nil {
			t.Fatalf("restore at parallelism %d: %v", par, err)
		}
		if m.ID == 0 {
			t.Fatal("no checkpoint restored")
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if est, cm := merged(t, p); est != wantEst || cm != wantCM {
			t.Errorf("restored at parallelism %d from checkpoint %d: distinct %+v, want %+v; CountMin equal %v", par, m.ID, est, wantEst, cm == wantCM)
		}
	}
}

// TestRestoreRefusesByKeyRescale: by-key state would need key groups.
func TestRestoreRefusesByKeyRescale(t *testing.T) {
	store := newMemStore()
	if err := dealtGraph(t, store, 2, 35_000, ByKey).Run(context.Background()); !errors.Is(err, errInjected) {
		t.Fatalf("failing run: %v", err)
	}
	for _, par := range []int{1, 3} {
		_, err := dealtGraph(t, store, par, 0, ByKey).Restore(store)
		t.Logf("parallelism %d: %v", par, err)
		if !errors.Is(err, ErrTopologyMismatch) || !strings.Contains(err.Error(), "key groups") {
			t.Errorf("by-key restore at parallelism %d: %v; want ErrTopologyMismatch about key groups", par, err)
		}
	}
}

// TestRescaleBeforeByKey: rescaling a round-robin stage changes the
// inputs of the by-key stage after it; a checkpoint whose ordered logs for
// that stage are empty restores exactly, one whose logs hold records is
// refused: never a silent loss.
func TestRescaleBeforeByKey(t *testing.T) {
	build := func(store checkpoint.Store, par int, failAt int64) *Pipeline {
		p := dealtGraph(t, store, par, failAt, RoundRobin)
		// Replace the chained CountMin by a by-key one of fixed
		// parallelism behind a channel.
		q, err := New(p.sources, []Stage{
			p.stages[0], p.stages[1],
			{Name: "count", Input: ByKey, Parallelism: 2, New: p.stages[2].New},
		}, Config{BatchSize: 50, Checkpoint: &CheckpointConfig{Store: store}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range q.sources {
			s.(*triggering).p = q
		}
		return q
	}
	ref := build(newMemStore(), 2, 0)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, want := merged(t, ref)
	restored, refused := 0, 0
	for trial := range int64(12) {
		store := newMemStore()
		if err := build(store, 2, 20_000+2500*trial).Run(context.Background()); !errors.Is(err, errInjected) {
			t.Fatalf("failing run: %v", err)
		}
		for _, par := range []int{1, 3} {
			p := build(store, par, 0)
			_, err := p.Restore(store)
			if errors.Is(err, ErrTopologyMismatch) && strings.Contains(err.Error(), "in flight") {
				refused++
				continue
			}
			if err != nil {
				t.Fatalf("restore at parallelism %d: %v", par, err)
			}
			restored++
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, got := merged(t, p); got != want {
				t.Errorf("trial %d: restored at parallelism %d, CountMin differs from a run without failure", trial, par)
			}
		}
	}
	t.Logf("%d restores, %d refused for records in flight", restored, refused)
	if restored == 0 {
		t.Error("no checkpoint rescaled")
	}
}

// FuzzCheckTopology: whatever a checkpoint's topology part holds, the
// check accepts it or refuses it with ErrTopologyMismatch (or a missing
// part), never panics, and accepts its own topology.
func FuzzCheckTopology(f *testing.F) {
	p := dealtGraph(f, newMemStore(), 2, 0, RoundRobin)
	own := strings.Join(p.topology(), "\n")
	f.Add([]byte(own))
	f.Add([]byte(strings.Replace(own, "parallelism=2", "parallelism=3", -1)))
	f.Add([]byte(strings.Replace(own, "parallelism=2", "parallelism=99999999999", 1)))
	f.Add([]byte(topologyHeader))
	f.Add([]byte(topologyHeader + "\nsources 3\nsource 0 x\nsource 1 x\nsource 2 x"))
	f.Add([]byte(topologyHeader + "\nsources 2"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		store := newMemStore()
		part, _ := store.WritePart(1, topologyPart, data)
		m := checkpoint.Manifest{ID: 1, Parts: []checkpoint.Part{part}}
		_, _, _, err := p.checkTopology(store, m)
		if err != nil && !errors.Is(err, ErrTopologyMismatch) && !errors.Is(err, checkpoint.ErrNoPart) {
			t.Fatalf("undocumented error %v", err)
		}
		if string(data) == own && err != nil {
			t.Fatalf("own topology refused: %v", err)
		}
	})
}
