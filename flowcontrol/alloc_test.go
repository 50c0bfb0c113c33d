package flowcontrol

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

func TestSteadyStateZeroAllocs(t *testing.T) {
	g := mustGate(t, Config{Inputs: 2})
	s := g.Sender(1)
	ctx := context.Background()
	b, err := s.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Warm up: the context's Done channel and every buffer's first trip.
	if err := s.Send(ctx, b); err != nil {
		t.Fatal(err)
	}
	r, in, _ := g.Recv(ctx)
	g.Release(in, r)
	g.Stats()
	n := testing.AllocsPerRun(1000, func() {
		b, err := s.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b.recs = append(b.recs[:0], 1, 2, 3)
		if err := s.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
		r, in, err := g.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		g.Release(in, r)
		_ = g.Stats()
		_ = s.Stats()
	})
	if n != 0 {
		t.Errorf("Acquire/Send/Recv/Release: got %v allocation(s) (want zero)", n)
	}
	n = testing.AllocsPerRun(1000, func() {
		b, _ := s.TryAcquire()
		if !s.TrySend(b) {
			t.Fatal("TrySend: no credit")
		}
		r, in, err := g.TryRecv()
		if err != nil {
			t.Fatal(err)
		}
		g.Release(in, r)
	})
	if n != 0 {
		t.Errorf("TryAcquire/TrySend/TryRecv/Release: got %v allocation(s) (want zero)", n)
	}
}

// TestBlockingZeroAllocs measures a producer that waits for credit on
// nearly every batch while a consumer goroutine drains: waiting and waking
// allocate nothing either (AllocsPerRun counts every goroutine).
func TestBlockingZeroAllocs(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps for the consumer to run alongside")
	}
	g := mustGate(t, Config{Exclusive: 2, Floating: -1})
	s := g.Sender(0)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			b, in, err := g.Recv(ctx)
			if errors.Is(err, ErrClosed) {
				return
			}
			g.Release(in, b)
		}
	}()
	b, _ := s.Acquire(ctx)
	for i := 0; i < 100; i++ { // warm up
		s.Send(ctx, b)
		b, _ = s.Acquire(ctx)
	}
	n := testing.AllocsPerRun(2000, func() {
		if err := s.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
		b, _ = s.Acquire(ctx)
	})
	s.Discard(b)
	s.Close()
	wg.Wait()
	if n != 0 {
		t.Errorf("blocking Send/Recv/Release: got %v allocation(s) (want zero)", n)
	}
	if st := s.Stats(); st.BackPressured == 0 {
		t.Log("the producer never waited; the blocking path went unmeasured")
	}
}

func TestNoGoroutineLeakAfterCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	for round := 0; round < 10; round++ {
		g := mustGate(t, Config{Inputs: 4, Floating: -1})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			s := g.Sender(i)
			wg.Add(1)
			go func() { // sends until it waits for credit; nobody receives
				defer wg.Done()
				for {
					b, err := s.Acquire(ctx)
					if err != nil {
						return
					}
					if err := s.Send(ctx, b); err != nil {
						return
					}
				}
			}()
		}
		other := mustGate(t, Config{}) // a receiver waiting on an empty gate
		wg.Add(1)
		go func() {
			defer wg.Done()
			other.Recv(ctx)
		}()
		waitUntil(t, "every goroutine waits", func() bool {
			return g.Stats().SendersWaiting == 4 && func() bool {
				other.mu.Lock()
				defer other.mu.Unlock()
				return other.recvWaiting
			}()
		})
		cancel()
		wg.Wait()
		if st := g.Stats(); st.SendersWaiting != 0 {
			t.Fatalf("after cancel: %d senders still counted as waiting", st.SendersWaiting)
		}
		checkInvariants(t, g)
	}
	waitUntil(t, "the goroutines exit", func() bool { return runtime.NumGoroutine() <= before })
}
