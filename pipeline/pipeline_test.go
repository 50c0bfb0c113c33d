package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/streamstat/streamstat/sketch"
)

// keySource replays keys[from:to], like a tiny deterministic source.
type keySource struct {
	keys     [][]byte
	pos, end int
}

func newKeySource(keys [][]byte, from, to int) *keySource {
	return &keySource{keys: keys, pos: from, end: to}
}

func (s *keySource) Fill(ctx context.Context, b *Batch, max int) error {
	for range max {
		if s.pos >= s.end {
			return io.EOF
		}
		b.Add(s.keys[s.pos])
		s.pos++
	}
	return nil
}

// zipfKeys returns n keys drawn from Zipf(1.1) over 1e5 values.
func zipfKeys(n int, seed uint64) [][]byte {
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, 1)), 1.1, 1, 1e5)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = strconv.AppendUint([]byte("k"), z.Uint64(), 10)
	}
	return keys
}

// sources splits keys into n consecutive sources.
func sources(keys [][]byte, n int) []Source {
	var srcs []Source
	for i := range n {
		srcs = append(srcs, newKeySource(keys, i*len(keys)/n, (i+1)*len(keys)/n))
	}
	return srcs
}

// fingerprint is an order-sensitive operator: its state is a hash of the
// sequence of keys it saw, so equal fingerprints mean equal order.
type fingerprint struct {
	h, n uint64
}

func (f *fingerprint) Process(in, out *Batch) error {
	for i := range in.Records {
		f.h = (f.h^in.Records[i].Hash)*0x100000001b3 + 1
		f.n++
	}
	return nil
}

func TestPipelineCountsEveryRecord(t *testing.T) {
	keys := zipfKeys(100000, 1)
	exact := map[string]bool{}
	for _, k := range keys {
		exact[string(k)] = true
	}
	for _, tc := range []struct {
		name    string
		sources int
		stages  []Stage
	}{
		{"one source, chained", 1, []Stage{{Name: "hll", Input: Forward}}},
		{"one source, through a channel", 1, []Stage{{Name: "hll", Input: Forward, NoChain: true}}},
		{"one source, by key to 3", 1, []Stage{{Name: "hll", Input: ByKey, Parallelism: 3}}},
		{"4 sources, by key to 2", 4, []Stage{{Name: "hll", Input: ByKey, Parallelism: 2}}},
		{"3 sources, round robin to 2", 3, []Stage{{Name: "hll", Input: RoundRobin, Parallelism: 2}}},
		{"2 sources, forward to 2", 2, []Stage{{Name: "hll", Input: Forward, Parallelism: 2}}},
		{"pass-through chain then by key", 2, []Stage{
			{Name: "pass", Input: Forward, Parallelism: 2, New: func(int) (Operator, error) {
				return OperatorFunc(func(in, out *Batch) error { return pass(true, in, out) }), nil
			}},
			{Name: "hll", Input: ByKey, Parallelism: 3},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last := len(tc.stages) - 1
			tc.stages[last].New = func(int) (Operator, error) {
				h, err := sketch.NewHLL(14)
				return &Distinct{HLL: h}, err
			}
			p, err := New(sources(keys, tc.sources), tc.stages, Config{BatchSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			merged, _ := sketch.NewHLL(14)
			var in uint64
			err = p.Query(last, func(i int, op Operator) error {
				return merged.Merge(op.(*Distinct).HLL)
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range p.Metrics().Operators {
				if m.Stage == "hll" {
					in += m.RecordsIn
				}
			}
			if in != uint64(len(keys)) {
				t.Errorf("operators saw %d records, want %d", in, len(keys))
			}
			if e := merged.Estimate(); !e.Contains(float64(len(exact))) {
				t.Errorf("distinct %v, exact %d", e, len(exact))
			}
		})
	}
}

// TestPipelineDeterministic runs order-sensitive operators behind several
// sources and a by-key exchange many times: the state must not depend on
// goroutine timing.
func TestPipelineDeterministic(t *testing.T) {
	keys := zipfKeys(50000, 2)
	run := func() []fingerprint {
		p, err := New(sources(keys, 3), []Stage{{
			Name: "fp", Input: ByKey, Parallelism: 4,
			New: func(int) (Operator, error) { return new(fingerprint), nil },
		}}, Config{BatchSize: 64, Exclusive: 2, Floating: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		var fps []fingerprint
		for _, op := range p.Operators(0) {
			fps = append(fps, *op.(*fingerprint))
		}
		return fps
	}
	want := run()
	runs := 30
	if testing.Short() {
		runs = 5
	}
	for i := range runs {
		if got := run(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("run %d: states %v, first run %v", i, got, want)
		}
	}
}

func TestPipelineTopKStateIsByteIdentical(t *testing.T) {
	keys := zipfKeys(60000, 3)
	run := func() []byte {
		p, err := New(sources(keys, 2), []Stage{{
			Name: "top", Input: ByKey, Parallelism: 2,
			New: func(int) (Operator, error) {
				tk, err := sketch.NewTopK(100)
				return &HeavyHitters{TopK: tk}, err
			},
		}}, Config{BatchSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		merged, _ := sketch.NewTopK(100)
		for _, op := range p.Operators(0) {
			if err := merged.Merge(op.(*HeavyHitters).TopK); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := merged.MarshalBinary()
		return b
	}
	want := run()
	for i := range 5 {
		if string(run()) != string(want) {
			t.Fatalf("run %d: merged TopK bytes differ", i)
		}
	}
}

// blockingSource produces forever until ctx is done.
type blockingSource struct{ n *uint64 }

func (s blockingSource) Fill(ctx context.Context, b *Batch, max int) error {
	var n uint64
	if s.n == nil {
		s.n = &n
	}
	*s.n++
	b.Add(strconv.AppendUint(nil, *s.n, 10))
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}

func TestPipelineCancelLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		slow := OperatorFunc(func(in, out *Batch) error { return pass(true, in, out) })
		p, err := New([]Source{blockingSource{new(uint64)}, blockingSource{new(uint64)}}, []Stage{
			{Name: "a", Input: ByKey, Parallelism: 3, New: func(int) (Operator, error) { return slow, nil }},
			{Name: "b", Input: RoundRobin, Parallelism: 2, New: func(int) (Operator, error) { return slow, nil }},
		}, Config{BatchSize: 8})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		for p.Metrics().Operators[len(p.Metrics().Operators)-1].RecordsIn == 0 {
			runtime.Gosched()
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v, want context.Canceled", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after cancel, %d before", n, before)
	}
}

func TestPipelineOperatorErrorStopsAll(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	p, err := New([]Source{blockingSource{}}, []Stage{
		{Name: "fail", Input: ByKey, Parallelism: 1, New: func(int) (Operator, error) {
			return OperatorFunc(func(in, out *Batch) error {
				if calls++; calls == 5 {
					return boom
				}
				return nil
			}), nil
		}},
	}, Config{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want boom", err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("second Run returned %v", err)
	}
}

func TestNewRejectsBadGraphs(t *testing.T) {
	op := func(int) (Operator, error) { return new(fingerprint), nil }
	src := []Source{blockingSource{}}
	for _, tc := range []struct {
		name    string
		sources []Source
		stages  []Stage
	}{
		{"no source", nil, []Stage{{New: op}}},
		{"forward to other parallelism", src, []Stage{{New: op, Parallelism: 2}}},
		{"no constructor", src, []Stage{{Input: ByKey}}},
		{"unknown partitioning", src, []Stage{{New: op, Input: Partitioning(9)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.sources, tc.stages, Config{}); !errors.Is(err, ErrInvalidGraph) {
				t.Errorf("error %v, want ErrInvalidGraph", err)
			}
		})
	}
}

func TestPipelineDedupPassesFirstOccurrences(t *testing.T) {
	keys := [][]byte{[]byte("a"), []byte("b"), []byte("a"), []byte("c"), []byte("b"), []byte("")}
	var got []string
	p, err := New([]Source{newKeySource(keys, 0, len(keys))}, []Stage{
		{Name: "dedup", New: func(int) (Operator, error) {
			b, err := sketch.NewBloom(1000, 0.001)
			return &Dedup{Bloom: b}, err
		}},
		{Name: "collect", New: func(int) (Operator, error) {
			return OperatorFunc(func(in, out *Batch) error {
				for i := range in.Records {
					got = append(got, string(in.Key(i)))
				}
				return nil
			}), nil
		}},
	}, Config{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{"a", "b", "c", ""}) {
		t.Errorf("dedup passed %q", got)
	}
	m := p.Metrics()
	if d := m.Operators[0]; d.Stage != "dedup" || d.RecordsIn != 6 || d.RecordsOut != 4 {
		t.Errorf("dedup metrics %+v, want 6 in, 4 out", d)
	}
	if c := m.Operators[1]; c.Stage != "collect" || c.RecordsIn != 4 {
		t.Errorf("collect metrics %+v, want 4 in", c)
	}
	for _, o := range m.Operators {
		if o.Busy+o.Idle+o.BackPressured != m.Elapsed {
			t.Errorf("%s: busy %v + idle %v + back-pressured %v != elapsed %v", o.Stage, o.Busy, o.Idle, o.BackPressured, m.Elapsed)
		}
	}
	later := m
	later.Time = m.Time.Add(time.Second)
	later.Operators = append([]OperatorMetrics(nil), m.Operators...)
	later.Operators[0].RecordsIn += 500
	if r := later.Rates(m); r[0].InPerSec != 500 {
		t.Errorf("rate %v, want 500 records/s", r[0].InPerSec)
	}
}
