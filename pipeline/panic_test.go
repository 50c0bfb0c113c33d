package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// panicky panics on its third batch.
func panicky() Operator {
	n := 0
	return OperatorFunc(func(in, out *Batch) error {
		if n++; n == 3 {
			var m map[string]int
			m["boom"]++ // a nil map: a runtime panic
		}
		return pass(true, in, out)
	})
}

// panicSource panics on its third Fill.
type panicSource struct{ keySource }

func (s *panicSource) Fill(ctx context.Context, b *Batch, max int) error {
	if s.pos >= 3*max {
		panic("source exploded")
	}
	return s.keySource.Fill(ctx, b, max)
}

// TestPanicBecomesError: a panic in an operator, chained to its source or
// behind a channel, or in a source, is Run's error wrapping ErrPanic and
// naming where it happened, with the panic value and the panicking frame;
// the process survives, and the other instances can still be queried.
func TestPanicBecomesError(t *testing.T) {
	keys := zipfKeys(4000, 5)
	okOp := func(int) (Operator, error) {
		return OperatorFunc(func(in, out *Batch) error { return pass(true, in, out) }), nil
	}
	for _, tc := range []struct {
		name   string
		srcs   func() []Source
		stages []Stage
		where  string
	}{
		{"chained to the source", func() []Source { return sources(keys, 2) }, []Stage{
			{Name: "boom", Parallelism: 2, New: func(int) (Operator, error) { return panicky(), nil }},
		}, `stage 0 "boom" instance `},
		{"behind a channel", func() []Source { return sources(keys, 2) }, []Stage{
			{Name: "first", Parallelism: 2, New: okOp},
			{Name: "boom", Input: ByKey, Parallelism: 3, New: func(i int) (Operator, error) {
				if i == 1 {
					return panicky(), nil
				}
				return okOp(i)
			}},
		}, `stage 1 "boom" instance 1`},
		{"in a source", func() []Source {
			return []Source{newKeySource(keys, 0, 2000), &panicSource{*newKeySource(keys, 2000, 4000)}}
		}, []Stage{
			{Name: "ok", Input: RoundRobin, Parallelism: 2, New: okOp},
		}, "source 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.srcs(), tc.stages, Config{BatchSize: 16})
			if err != nil {
				t.Fatal(err)
			}
			err = p.Run(context.Background())
			if !errors.Is(err, ErrPanic) {
				t.Fatalf("Run = %v, want ErrPanic", err)
			}
			msg := err.Error()
			t.Log(msg)
			for _, want := range []string{tc.where, "panic_test.go"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if !strings.Contains(msg, "nil map") && !strings.Contains(msg, "source exploded") {
				t.Errorf("error %q does not carry the panic value", msg)
			}
			done := make(chan error, 1)
			go func() {
				done <- p.Query(len(tc.stages)-1, func(int, Operator) error { return nil })
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Query after the panic hangs: the operator's lock was not released")
			}
		})
	}
}

// TestPanicRestarts: RunWithRestarts sees a panic as a failure and
// retries.
func TestPanicRestarts(t *testing.T) {
	keys := zipfKeys(1000, 6)
	attempts := 0
	var reported error
	p, err := RestartConfig{
		Strategy:  &FixedDelay{Attempts: 1},
		Sleep:     func(context.Context, time.Duration) error { return nil },
		OnFailure: func(_ int, err error) { reported = err },
	}.Run(context.Background(), func() (*Pipeline, error) {
		attempts++
		op := func(int) (Operator, error) { return OperatorFunc(func(in, out *Batch) error { return nil }), nil }
		if attempts == 1 {
			op = func(int) (Operator, error) { return panicky(), nil }
		}
		return New(sources(keys, 1), []Stage{{Name: "s", New: op}}, Config{BatchSize: 16})
	})
	if err != nil || p == nil || attempts != 2 || !errors.Is(reported, ErrPanic) {
		t.Errorf("Run = %v after %d attempts, reported %v; want success after a panic", err, attempts, reported)
	}
}

// panickyStore panics writing one part.
type panickyStore struct{ *memStore }

func (s panickyStore) WritePart(id uint64, name string, data []byte) (checkpoint.Part, error) {
	if id == 2 && name == "src-0" {
		panic("store exploded")
	}
	return s.memStore.WritePart(id, name, data)
}

// TestStorePanicFailsCheckpoint: a panic in the checkpoint store fails
// that checkpoint (LastError wraps ErrPanic); the job goes on and the
// next checkpoints complete.
func TestStorePanicFailsCheckpoint(t *testing.T) {
	store := panickyStore{newMemStore()}
	p := crashGraphEach(t, store)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := p.CheckpointStats()
	if st.Failed != 1 || !errors.Is(st.LastError, ErrPanic) || st.Completed < 3 {
		t.Errorf("stats %+v; want checkpoint 2 failed with ErrPanic, the others completed", st)
	}
}

// TestOnCompletePanic: a panic in OnComplete is recorded, not fatal.
func TestOnCompletePanic(t *testing.T) {
	p := crashGraph(t, newMemStore(), 0)
	calls := 0
	p.coord.cfg.OnComplete = func(checkpoint.Manifest, error) {
		if calls++; calls == 1 {
			panic("callback exploded")
		}
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := p.CheckpointStats(); !errors.Is(st.LastError, ErrPanic) || st.Completed < 2 || calls < 2 {
		t.Errorf("stats %+v after %d calls; want the panic in LastError and the job going on", st, calls)
	}
}

// quietSource never produces and never looks at ctx: a live stream with
// nothing new, whose Fill returns at once.
type quietSource struct{}

func (quietSource) Fill(context.Context, *Batch, int) error { return nil }

// TestFailureStopsQuietSource: when one source fails, Run returns even
// though another source's Fill ignores ctx and keeps returning nothing
// (its goroutine used to spin forever, and Run with it).
func TestFailureStopsQuietSource(t *testing.T) {
	keys := zipfKeys(100, 1)
	p, err := New([]Source{quietSource{}, &panicSource{*newKeySource(keys, 0, 100)}}, []Stage{
		{Name: "s", Input: RoundRobin, New: func(int) (Operator, error) {
			return OperatorFunc(func(in, out *Batch) error { return nil }), nil
		}},
	}, Config{BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrPanic) {
			t.Errorf("Run = %v, want the other source's failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after a source failed: the quiet source spins on")
	}
}
