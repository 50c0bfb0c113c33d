package flowcontrol

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentSkewedInputs runs skewed producers (input i sends i+1
// times as many batches as input 0) against a receiver that pauses inputs,
// stashes batches and releases them out of order, as barrier alignment
// does. Every batch arrives once, in order per input, and the credit
// bookkeeping holds at the end. Run it with -race.
func TestConcurrentSkewedInputs(t *testing.T) {
	const inputs, exclusive = 4, 3
	base := 2000
	if testing.Short() {
		base = 300
	}
	g := mustGate(t, Config{Inputs: inputs, Exclusive: exclusive, Floating: 3, EndOfInput: true})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < inputs; i++ {
		wg.Add(1)
		go func(i int, s *Sender[*batch]) {
			defer wg.Done()
			defer s.Close()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			b, err := s.Acquire(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			for seq := uint64(0); seq < uint64(base*(i+1)); {
				b.recs = append(b.recs[:0], seq, uint64(i))
				if rng.IntN(3) == 0 {
					if !s.TrySend(b) {
						continue // a shedder would drop here; we retry
					}
				} else if err := s.Send(ctx, b); err != nil {
					t.Error(err)
					return
				}
				seq++
				if b, err = s.Acquire(ctx); err != nil {
					t.Error(err)
					return
				}
			}
			s.Discard(b)
		}(i, g.Sender(i))
	}

	rng := rand.New(rand.NewPCG(42, 42))
	next := make([]uint64, inputs)
	ended := make([]bool, inputs)
	type held struct {
		in int
		b  *batch
	}
	var stash []held
	paused := -1
	for {
		b, in, err := g.Recv(ctx)
		if errors.Is(err, ErrClosed) {
			break
		}
		if errors.Is(err, ErrEndOfInput) {
			ended[in] = true
			if in == paused {
				t.Fatalf("input %d ended while paused", in)
			}
			continue
		}
		if errors.Is(err, ErrAllPaused) {
			g.Resume(paused)
			paused = -1
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if in == paused {
			t.Fatalf("batch from paused input %d", in)
		}
		if b.recs[0] != next[in] || b.recs[1] != uint64(in) {
			t.Fatalf("input %d delivered %v, want seq %d", in, b.recs, next[in])
		}
		next[in]++
		stash = append(stash, held{in, b})
		// Release stashed batches at random, out of order, but keep at
		// most Exclusive-2 per input across Recv: an input needs one
		// buffer besides the one its sender fills, and a receiver sitting
		// on more may wait forever for the input it starves.
		for len(stash) > 0 && rng.IntN(3) != 0 {
			k := rng.IntN(len(stash))
			g.Release(stash[k].in, stash[k].b)
			stash = append(stash[:k], stash[k+1:]...)
		}
		var count [inputs]int
		for k := 0; k < len(stash); k++ {
			if h := stash[k]; count[h.in] == exclusive-2 {
				g.Release(h.in, h.b)
				stash = append(stash[:k], stash[k+1:]...)
				k--
			} else {
				count[h.in]++
			}
		}
		switch r := rng.IntN(50); {
		case r == 0 && paused < 0:
			paused = rng.IntN(inputs)
			g.Pause(paused)
		case r < 5 && paused >= 0:
			g.Resume(paused)
			paused = -1
		}
	}
	for _, h := range stash {
		g.Release(h.in, h.b)
	}
	wg.Wait()
	for i := range next {
		if want := uint64(base * (i + 1)); next[i] != want || !ended[i] {
			t.Errorf("input %d: %d batches, ended %v; want %d, ended", i, next[i], ended[i], want)
		}
	}
	checkInvariants(t, g)
	if gs := g.Stats(); gs.FloatingFree != gs.FloatingTotal || gs.InFlight != 0 {
		t.Errorf("after the end: %+v, want every floating buffer back and nothing in flight", gs)
	}
}
