package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestFixedDelay(t *testing.T) {
	s := &FixedDelay{Attempts: 2, Delay: time.Second}
	now := time.Unix(0, 0)
	for i, want := range []bool{true, true, false} {
		if d, ok := s.Restart(now); ok != want || (ok && d != time.Second) {
			t.Errorf("failure %d: %v %v", i, d, ok)
		}
	}
}

func TestFailureRate(t *testing.T) {
	s := &FailureRate{MaxFailures: 2, Interval: time.Minute, Delay: time.Second}
	t0 := time.Unix(0, 0)
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {10 * time.Second, true}, {20 * time.Second, false}, // three within a minute
		{2 * time.Minute, true}, // the old ones have left the window
	} {
		if _, ok := s.Restart(t0.Add(tc.at)); ok != tc.want {
			t.Errorf("failure at %v: restart %v, want %v", tc.at, ok, tc.want)
		}
	}
}

func TestExponentialDelay(t *testing.T) {
	s := &ExponentialDelay{Initial: time.Second, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.1, ResetAfter: time.Hour, Rand: func() float64 { return 0.5 }}
	t0 := time.Unix(0, 0)
	var got []time.Duration
	for i := range 5 {
		d, ok := s.Restart(t0.Add(time.Duration(i) * time.Second))
		if !ok {
			t.Fatal("gave up")
		}
		got = append(got, d)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if d, _ := s.Restart(t0.Add(2 * time.Hour)); d != time.Second {
		t.Errorf("after a quiet hour: %v, want the initial delay again", d)
	}
	s.Rand = func() float64 { return 0.999 } // the most jitter upwards
	if d, _ := s.Restart(t0.Add(2*time.Hour + time.Second)); d <= 2*time.Second || d > 2200*time.Millisecond {
		t.Errorf("jittered delay %v, want within 10%% above 2s", d)
	}
}

// TestRunWithRestarts fails twice, then succeeds from the checkpoints.
func TestRunWithRestarts(t *testing.T) {
	store := newMemStore()
	ref := crashGraph(t, newMemStore(), 0)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int32
	var slept []time.Duration
	var last *Pipeline
	done, err := RunWithRestarts(context.Background(), func() (*Pipeline, error) {
		n := attempts.Add(1)
		failAt := int64(0)
		if n <= 2 {
			failAt = 6000 * int64(n)
		}
		last = crashGraph(t, store, failAt)
		return last, nil
	}, store, &FixedDelay{Attempts: 3, Delay: time.Second}, func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts.Load() != 3 || len(slept) != 2 {
		t.Errorf("%d attempts, slept %v", attempts.Load(), slept)
	}
	if done != last {
		t.Error("RunWithRestarts did not return the pipeline that finished")
	}
	if states(t, done) != states(t, ref) {
		t.Error("state after two restarts differs from a run without failure")
	}
	_, err = RunWithRestarts(context.Background(), func() (*Pipeline, error) {
		return crashGraph(t, newMemStore(), 10), nil
	}, nil, &FixedDelay{Attempts: 1}, func(context.Context, time.Duration) error { return nil })
	if !errors.Is(err, errInjected) {
		t.Errorf("giving up returned %v", err)
	}
}

// TestRestartReportsFailures: each failed attempt reaches OnFailure with
// its number and error, the returned pipeline is the one that finished,
// and giving up returns the last failure and the failed pipeline.
func TestRestartReportsFailures(t *testing.T) {
	store := newMemStore()
	type failure struct {
		attempt int
		err     error
	}
	var failures []failure
	var built []*Pipeline
	cfg := RestartConfig{
		Store: store, Strategy: &FixedDelay{Attempts: 5},
		Sleep:     func(context.Context, time.Duration) error { return nil },
		OnFailure: func(attempt int, err error) { failures = append(failures, failure{attempt, err}) },
	}
	p, err := cfg.Run(context.Background(), func() (*Pipeline, error) {
		failAt := int64(0)
		if len(built) < 2 {
			failAt = 5000 * int64(len(built)+1)
		}
		built = append(built, crashGraph(t, store, failAt))
		return built[len(built)-1], nil
	})
	if err != nil || p == nil || p != built[len(built)-1] || len(built) != 3 {
		t.Fatalf("Run = %p, %v after %d builds; want the third pipeline, nil", p, err, len(built))
	}
	if len(failures) != 2 || failures[0].attempt != 1 || failures[1].attempt != 2 ||
		!errors.Is(failures[0].err, errInjected) || !errors.Is(failures[1].err, errInjected) {
		t.Errorf("failures reported %+v, want attempts 1 and 2 with the injected error", failures)
	}
	if got := p.Metrics().Operators[0].RecordsIn; got == 0 {
		t.Error("the returned pipeline counted nothing")
	}

	failures = nil
	cfg.Strategy = &FixedDelay{Attempts: 1}
	p, err = cfg.Run(context.Background(), func() (*Pipeline, error) {
		return crashGraph(t, newMemStore(), 10), nil
	})
	if !errors.Is(err, errInjected) || p == nil || len(failures) != 2 {
		t.Errorf("giving up: %p, %v, %d failures reported; want the pipeline, the injected error, 2", p, err, len(failures))
	}
}
