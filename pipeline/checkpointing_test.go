package pipeline

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// memStore is an in-memory checkpoint.Store; failPart, if set, makes
// WritePart fail for the parts it matches, like a full disk.
type memStore struct {
	mu        sync.Mutex
	parts     map[uint64]map[string][]byte
	published []checkpoint.Manifest
	failPart  func(id uint64, name string) error
}

func newMemStore() *memStore { return &memStore{parts: map[uint64]map[string][]byte{}} }

func (s *memStore) WritePart(id uint64, name string, data []byte) (checkpoint.Part, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPart != nil {
		if err := s.failPart(id, name); err != nil {
			return checkpoint.Part{}, err
		}
	}
	if s.parts[id] == nil {
		s.parts[id] = map[string][]byte{}
	}
	s.parts[id][name] = slices.Clone(data)
	return checkpoint.Part{Name: name, Size: int64(len(data))}, nil
}

func (s *memStore) Publish(m checkpoint.Manifest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortFunc(m.Parts, func(a, b checkpoint.Part) int { return strings.Compare(a.Name, b.Name) })
	s.published = append(s.published, m)
	return nil
}

func (s *memStore) Abort(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.parts, id)
	return nil
}

func (s *memStore) Latest() (checkpoint.Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.published) == 0 {
		return checkpoint.Manifest{}, checkpoint.ErrNoCheckpoint
	}
	return s.published[len(s.published)-1], nil
}

func (s *memStore) ReadPart(m checkpoint.Manifest, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.parts[m.ID][name]
	if !ok {
		return nil, checkpoint.ErrNoPart
	}
	return d, nil
}

// triggering wraps a source and asks for a checkpoint every `every`
// records, so tests checkpoint at known points without sleeping.
type triggering struct {
	*Generator
	p     *Pipeline
	every int64
	next  int64
	// settled, if set, gets a value when a checkpoint completes or fails:
	// the source then waits, at the Fill after a trigger (its barrier is
	// injected by then), for that checkpoint to settle, so that every
	// trigger point gets its checkpoint however slow the machine is.
	settled chan struct{}
	waiting bool
}

func (s *triggering) Fill(ctx context.Context, b *Batch, max int) error {
	if s.waiting {
		select {
		case <-s.settled:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.waiting = false
	}
	if pos := s.Position(); pos >= s.next {
		// Busy (the last checkpoint has not finished): try again at the
		// next Fill, not every records on, or a fast source can run
		// through all of its trigger points during one slow checkpoint
		// (TestUnalignedCheckpoint then saw one checkpoint in all, with
		// GOMAXPROCS 4 on 2 cores).
		if _, err := s.p.Checkpoint(); err == nil {
			s.next = pos + s.every
			s.waiting = s.settled != nil
		}
	}
	return s.Generator.Fill(ctx, b, min(max, 97))
}

var errInjected = errors.New("injected failure")

// crashTrials is the number of failure points TestCrashEquivalence tries:
// go test -run TestCrashEquivalence ./pipeline/ -crash-trials 5000.
var crashTrials = flag.Int("crash-trials", 200, "failure points for TestCrashEquivalence")

// crashGraph is one source, by key to three instances, each a chain of HLL,
// CountMin, TopK and reservoir operators; failAt > 0 makes the pipeline
// fail when that many records have reached the fault operator.
func crashGraph(t testing.TB, store checkpoint.Store, failAt int64) *Pipeline {
	return crashGraphSettled(t, store, failAt, nil)
}

// crashGraphEach is crashGraph whose source waits for each checkpoint it
// triggers to complete or fail before it reads on, so that every trigger
// point gets its checkpoint however slow or loaded the machine is (a fast
// source would otherwise run through several of them during one
// checkpoint). It sets the checkpoint config's OnComplete.
func crashGraphEach(t testing.TB, store checkpoint.Store) *Pipeline {
	settled := make(chan struct{}, 1)
	p := crashGraphSettled(t, store, 0, settled)
	p.coord.cfg.OnComplete = func(checkpoint.Manifest, error) { settled <- struct{}{} }
	return p
}

// crashGraphSettled is crashGraph with a source that waits for each
// checkpoint it triggers to settle (see triggering).
func crashGraphSettled(t testing.TB, store checkpoint.Store, failAt int64, settled chan struct{}) *Pipeline {
	gen, err := NewGenerator(GeneratorConfig{Seed: 11, Keys: 5000, Count: 20000})
	if err != nil {
		t.Fatal(err)
	}
	src := &triggering{Generator: gen, every: 1500, settled: settled}
	var seen atomic.Int64
	stages := []Stage{
		{Name: "hll", Input: ByKey, Parallelism: 3, New: func(int) (Operator, error) {
			h, err := sketch.NewHLL(10)
			return &Distinct{HLL: h, Pass: true}, err
		}},
		{Name: "fault", Parallelism: 3, New: func(int) (Operator, error) {
			return Stateless(OperatorFunc(func(in, out *Batch) error {
				if n := seen.Add(int64(in.Len())); failAt > 0 && n >= failAt {
					return errInjected
				}
				return pass(true, in, out)
			})), nil
		}},
		{Name: "cm", Parallelism: 3, New: func(int) (Operator, error) {
			c, err := sketch.NewCountMinWidthDepth(256, 3)
			return &Frequency{CM: c, Pass: true}, err
		}},
		{Name: "top", Parallelism: 3, New: func(int) (Operator, error) {
			k, err := sketch.NewTopK(50)
			return &HeavyHitters{TopK: k, Pass: true}, err
		}},
		{Name: "sample", Parallelism: 3, New: func(i int) (Operator, error) {
			r, err := sampling.NewReservoir[[]byte](20, uint64(i))
			return &Sample{Reservoir: r}, err
		}},
	}
	p, err := New([]Source{src}, stages, Config{BatchSize: 64, Checkpoint: &CheckpointConfig{Store: store}})
	if err != nil {
		t.Fatal(err)
	}
	src.p = p
	return p
}

// states returns every Stateful instance's encoding.
func states(t testing.TB, p *Pipeline) string {
	var b strings.Builder
	for s := range p.ops {
		for i, op := range p.Operators(s) {
			if st, ok := op.(Stateful); ok {
				enc, err := st.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "%d/%d:%x\n", s, i, enc)
			}
		}
	}
	return b.String()
}

// TestCrashEquivalence fails the pipeline at many random points, recovers
// from the last checkpoint and runs to the end: the final state must equal,
// byte for byte, that of a run that never failed. The reference run waits
// for each checkpoint it triggers (crashGraphEach), so that it completes
// as many however loaded the machine (13, in every run seen): with
// crashGraph's source, which tries a busy checkpoint again at its next
// Fill, it completed 4 (under 5, a failure) in 1 of 600 runs of go test
// -race -short -run TestCrashEquivalence -count 100 -cpu 1,2,4, two at
// once, at load 9-14.
func TestCrashEquivalence(t *testing.T) {
	ref := crashGraphEach(t, newMemStore())
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)
	if ref.CheckpointStats().Completed < 5 {
		t.Fatalf("reference run completed %d checkpoints", ref.CheckpointStats().Completed)
	}
	trials := *crashTrials
	if testing.Short() {
		trials = min(trials, 20)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	recoverTrials(t, trials, func() int64 { return 1 + rng.Int64N(20000) }, crashGraph, want, "state after recovery differs")
}

// recoverTrials fails a run of build at record failPoint(), trials times,
// then restores a fresh graph from what the failed run stored and runs it
// to the end: its states must be want (what says how they differ). At
// least half the trials must recover from a checkpoint.
func recoverTrials(t *testing.T, trials int, failPoint func() int64, build func(testing.TB, checkpoint.Store, int64) *Pipeline, want, what string) {
	t.Helper()
	restored := 0
	for trial := range trials {
		failAt := failPoint()
		store := newMemStore()
		if err := build(t, store, failAt).Run(context.Background()); !errors.Is(err, errInjected) {
			t.Fatalf("trial %d: failing run returned %v", trial, err)
		}
		p := build(t, store, 0)
		m, err := p.Restore(store)
		if err == nil {
			restored++
		} else if !errors.Is(err, checkpoint.ErrNoCheckpoint) {
			t.Fatalf("trial %d: restore: %v", trial, err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatalf("trial %d: recovered run: %v", trial, err)
		}
		if got := states(t, p); got != want {
			t.Fatalf("trial %d (failure at record %d, restored checkpoint %d of %d published): %s from a run without failure, in %s",
				trial, failAt, m.ID, len(store.published), what, diffLines(got, want))
		}
	}
	if restored < trials/2 {
		t.Errorf("only %d of %d trials recovered from a checkpoint", restored, trials)
	}
}

// diffLines names the lines of states' output (stage/instance:state)
// whose states differ between got and want.
func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var names []string
	for i := range max(len(g), len(w)) {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			name := "line " + fmt.Sprint(i)
			if i < len(w) {
				name, _, _ = strings.Cut(w[i], ":")
			}
			names = append(names, name)
		}
	}
	return "operators " + strings.Join(names, ", ")
}

// TestCheckpointFullDisk: a checkpoint whose part cannot be written fails,
// is counted, and neither stops the job nor harms earlier checkpoints.
func TestCheckpointFullDisk(t *testing.T) {
	store := newMemStore()
	store.failPart = func(id uint64, name string) error {
		if id == 3 {
			return fmt.Errorf("write %s: %w", name, syscall.ENOSPC)
		}
		return nil
	}
	var failed []error
	settled := make(chan struct{}, 1)
	p := crashGraphSettled(t, store, 0, settled)
	p.coord.cfg.OnComplete = func(m checkpoint.Manifest, err error) {
		if err != nil {
			failed = append(failed, err)
		}
		settled <- struct{}{}
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("the job failed with its checkpoint: %v", err)
	}
	st := p.CheckpointStats()
	if st.Failed != 1 || len(failed) != 1 || !errors.Is(failed[0], syscall.ENOSPC) || !errors.Is(st.LastError, syscall.ENOSPC) {
		t.Errorf("stats %+v, reported %v; want one failed checkpoint with ENOSPC", st, failed)
	}
	// Checkpoints go on after the failed one: every trigger point (the
	// source waits for each checkpoint to settle) gets one.
	after := 0
	for _, m := range store.published {
		if m.ID == 3 {
			t.Error("the failed checkpoint was published")
		}
		if m.ID > 3 {
			after++
		}
	}
	if want := 20000/1500 - 3; after < want {
		t.Errorf("%d checkpoints completed after the failed one, want %d (stats %+v)", after, want, st)
	}
}

// alignedGraph: two sources, by key to two instances counting in plain
// CountMin and HLL: order-insensitive state, so recovery must give the same
// bytes whatever the interleaving, and any record counted twice or lost
// shows. Exactly-once needs the alignment.
func alignedGraph(t testing.TB, store checkpoint.Store, failAt int64, atLeastOnce bool) *Pipeline {
	var srcs []Source
	var trig []*triggering
	for i := range int64(2) {
		gen, err := NewGenerator(GeneratorConfig{Seed: 3, Keys: 3000, Count: 10000 * (i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		_ = gen.SetPosition(10000 * i)
		tr := &triggering{Generator: gen, every: 700 + 300*i}
		trig = append(trig, tr)
		srcs = append(srcs, tr)
	}
	var seen atomic.Int64
	p, err := New(srcs, []Stage{
		{Name: "count", Input: ByKey, Parallelism: 2, New: func(int) (Operator, error) {
			c, err := sketch.NewCountMinWidthDepth(512, 3)
			c.SetConservative(false)
			return &Frequency{CM: c, Pass: true}, err
		}},
		{Name: "fault", Parallelism: 2, New: func(int) (Operator, error) {
			return Stateless(OperatorFunc(func(in, out *Batch) error {
				if n := seen.Add(int64(in.Len())); failAt > 0 && n >= failAt {
					return errInjected
				}
				return pass(true, in, out)
			})), nil
		}},
		{Name: "hll", Parallelism: 2, New: func(int) (Operator, error) {
			h, err := sketch.NewHLL(12)
			return &Distinct{HLL: h}, err
		}},
	}, Config{BatchSize: 50, Unordered: true, Checkpoint: &CheckpointConfig{Store: store, AtLeastOnce: atLeastOnce}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trig {
		tr.p = p
	}
	return p
}

func TestCrashEquivalenceAligned(t *testing.T) {
	ref := alignedGraph(t, newMemStore(), 0, false)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)
	trials := 100
	if testing.Short() {
		trials = 10
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range trials {
		failAt := 1 + rng.Int64N(20000)
		store := newMemStore()
		if err := alignedGraph(t, store, failAt, false).Run(context.Background()); !errors.Is(err, errInjected) {
			t.Fatalf("trial %d: failing run returned %v", trial, err)
		}
		p := alignedGraph(t, store, 0, false)
		if _, err := p.Restore(store); err != nil && !errors.Is(err, checkpoint.ErrNoCheckpoint) {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := states(t, p); got != want {
			t.Fatalf("trial %d (failure at record %d): recovered state differs", trial, failAt)
		}
	}
}

// gated holds its source back at position `at` until release is closed.
// With trigger set, once there it first triggers a checkpoint itself (at
// each Fill, returning no records, until none is in progress) and closes
// triggered: the source cannot inject that checkpoint's barrier before
// this Fill returns, so the barrier comes after the records it returns
// once released.
type gated struct {
	*triggering
	at        int64
	release   chan struct{}
	trigger   bool
	triggered chan struct{}
}

func (s *gated) Fill(ctx context.Context, b *Batch, max int) error {
	if s.release != nil && s.Position() >= s.at {
		if s.trigger {
			if _, err := s.p.Checkpoint(); err != nil {
				return nil // busy: its barrier goes first, then we try again
			}
			s.trigger = false
			close(s.triggered)
		}
		select {
		case <-s.release:
			s.release = nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.triggering.Fill(ctx, b, max)
}

// unalignedGraph: like alignedGraph, with an alignment timeout. With
// release set, source 1 stops at record 300 of its share, triggers a
// checkpoint there and waits until release is closed, and source 0 waits
// at record 5000 of its 10000 until that checkpoint is triggered (were it
// to finish first, no checkpoint could start).
func unalignedGraph(t testing.TB, store checkpoint.Store, failAt int64, release chan struct{}) *Pipeline {
	p := alignedGraph(t, store, failAt, false)
	p.coord.cfg.AlignmentTimeout = 20 * time.Millisecond
	p.coord.cfg.Interval = 0
	tr := p.sources[1].(*triggering)
	tr.every = 1 << 40 // only source 0 triggers
	p.sources[0].(*triggering).every = 200
	// Both gated always: a checkpoint names its sources' types.
	src0 := &gated{triggering: p.sources[0].(*triggering)}
	src1 := &gated{triggering: tr}
	if release != nil {
		src1.at, src1.release, src1.trigger, src1.triggered = 10300, release, true, make(chan struct{})
		src0.at, src0.release = 5000, src1.triggered
	}
	p.sources[0], p.sources[1] = src0, src1
	return p
}

// TestUnalignedCheckpoint stalls one input so that alignment times out: the
// checkpoint goes unaligned, stores the batches in flight, and recovery from
// it is still exactly-once. The stalled source triggers the checkpoint
// itself and is released only once an instance has gone unaligned on it,
// so the records it sends before its barrier are in flight whatever the
// scheduling (releasing it at any unaligned checkpoint, one that a loaded
// machine made unaligned before the stall with nothing in flight, failed
// at load 10-17).
func TestUnalignedCheckpoint(t *testing.T) {
	ref := unalignedGraph(t, newMemStore(), 0, nil)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)

	store := newMemStore()
	release := make(chan struct{})
	p := unalignedGraph(t, store, 16000, release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-p.sources[1].(*gated).triggered:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("the stalled source triggered no checkpoint: %v, %+v", <-done, p.CheckpointStats())
	}
	// Every earlier checkpoint completed before this one could start, so
	// an instance going unaligned now goes unaligned on this one.
	before := p.CheckpointStats().Unaligned
	deadline := time.Now().Add(10 * time.Second)
	for p.CheckpointStats().Unaligned == before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	close(release)
	if err := <-done; !errors.Is(err, errInjected) {
		t.Fatalf("failing run: %v", err)
	}
	if st := p.CheckpointStats(); st.Unaligned == 0 {
		t.Fatalf("no instance went unaligned: %+v", st)
	}
	// Recover from the unaligned checkpoint: forget the later ones.
	found := false
	for i, m := range store.published {
		for _, part := range m.Parts {
			if isInflight(part.Name) && part.Size > 0 && !found {
				store.published, found = store.published[:i+1], true
			}
		}
	}
	if !found {
		t.Fatalf("no checkpoint stores in-flight records: %+v", store.published)
	}
	q := unalignedGraph(t, store, 0, nil)
	if _, err := q.Restore(store); err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if states(t, q) != want {
		t.Error("state after recovery from an unaligned checkpoint differs from a run without failure")
	}
}

// countingShedder keeps everything and counts its calls; its count is its
// checkpointed state.
type countingShedder struct{ calls uint64 }

func (s *countingShedder) Shed(b *Batch, now time.Time, p Pressure) { s.calls++ }

func (s *countingShedder) MarshalBinary() ([]byte, error) {
	return fmt.Appendf(nil, "%d", s.calls), nil
}

func (s *countingShedder) UnmarshalBinary(b []byte) error {
	_, err := fmt.Sscanf(string(b), "%d", &s.calls)
	return err
}

func TestCheckpointIncludesShedderState(t *testing.T) {
	store := newMemStore()
	build := func(failAt int64) (*Pipeline, *countingShedder) {
		p := crashGraph(t, store, failAt)
		sh := new(countingShedder)
		p.sheds = []Shedder{sh}
		return p, sh
	}
	p, _ := build(9000)
	if err := p.Run(context.Background()); !errors.Is(err, errInjected) {
		t.Fatal(err)
	}
	m, err := store.Latest()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := store.ReadPart(m, "shed-0")
	if err != nil {
		t.Fatalf("checkpoint %d has no shedder state: %v", m.ID, err)
	}
	q, sh := build(0)
	if _, err := q.Restore(store); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sh.calls); got != string(saved) || sh.calls == 0 {
		t.Errorf("restored shedder state %s, saved %s", got, saved)
	}
}

// TestRepeatedCrashes fails a job again and again, each time recovering
// from the newest checkpoint in a DirStore: the numbering goes on after the
// restored checkpoint (an older number would overwrite the parts of a
// published one), every recovery starts at least where the last left off,
// and the final state equals that of a run without failure.
func TestRepeatedCrashes(t *testing.T) {
	ref := crashGraph(t, newMemStore(), 0)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)

	store, err := checkpoint.NewDirStore(t.TempDir(), 2, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	var lastID uint64
	for crash := range 4 {
		p := crashGraph(t, store, 4000)
		m, err := p.Restore(store)
		switch {
		case crash == 0 && errors.Is(err, checkpoint.ErrNoCheckpoint):
		case err != nil:
			t.Fatalf("crash %d: restore: %v", crash, err)
		case m.ID <= lastID:
			t.Fatalf("crash %d: restored checkpoint %d, not newer than %d", crash, m.ID, lastID)
		}
		lastID = m.ID
		if err := p.Run(context.Background()); !errors.Is(err, errInjected) {
			t.Fatalf("crash %d: run returned %v", crash, err)
		}
	}
	p := crashGraph(t, store, 0)
	if _, err := p.Restore(store); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := states(t, p); got != want {
		t.Fatal("state after four crashes and recoveries differs from a run without failure")
	}
}

// TestCheckpointReady: while CheckpointConfig.Ready is false no
// checkpoint starts (Checkpoint says ErrCheckpointBusy) and none is
// published; once it is true they come. The source asks for one every
// 1500 of its 20000 records.
func TestCheckpointReady(t *testing.T) {
	for _, readyAfter := range []int64{-1, 0, 3} {
		t.Run(fmt.Sprintf("readyAfter=%d", readyAfter), func(t *testing.T) {
			store := newMemStore()
			p := crashGraphEach(t, store)
			var asked atomic.Int64
			p.coord.cfg.Ready = func() bool { return asked.Add(1) > readyAfter && readyAfter >= 0 }
			if readyAfter < 0 {
				if _, err := p.Checkpoint(); !errors.Is(err, ErrCheckpointBusy) {
					t.Fatalf("Checkpoint while not ready: %v, want ErrCheckpointBusy", err)
				}
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := p.CheckpointStats()
			switch {
			case readyAfter < 0 && (len(store.published) != 0 || st.Completed+st.Failed+st.Abandoned != 0 || asked.Load() < 2):
				t.Errorf("never ready: %d published, stats %+v, Ready asked %d times", len(store.published), st, asked.Load())
			case readyAfter >= 0 && (st.Completed < 2 || len(store.published) != int(st.Completed)):
				t.Errorf("ready after %d asks: %d published, stats %+v; want checkpoints", readyAfter, len(store.published), st)
			}
		})
	}
}
