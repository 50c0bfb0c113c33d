package pipeline

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestRestoreDuringOrAfterRun: Restore into a pipeline that is running or
// has run returns ErrAlreadyRun and changes nothing (it used to return nil
// and overwrite live state, a data race under -race).
func TestRestoreDuringOrAfterRun(t *testing.T) {
	store := newMemStore()
	ref := crashGraph(t, store, 0)
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Latest(); err != nil {
		t.Fatal(err)
	}
	before := states(t, ref)
	if _, err := ref.Restore(store); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("Restore after Run = %v, want ErrAlreadyRun", err)
	}
	if states(t, ref) != before {
		t.Error("Restore after Run changed the state")
	}

	// During: the source triggers a checkpoint and then waits for a
	// settlement that never comes, so Run is in progress until cancelled.
	p := crashGraphSettled(t, store, 0, make(chan struct{}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for p.Metrics().Operators[0].RecordsIn == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if _, err := p.Restore(store); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("Restore during Run = %v, want ErrAlreadyRun", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}
