package pipeline

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// halfShedder keeps records with an even hash, at keep probability 1/2.
type halfShedder struct{ calls int }

func (s *halfShedder) Shed(b *Batch, now time.Time, p Pressure) {
	s.calls++
	b.Compact(func(r *Record) bool {
		r.KeepP = 0.5
		return r.Hash%2 == 0
	})
}

// ingressStages are the ways a first stage takes a shedding source's
// records.
var ingressStages = []struct {
	name  string
	stage Stage
}{
	{"forward (a channel is put in front)", Stage{}},
	{"through a channel", Stage{NoChain: true}},
	{"by key", Stage{Input: ByKey, Parallelism: 2}},
}

func TestShedderAtIngress(t *testing.T) {
	keys := zipfKeys(20000, 5)
	var even int
	for _, k := range keys {
		var b Batch
		if b.Add(k).Hash%2 == 0 {
			even++
		}
	}
	for _, tc := range ingressStages {
		t.Run(tc.name, func(t *testing.T) {
			type tally struct {
				seen, bad int
				weight    float64
			}
			tallies := make([]tally, 2)
			st := tc.stage
			st.Name = "count"
			st.New = func(inst int) (Operator, error) {
				c := &tallies[inst]
				return OperatorFunc(func(in, out *Batch) error {
					for i := range in.Records {
						c.seen++
						c.weight += in.Records[i].Weight()
						if in.Records[i].Hash%2 != 0 {
							c.bad++
						}
					}
					return nil
				}), nil
			}
			shedders := map[int]*halfShedder{}
			p, err := New([]Source{newKeySource(keys, 0, len(keys))}, []Stage{st}, Config{
				BatchSize:  100,
				NewShedder: func(i int) Shedder { shedders[i] = new(halfShedder); return shedders[i] },
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			seen, bad, weight := tallies[0].seen+tallies[1].seen, tallies[0].bad+tallies[1].bad, tallies[0].weight+tallies[1].weight
			if seen != even || bad != 0 || weight != float64(2*even) {
				t.Errorf("operator saw %d records (%d shed ones), weight %v; want %d, 0, %d", seen, bad, weight, even, 2*even)
			}
			if shedders[0].calls < len(keys)/100 {
				t.Errorf("shedder called %d times", shedders[0].calls)
			}
		})
	}
	if sz := unsafe.Sizeof(Record{}); sz != 40 {
		t.Errorf("Record is %d bytes, want 40", sz)
	}
}

// TestShedGatherAllocs: gathering kept records into full batches allocates
// nothing per batch: a run over four times the records, shedding half of
// them, allocates about as much as a short one (buffers grow once).
func TestShedGatherAllocs(t *testing.T) {
	keys := zipfKeys(20000, 9)
	run := func(rounds int) float64 {
		return testing.AllocsPerRun(3, func() {
			var srcs []*keySource
			for range rounds {
				srcs = append(srcs, newKeySource(keys, 0, len(keys)))
			}
			n := 0
			p, err := New([]Source{&chainSource{srcs: srcs}}, []Stage{{Name: "count", New: func(int) (Operator, error) {
				return OperatorFunc(func(in, out *Batch) error { n += in.Len(); return nil }), nil
			}}}, Config{BatchSize: 256, NewShedder: func(int) Shedder { return new(halfShedder) }})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n == 0 || n >= rounds*len(keys) {
				t.Fatalf("%d of %d records reached the operator", n, rounds*len(keys))
			}
		})
	}
	short, long := run(1), run(4)
	t.Logf("allocations: %v for 20,000 records, %v for 80,000", short, long)
	// 20,000 more kept records would be about 80 more batches of 256.
	if long > short+20 {
		t.Errorf("a run over 4x the records allocated %v times, the short one %v: allocations per batch", long, short)
	}
}

// chainSource reads its sources one after the other.
type chainSource struct{ srcs []*keySource }

func (c *chainSource) Fill(ctx context.Context, b *Batch, max int) error {
	for len(c.srcs) > 0 {
		err := c.srcs[0].Fill(ctx, b, max)
		if err == nil {
			return nil
		}
		c.srcs = c.srcs[1:]
		if b.Len() > 0 || len(c.srcs) == 0 {
			if len(c.srcs) == 0 {
				return err
			}
			return nil
		}
	}
	return io.EOF
}

// burstSource gives its keys in full batches, then waits in Fill until
// release is closed, then ends.
type burstSource struct {
	keySource
	release chan struct{}
}

func (s *burstSource) Fill(ctx context.Context, b *Batch, max int) error {
	if s.pos < s.end {
		s.keySource.Fill(ctx, b, max)
		return nil
	}
	select {
	case <-s.release:
		return io.EOF
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestShedGatherQuietSource: records kept under shedding and held to fill
// a batch reach the operator within about ShedHold even when the source
// then waits for input in Fill, for as long as it waits.
func TestShedGatherQuietSource(t *testing.T) {
	keys := zipfKeys(3000, 4)
	even := 0
	for _, k := range keys {
		var b Batch
		if b.Add(k).Hash%2 == 0 {
			even++
		}
	}
	src := &burstSource{keySource: *newKeySource(keys, 0, len(keys)), release: make(chan struct{})}
	var got atomic.Int64
	p, err := New([]Source{src}, []Stage{{Name: "count", New: func(int) (Operator, error) {
		return OperatorFunc(func(in, out *Batch) error { got.Add(int64(in.Len())); return nil }), nil
	}}}, Config{BatchSize: 1024, NewShedder: func(int) Shedder { return new(halfShedder) }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- p.Run(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() < int64(even) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := got.Load(); n != int64(even) {
		t.Errorf("while the source waits, %d of the %d records kept reached the operator", n, even)
	}
	close(src.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// waitingSource is a keySource that says it has waited for input 1 ms
// more at every Fill (an InputWaiter).
type waitingSource struct {
	keySource
	fills int
}

func (s *waitingSource) Fill(ctx context.Context, b *Batch, max int) error {
	s.fills++
	return s.keySource.Fill(ctx, b, max)
}

func (s *waitingSource) InputWait() time.Duration { return time.Duration(s.fills) * time.Millisecond }

// waitShedder keeps everything and remembers the Pressure.InputWait of
// every call.
type waitShedder struct{ waits []time.Duration }

func (s *waitShedder) Shed(_ *Batch, _ time.Time, p Pressure) { s.waits = append(s.waits, p.InputWait) }

// TestShedPressureInputWait: a shedder sees in the Pressure how long an
// InputWaiter source has waited for input, as of the Fill it sheds, on
// every path to the first stage.
func TestShedPressureInputWait(t *testing.T) {
	keys := zipfKeys(5000, 3)
	for _, tc := range ingressStages {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.stage
			st.Name = "count"
			st.New = func(int) (Operator, error) { return OperatorFunc(func(in, out *Batch) error { return nil }), nil }
			src := &waitingSource{keySource: *newKeySource(keys, 0, len(keys))}
			sh := &waitShedder{}
			p, err := New([]Source{src}, []Stage{st}, Config{BatchSize: 100, NewShedder: func(int) Shedder { return sh }})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(sh.waits) < 10 {
				t.Fatalf("%d sheds", len(sh.waits))
			}
			for i, w := range sh.waits {
				if w != time.Duration(i+1)*time.Millisecond {
					t.Fatalf("shed %d saw InputWait %v, want %v", i, w, time.Duration(i+1)*time.Millisecond)
				}
			}
		})
	}
}
