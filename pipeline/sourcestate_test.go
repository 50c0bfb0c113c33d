package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// spanSource is a StatefulSource, RescalableSource and WakeableSource for
// the tests: it emits keys "k<i>" for i in its spans, in order, and waits
// (until woken) once it has emitted as many as *avail allows. Its state
// is its spans, the first one advanced to the next key due, as uvarint
// pairs.
type spanSource struct {
	spans [][2]int64
	sent  int64
	avail *availability
	wake  chan struct{}
	// stateless makes SourceState fail, for the error test.
	fail error
}

// availability is how many records each source may emit so far; waiters
// wait on its channel.
type availability struct {
	mu sync.Mutex
	n  int64
	ch chan struct{}
}

func newAvailability(n int64) *availability {
	return &availability{n: n, ch: make(chan struct{})}
}

func (a *availability) get() (int64, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n, a.ch
}

func (a *availability) set(n int64) {
	a.mu.Lock()
	a.n = n
	close(a.ch)
	a.ch = make(chan struct{})
	a.mu.Unlock()
}

func newSpanSource(avail *availability, spans ...[2]int64) *spanSource {
	return &spanSource{spans: spans, avail: avail, wake: make(chan struct{}, 1)}
}

func (s *spanSource) Fill(ctx context.Context, b *Batch, max int) error {
	for b.Len() < max {
		for len(s.spans) > 0 && s.spans[0][0] >= s.spans[0][1] {
			s.spans = s.spans[1:]
		}
		if len(s.spans) == 0 {
			return io.EOF
		}
		n, ch := s.avail.get()
		if s.sent < n {
			b.Add(fmt.Appendf(nil, "k%d", s.spans[0][0]))
			s.spans[0][0]++
			s.sent++
			continue
		}
		if b.Len() > 0 {
			return nil
		}
		select {
		case <-ch:
		case <-s.wake:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *spanSource) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *spanSource) SourceState() ([]byte, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	var out []byte
	for _, sp := range s.spans {
		out = binary.AppendUvarint(out, uint64(sp[0]))
		out = binary.AppendUvarint(out, uint64(sp[1]))
	}
	return out, nil
}

func decodeSpans(data []byte) ([][2]int64, error) {
	var spans [][2]int64
	for len(data) > 0 {
		a, n := binary.Uvarint(data)
		if n <= 0 {
			return nil, sketch.ErrCorrupt
		}
		b, m := binary.Uvarint(data[n:])
		if m <= 0 {
			return nil, sketch.ErrCorrupt
		}
		data = data[n+m:]
		spans = append(spans, [2]int64{int64(a), int64(b)})
	}
	return spans, nil
}

func (s *spanSource) RestoreSource(state []byte) error {
	spans, err := decodeSpans(state)
	s.spans = spans
	return err
}

// RedealSources deals the remaining spans round-robin, each cut in m.
func (s *spanSource) RedealSources(states [][]byte, m int) ([][]byte, error) {
	parts := make([][][2]int64, m)
	for _, st := range states {
		spans, err := decodeSpans(st)
		if err != nil {
			return nil, err
		}
		for _, sp := range spans {
			step := (sp[1] - sp[0] + int64(m) - 1) / int64(m)
			for k := range m {
				lo, hi := sp[0]+int64(k)*step, min(sp[0]+int64(k+1)*step, sp[1])
				if lo < hi {
					parts[k] = append(parts[k], [2]int64{lo, hi})
				}
			}
		}
	}
	out := make([][]byte, m)
	for k := range out {
		out[k], _ = (&spanSource{spans: parts[k]}).SourceState()
	}
	return out, nil
}

// recordsIn is the records that entered the operators.
func recordsIn(p *Pipeline) uint64 {
	var n uint64
	for _, op := range p.Metrics().Operators {
		n += op.RecordsIn
	}
	return n
}

// spanGraph is n spanSources over [0, total) in n equal spans, each with a
// Distinct chained to it, checkpointing to store.
func spanGraph(t *testing.T, n int, total int64, avail *availability, store checkpoint.Store, done func(checkpoint.Manifest, error)) (*Pipeline, []*spanSource) {
	return spanGraphOf(t, n, total, avail, store, done, func(s *spanSource) Source { return s })
}

// spanGraphOf is spanGraph with each source wrapped.
func spanGraphOf(t *testing.T, n int, total int64, avail *availability, store checkpoint.Store, done func(checkpoint.Manifest, error), wrap func(*spanSource) Source) (*Pipeline, []*spanSource) {
	t.Helper()
	var srcs []Source
	var ss []*spanSource
	step := total / int64(n)
	for i := range n {
		hi := int64(i+1) * step
		if i == n-1 {
			hi = total
		}
		s := newSpanSource(avail, [2]int64{int64(i) * step, hi})
		srcs, ss = append(srcs, wrap(s)), append(ss, s)
	}
	p, err := New(srcs, []Stage{{Name: "hll", Parallelism: n, New: func(int) (Operator, error) {
		h, err := sketch.NewHLL(12)
		return &Distinct{HLL: h}, err
	}}}, Config{BatchSize: 64, Checkpoint: &CheckpointConfig{Store: store, OnComplete: done}})
	if err != nil {
		t.Fatal(err)
	}
	return p, ss
}

// mergedHLL is the merge of a spanGraph's HLLs, encoded.
func mergedHLL(t *testing.T, p *Pipeline) string {
	t.Helper()
	total, _ := sketch.NewHLL(12)
	if err := p.Query(0, func(_ int, op Operator) error { return total.Merge(op.(*Distinct).HLL) }); err != nil {
		t.Fatal(err)
	}
	enc, err := total.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return string(enc)
}

// checkpointQuiet runs a spanGraph of n sources over [0, total) with half
// of each source's input available, takes a checkpoint once every available record is
// in, and returns the store holding it; the run is then cancelled. The
// checkpoint must complete while the sources wait in Fill for input that
// does not come: only Wake lets their barriers through.
func checkpointQuiet(t *testing.T, n int, total int64) *memStore {
	return checkpointQuietOf(t, n, total, func(s *spanSource) Source { return s })
}

func checkpointQuietOf(t *testing.T, n int, total int64, wrap func(*spanSource) Source) *memStore {
	t.Helper()
	store := newMemStore()
	settled := make(chan error, 4)
	avail := newAvailability(total / int64(2*n))
	p, _ := spanGraphOf(t, n, total, avail, store, func(_ checkpoint.Manifest, err error) { settled <- err }, wrap)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v, want context.Canceled", err)
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for recordsIn(p) < uint64(total/2) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records in", recordsIn(p), total/2)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := p.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-settled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a checkpoint on quiet sources did not complete in 60 s: the sources were not woken")
	}
	return store
}

// TestWakeQuietSourceCheckpoint: a checkpoint triggered while every
// source waits in Fill for input completes (Wake), and resuming from it
// over the whole input loses and repeats no record: the merged state
// equals an uninterrupted run's, byte for byte.
func TestWakeQuietSourceCheckpoint(t *testing.T) {
	const total = 6000
	ref, _ := spanGraph(t, 2, total, newAvailability(total), newMemStore(), nil)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)
	store := checkpointQuiet(t, 2, total)
	m, err := store.Latest()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		data, err := store.ReadPart(m, partName(srcStateKind, i, -1))
		if err != nil {
			t.Fatal(err)
		}
		spans, err := decodeSpans(data)
		lo := int64(i) * total / 2
		if err != nil || len(spans) != 1 || spans[0] != [2]int64{lo + total/4, lo + total/2} {
			t.Errorf("source %d saved %v (%v); want the last quarter of its span", i, spans, err)
		}
	}
	p, _ := spanGraph(t, 2, total, newAvailability(total), newMemStore(), nil)
	if _, err := p.Restore(store); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := states(t, p); got != want {
		t.Error("resumed run's state differs from an uninterrupted run's")
	}
}

// TestRedealSources: a checkpoint taken with 2 sources restores into 1
// and into 3 (RescalableSource), the sketch stage merged into instance 0:
// the merged HLL equals an uninterrupted run's, byte for byte.
func TestRedealSources(t *testing.T) {
	const total = 6000
	ref, _ := spanGraph(t, 2, total, newAvailability(total), newMemStore(), nil)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := mergedHLL(t, ref)
	store := checkpointQuiet(t, 2, total)
	for _, m := range []int{1, 3} {
		t.Run(fmt.Sprintf("to=%d", m), func(t *testing.T) {
			p, ss := spanGraph(t, m, total, newAvailability(total), newMemStore(), nil)
			if _, err := p.Restore(store); err != nil {
				t.Fatal(err)
			}
			var left int64
			for _, s := range ss {
				for _, sp := range s.spans {
					left += sp[1] - sp[0]
				}
			}
			if left != total/2 {
				t.Errorf("restored sources hold %d records, want %d", left, total/2)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := mergedHLL(t, p); got != want {
				t.Error("rescaled run's merged HLL differs from an uninterrupted run's")
			}
		})
	}
}

// notRescalable is a spanSource that cannot deal its states.
type notRescalable struct{ WakeableSource }

func (s notRescalable) SourceState() ([]byte, error) {
	return s.WakeableSource.(*spanSource).SourceState()
}

func (s notRescalable) RestoreSource(state []byte) error {
	return s.WakeableSource.(*spanSource).RestoreSource(state)
}

// TestRedealSourcesRefused: another number of sources is refused before
// anything changes, naming the reason, when the sources cannot deal their
// states (not RescalableSource) or when a stage's state does not merge.
func TestRedealSourcesRefused(t *testing.T) {
	wrap := func(s *spanSource) Source { return notRescalable{s} }
	store := checkpointQuietOf(t, 2, 2000, wrap)
	p, _ := spanGraphOf(t, 3, 2000, newAvailability(0), newMemStore(), nil, wrap)
	_, err := p.Restore(store)
	if !errors.Is(err, ErrTopologyMismatch) || !strings.Contains(err.Error(), "cannot deal its states") {
		t.Errorf("unrescalable sources: %v", err)
	}

	store = checkpointQuiet(t, 2, 2000)
	var srcs []Source
	for range 3 {
		srcs = append(srcs, newSpanSource(newAvailability(0)))
	}
	p, err = New(srcs, []Stage{{Name: "hll", Parallelism: 3, New: func(int) (Operator, error) {
		h, err := sketch.NewHLL(12)
		return unmergeable{&Distinct{HLL: h}}, err
	}}}, Config{Checkpoint: &CheckpointConfig{Store: newMemStore()}})
	if err != nil {
		t.Fatal(err)
	}
	before := states(t, p)
	_, err = p.Restore(store)
	if !errors.Is(err, ErrTopologyMismatch) || !strings.Contains(err.Error(), "parallelism=2") {
		t.Errorf("stage that does not merge: %v", err)
	}
	if states(t, p) != before {
		t.Error("a refused restore changed the state")
	}
}

// unmergeable is a Distinct that is Stateful but not Mergeable.
type unmergeable struct{ d *Distinct }

func (u unmergeable) Process(in, out *Batch) error      { return u.d.Process(in, out) }
func (u unmergeable) MarshalBinary() ([]byte, error)    { return u.d.MarshalBinary() }
func (u unmergeable) UnmarshalBinary(data []byte) error { return u.d.UnmarshalBinary(data) }

// TestSourceStateError: a source whose SourceState fails fails the run,
// naming it.
func TestSourceStateError(t *testing.T) {
	errState := errors.New("no state")
	store := newMemStore()
	avail := newAvailability(100)
	s := newSpanSource(avail, [2]int64{0, 200})
	s.fail = errState
	p, err := New([]Source{s}, []Stage{{Name: "hll", New: func(int) (Operator, error) {
		h, err := sketch.NewHLL(12)
		return &Distinct{HLL: h}, err
	}}}, Config{Checkpoint: &CheckpointConfig{Store: store}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	for recordsIn(p) < 100 {
		time.Sleep(time.Millisecond)
	}
	if _, err := p.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, errState) || !strings.Contains(err.Error(), "source 0") {
			t.Errorf("run: %v, want the source's error naming it", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("run did not fail")
	}
}

// TestRedealSourcesRefusesShedderState: sources with shedders that keep
// state (what they shed, the keep probability) do not rescale: that state
// is its source's and would be lost or made up.
func TestRedealSourcesRefusesShedderState(t *testing.T) {
	graph := func(n int) *Pipeline {
		var srcs []Source
		for range n {
			srcs = append(srcs, newSpanSource(newAvailability(0)))
		}
		p, err := New(srcs, []Stage{{Name: "hll", Parallelism: n, New: func(int) (Operator, error) {
			h, err := sketch.NewHLL(12)
			return &Distinct{HLL: h}, err
		}}}, Config{NewShedder: func(int) Shedder { return &countingShedder{} }, Checkpoint: &CheckpointConfig{Store: newMemStore()}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	store := newMemStore()
	part, _ := store.WritePart(1, topologyPart, []byte(strings.Join(graph(2).topology(), "\n")))
	_, _, _, err := graph(3).checkTopology(store, checkpoint.Manifest{ID: 1, Parts: []checkpoint.Part{part}})
	if !errors.Is(err, ErrTopologyMismatch) || !strings.Contains(err.Error(), "shedders whose state") {
		t.Errorf("stateful shedders: %v", err)
	}
}
