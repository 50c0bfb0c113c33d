package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// seqHash is an order-sensitive Stateful operator: its state hashes the
// sequence of keys it saw, so equal states mean equal order.
type seqHash struct{ h, n uint64 }

func (f *seqHash) Process(in, out *Batch) error {
	for i := range in.Records {
		f.h = (f.h^in.Records[i].Hash)*0x100000001b3 + 1
		f.n++
		out.AddRecord(in, i)
	}
	return nil
}

func (f *seqHash) MarshalBinary() ([]byte, error) {
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, f.h), f.n), nil
}

func (f *seqHash) UnmarshalBinary(b []byte) error {
	if len(b) != 16 {
		return errors.New("seqHash: bad state")
	}
	f.h, f.n = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	return nil
}

// orderedGraph: three sources of different lengths, by key to two
// instances (each with three inputs, taken in strict turn) of an
// order-sensitive chain (sequence hash, TopK), then by key again to two
// more (inputs from an ordered stage). every > 0 asks for a checkpoint
// every that many records of each source, at different offsets per
// source; failAt > 0 fails the run there.
func orderedGraph(t testing.TB, store checkpoint.Store, every, failAt int64, atLeastOnce bool) *Pipeline {
	var srcs []Source
	var trig []*triggering
	for i := range int64(3) {
		gen, err := NewGenerator(GeneratorConfig{Seed: 7, Keys: 3000, Count: 9000 + 4000*i})
		if err != nil {
			t.Fatal(err)
		}
		_ = gen.SetPosition(1000 * i)
		tr := &triggering{Generator: gen, every: 1 << 40}
		if every > 0 {
			tr.every = every + 37*i
		}
		trig, srcs = append(trig, tr), append(srcs, tr)
	}
	var seen atomic.Int64
	topk := func(int) (Operator, error) {
		k, err := sketch.NewTopK(40)
		return &HeavyHitters{TopK: k, Pass: true}, err
	}
	cfg := Config{BatchSize: 40}
	if store != nil {
		cfg.Checkpoint = &CheckpointConfig{Store: store, AtLeastOnce: atLeastOnce}
	}
	p, err := New(srcs, []Stage{
		{Name: "seq", Input: ByKey, Parallelism: 2, New: func(int) (Operator, error) { return &seqHash{}, nil }},
		{Name: "top", Parallelism: 2, New: topk},
		{Name: "fault", Parallelism: 2, New: failingOp(&seen, failAt)},
		{Name: "seq2", Input: ByKey, Parallelism: 2, New: func(int) (Operator, error) { return &seqHash{}, nil }},
		{Name: "top2", Parallelism: 2, New: topk},
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trig {
		tr.p = p
	}
	return p
}

// TestCheckpointsKeepOrder: checkpoints at any interval leave the state of
// operators with several inputs byte-identical to a run without
// checkpoints (they used to change the interleaving of the inputs, so
// TopK's bytes differed run to run).
func TestCheckpointsKeepOrder(t *testing.T) {
	ref := orderedGraph(t, nil, 0, 0, false)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)
	for _, every := range []int64{150, 700, 2500} {
		for _, alo := range []bool{false, true} {
			t.Run(fmt.Sprintf("every=%d,atLeastOnce=%v", every, alo), func(t *testing.T) {
				p := orderedGraph(t, newMemStore(), every, 0, alo)
				if err := p.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				if p.CheckpointStats().Completed == 0 {
					t.Fatal("no checkpoint completed")
				}
				if got := states(t, p); got != want {
					t.Errorf("state after %d checkpoints differs from a run without", p.CheckpointStats().Completed)
				}
			})
		}
	}
}

// TestCrashEquivalenceOrdered: recovery from any checkpoint of an ordered
// graph ends in the same bytes as a run that never failed.
func TestCrashEquivalenceOrdered(t *testing.T) {
	ref := orderedGraph(t, nil, 0, 0, false)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)
	trials := 40
	if testing.Short() {
		trials = 8
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range trials {
		failAt := 1 + rng.Int64N(38000)
		every := 100 + rng.Int64N(3000)
		store := newMemStore()
		if err := orderedGraph(t, store, every, failAt, false).Run(context.Background()); !errors.Is(err, errInjected) {
			t.Fatalf("trial %d: failing run returned %v", trial, err)
		}
		p := orderedGraph(t, store, every, 0, false)
		m, err := p.Restore(store)
		if err != nil && !errors.Is(err, checkpoint.ErrNoCheckpoint) {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := states(t, p); got != want {
			t.Fatalf("trial %d (checkpoint every %d, failure at record %d, restored %d): recovered state differs", trial, every, failAt, m.ID)
		}
	}
}

// FuzzDecodeOrder: an ordered log decodes or fails with an envelope
// error, never panics, and what decodes encodes back to the same records.
func FuzzDecodeOrder(f *testing.F) {
	var l orderLog
	l.start(1, 3)
	var b Batch
	b.Add([]byte("alpha"))
	b.Add([]byte(""))
	l.add(0, &b)
	l.add(2, &b)
	l.add(2, new(Batch))
	enc := l.encode()
	f.Add(enc)
	f.Add(enc[:len(enc)-3])
	f.Add([]byte{0, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeOrder(data)
		if err != nil {
			if !envelope.IsDecodeError(err) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		var again orderLog
		again.start(st.turn, len(st.pending))
		for i, q := range st.pending {
			for _, b := range q {
				again.add(i, b)
			}
		}
		st2, err := decodeOrder(again.encode())
		if err != nil || len(st2.pending) != len(st.pending) || st2.turn != st.turn {
			t.Fatalf("re-encoded log: %v", err)
		}
	})
}

// TestOrderLogIntoUnordered: a checkpoint whose ordered logs hold records
// restores into the same graph with Config.Unordered set, and no record
// is lost or counted twice (the logs are processed first).
func TestOrderLogIntoUnordered(t *testing.T) {
	count := func(p *Pipeline, s int) uint64 {
		var n uint64
		if err := QueryAs(p, s, func(_ int, op *seqHash) error { n += op.n; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ref := orderedGraph(t, nil, 0, 0, false)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	logged := 0
	for trial := int64(0); trial < 20 && logged < 3; trial++ {
		store := newMemStore()
		if err := orderedGraph(t, store, 300+trial*41, 20_000+trial*500, false).Run(context.Background()); !errors.Is(err, errInjected) {
			t.Fatalf("failing run: %v", err)
		}
		m, err := store.Latest()
		if err != nil {
			t.Fatal(err)
		}
		hasLog := false
		for _, part := range m.Parts {
			hasLog = hasLog || isOrderLog(part.Name) && part.Size > 4
		}
		if !hasLog {
			continue
		}
		logged++
		p := orderedGraph(t, store, 0, 0, false)
		for _, sg := range p.segs {
			sg.unordered = true
		}
		if _, err := p.Restore(store); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, s := range []int{0, 3} {
			if got, want := count(p, s), count(ref, s); got != want {
				t.Errorf("stage %d counted %d records after restoring checkpoint %d unordered, want %d", s, got, m.ID, want)
			}
		}
	}
	if logged == 0 {
		t.Fatal("no checkpoint held an ordered log")
	}
}

// TestCheckpointsKeepOrderFanOut: the same through a fan-out, whose
// branches take their by-key inputs in turn.
func TestCheckpointsKeepOrderFanOut(t *testing.T) {
	build := func(store checkpoint.Store, every int64) *Pipeline {
		base := orderedGraph(t, nil, every, 0, false)
		topk := func(int) (Operator, error) {
			k, err := sketch.NewTopK(40)
			return &HeavyHitters{TopK: k, Pass: true}, err
		}
		seq := func(int) (Operator, error) { return &seqHash{}, nil }
		cfg := Config{BatchSize: 40}
		if store != nil {
			cfg.Checkpoint = &CheckpointConfig{Store: store}
		}
		p, err := New(base.sources, []Stage{{Name: "fan", Branches: []Branch{
			{Name: "same", Stages: []Stage{
				{Name: "seq", Input: ByKey, Parallelism: 2, New: seq},
				{Name: "top", Parallelism: 2, New: topk},
			}},
			{Name: "suffix", Key: func(k []byte, _ *Record) ([]byte, bool) { return k[len(k)/2:], len(k) > 1 }, Stages: []Stage{
				{Name: "seq", Input: ByKey, Parallelism: 3, New: seq},
				{Name: "top", Parallelism: 3, New: topk},
			}},
		}}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.sources {
			s.(*triggering).p = p
		}
		return p
	}
	ref := build(nil, 0)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := states(t, ref)
	for _, every := range []int64{200, 1500} {
		p := build(newMemStore(), every)
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if p.CheckpointStats().Completed == 0 {
			t.Fatal("no checkpoint completed")
		}
		if got := states(t, p); got != want {
			t.Errorf("checkpoints every %d records: state after %d checkpoints differs from a run without", every, p.CheckpointStats().Completed)
		}
	}
}
