package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// keepShedder keeps every record at p = 1 from batch from on, and before
// that sheds records with an odd hash at p = 1/2; it remembers the last
// Pressure it saw.
type keepShedder struct {
	from, calls int
	last        Pressure
}

func (s *keepShedder) Shed(b *Batch, now time.Time, p Pressure) {
	s.calls++
	s.last = p
	if s.calls > s.from {
		for i := range b.Records {
			b.Records[i].KeepP = 1
		}
		return
	}
	b.Compact(func(r *Record) bool {
		r.KeepP = 0.5
		return r.Hash%2 == 0
	})
}

// overlapSource is a keySource that counts the Fills made while its
// operator (overlapOp) was processing a batch: only possible when the
// operator runs in a goroutine of its own, behind the channel.
type overlapSource struct {
	keySource
	inOp     *atomic.Bool
	overlaps atomic.Int64
	fills    atomic.Int64
}

func (s *overlapSource) Fill(ctx context.Context, b *Batch, max int) error {
	s.fills.Add(1)
	if s.inOp.Load() {
		s.overlaps.Add(1)
	}
	return s.keySource.Fill(ctx, b, max)
}

// runOverlap runs keys through sh into an operator that takes per batch,
// and returns the source (its overlaps), the records counted, and the
// overlaps from Fill number from on (-1 if the run had fewer Fills).
func runOverlap(t *testing.T, keys [][]byte, sh Shedder, per time.Duration, from int64) (*overlapSource, int, int64) {
	t.Helper()
	var inOp atomic.Bool
	src := &overlapSource{keySource: *newKeySource(keys, 0, len(keys)), inOp: &inOp}
	n := 0
	p, err := New([]Source{src}, []Stage{{Name: "count", New: func(int) (Operator, error) {
		return OperatorFunc(func(in, out *Batch) error {
			inOp.Store(true)
			n += in.Len()
			time.Sleep(per)
			inOp.Store(false)
			return nil
		}), nil
	}}}, Config{BatchSize: 64, NewShedder: func(int) Shedder { return sh }})
	if err != nil {
		t.Fatal(err)
	}
	// Overlaps from batch from on: the source's count then.
	var before int64 = -1
	stop := make(chan struct{})
	go func() {
		for src.fills.Load() < from {
			select {
			case <-stop:
				return
			default:
				time.Sleep(50 * time.Microsecond)
			}
		}
		atomic.StoreInt64(&before, src.overlaps.Load())
	}()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	late := int64(-1)
	if b := atomic.LoadInt64(&before); b >= 0 {
		late = src.overlaps.Load() - b
	}
	return src, n, late
}

// TestShedInlineWhileKept: while the shedder keeps everything, the source
// runs the stage behind the channel itself, as if chained: it never reads
// its input while the operator works (with the channel, a source facing
// an operator that sleeps 200 µs a batch fills the next batch meanwhile),
// and the shedder's Pressure counts the records so processed as sent and
// the time as back-pressure. Every record is counted once.
func TestShedInlineWhileKept(t *testing.T) {
	keys := zipfKeys(6400, 3)
	sh := &keepShedder{}
	// The first batches may go through the channel: the operator's
	// goroutine has not started yet.
	_, n, late := runOverlap(t, keys, sh, 200*time.Microsecond, 20)
	if n != len(keys) {
		t.Errorf("%d records counted, want %d", n, len(keys))
	}
	if late != 0 {
		t.Errorf("the source read its input %d times while the operator processed a batch: not run inline", late)
	}
	// The last Shed saw every batch before the last Fill processed.
	if sh.last.Records < uint64(len(keys)-64) || sh.last.Batches < uint64(len(keys)/64-1) || sh.last.BackPressured < 50*200*time.Microsecond {
		t.Errorf("the shedder's last Pressure %+v: want the records run inline as sent (%d) and their time as back-pressure", sh.last, len(keys)-64)
	}

	// Shedding, the operator runs behind the channel: the source reads
	// on meanwhile (the test can fail).
	src, _, _ := runOverlap(t, keys, &keepShedder{from: 1 << 30}, 200*time.Microsecond, 0)
	if src.overlaps.Load() == 0 {
		t.Error("while shedding, the source never read its input while the operator worked: the operator ran inline")
	}
}

// TestShedInlineAfterShedding: when the shedder stops dropping records,
// the source waits for the operator to finish what the channel holds and
// then runs it inline again, instead of taking turns with it across the
// channel for ever.
func TestShedInlineAfterShedding(t *testing.T) {
	keys := zipfKeys(12800, 5)
	const shedBatches = 50 // of 200
	src, n, late := runOverlap(t, keys, &keepShedder{from: shedBatches}, 200*time.Microsecond, shedBatches+10)
	if src.overlaps.Load() == 0 {
		t.Error("while shedding, the operator ran inline")
	}
	if late != 0 {
		t.Errorf("10 batches after shedding stopped, the source still read its input %d times while the operator worked", late)
	}
	if n == 0 || n >= len(keys) {
		t.Errorf("%d of %d records counted", n, len(keys))
	}
}

// TestShedInlinePanic: an operator that panics while the source runs it
// inline fails the run with ErrPanic naming the stage, and is unlocked:
// Query still works.
func TestShedInlinePanic(t *testing.T) {
	keys := zipfKeys(1000, 1)
	calls := 0
	p, err := New([]Source{newKeySource(keys, 0, len(keys))}, []Stage{{Name: "boom", New: func(int) (Operator, error) {
		return OperatorFunc(func(in, out *Batch) error {
			if calls++; calls == 3 {
				panic("kaboom")
			}
			return nil
		}), nil
	}}}, Config{BatchSize: 64, NewShedder: func(int) Shedder { return &keepShedder{} }})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background())
	if !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), `"boom"`) || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("Run: %v; want ErrPanic naming stage \"boom\"", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Query(0, func(int, Operator) error { return nil }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Query after the panic: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Query after the panic hangs: the operator stayed locked")
	}
}

// TestShedInlineAllocs: running the stage inline allocates nothing per
// batch: a run over four times the records allocates about as much as a
// short one.
func TestShedInlineAllocs(t *testing.T) {
	if shedRaceOn {
		t.Skip("the race detector allocates in sync.Cond and sync.Mutex")
	}
	keys := zipfKeys(20000, 9)
	run := func(rounds int) float64 {
		return testing.AllocsPerRun(3, func() {
			var srcs []*keySource
			for range rounds {
				srcs = append(srcs, newKeySource(keys, 0, len(keys)))
			}
			n := 0
			sh := &keepShedder{}
			p, err := New([]Source{&chainSource{srcs: srcs}}, []Stage{{Name: "count", New: func(int) (Operator, error) {
				return OperatorFunc(func(in, out *Batch) error { n += in.Len(); return nil }), nil
			}}}, Config{BatchSize: 256, NewShedder: func(int) Shedder { return sh }})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n != rounds*len(keys) || sh.last.Batches == 0 {
				t.Fatalf("%d of %d records reached the operator; %d batches inline", n, rounds*len(keys), sh.last.Batches)
			}
		})
	}
	short, long := run(1), run(4)
	t.Logf("allocations: %v for 20,000 records, %v for 80,000", short, long)
	// 60,000 more records are about 235 more batches of 256.
	if long > short+20 {
		t.Errorf("a run over 4x the records allocated %v times, the short one %v: allocations per batch", long, short)
	}
}
