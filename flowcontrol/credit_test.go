package flowcontrol

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// blockedSend starts a Send that must wait, and returns its result channel
// once the sender is seen waiting.
func blockedSend(t *testing.T, s *Sender[*batch], rec uint64) chan error {
	t.Helper()
	b, ok := s.TryAcquire()
	if !ok {
		t.Fatalf("input %d: no spare to fill", s.id)
	}
	b.recs = append(b.recs[:0], rec)
	errc := make(chan error, 1)
	go func() { errc <- s.Send(context.Background(), b) }()
	waitUntil(t, "the sender waits for credit", func() bool { return s.Stats().Waiting })
	return errc
}

func TestFloatingTakenWhenExclusiveRunsOut(t *testing.T) {
	g := mustGate(t, Config{Inputs: 2, Exclusive: 2, Floating: 3})
	s := g.Sender(0)
	for k := uint64(0); k < 4; k++ {
		send(t, s, k) // 2 exclusive + 3 floating: 4 queued, 1 spare
	}
	if st := s.Stats(); st.Floating != 3 || st.Backlog != 4 {
		t.Fatalf("hot input: %+v, want 3 floating, backlog 4", st)
	}
	if gs := g.Stats(); gs.FloatingFree != 0 {
		t.Fatalf("pool still has %d", gs.FloatingFree)
	}
	// The other input keeps its exclusive credits: skew cannot starve it.
	send(t, g.Sender(1), 9)
	// Draining the hot input returns the floating buffers to the pool:
	// while it has a backlog it keeps them, once drained they go back.
	for k := 0; k < 4; k++ {
		g.Release(0, recv(t, g, 0))
		if k == 0 {
			g.Release(1, recv(t, g, 1))
		}
	}
	// Buffers are interchangeable: the spare the sender holds counts as
	// one of its exclusive buffers.
	if st := s.Stats(); st.Floating != 0 || st.Credits != 1 || st.AtSender != 1 {
		t.Fatalf("drained input: %+v, want no floating, 1 credit, 1 spare", st)
	}
	if gs := g.Stats(); gs.FloatingFree != 3 {
		t.Fatalf("pool has %d, want all 3 back", gs.FloatingFree)
	}
	checkInvariants(t, g)
}

func TestFloatingGrantedToLargestBacklog(t *testing.T) {
	g := mustGate(t, Config{Inputs: 3, Exclusive: 2, Floating: 2})
	hot, cold := g.Sender(0), g.Sender(1)
	send(t, hot, 1)
	send(t, cold, 10)
	send(t, hot, 2) // pool: 1 left
	send(t, hot, 3) // pool empty; hot: backlog 3, cold: backlog 1
	hotErr := blockedSend(t, hot, 4)
	coldErr := blockedSend(t, cold, 11)
	// Recv serves hot first (it arrived first); releasing one of its
	// floating buffers puts it in the pool, and the pool grants it to the
	// waiter with the largest backlog: hot (2 left) over cold (1).
	g.Release(0, recv(t, g, 0))
	if err := <-hotErr; err != nil {
		t.Fatal(err)
	}
	if st := cold.Stats(); !st.Waiting || st.Floating != 0 {
		t.Fatalf("cold input: %+v, want still waiting without floating", st)
	}
	// The cold input's own exclusive buffer comes back to it.
	g.Release(1, recv(t, g, 1))
	if err := <-coldErr; err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, g)
}

func TestFloatingTiesGoRoundRobin(t *testing.T) {
	g := mustGate(t, Config{Inputs: 3, Exclusive: 2, Floating: 1})
	a, b, c := g.Sender(0), g.Sender(1), g.Sender(2)
	send(t, c, 0)
	send(t, c, 1) // c takes the only floating buffer
	send(t, a, 10)
	send(t, b, 20)
	aErr := blockedSend(t, a, 11) // a, b: backlog 1 each, both waiting
	bErr := blockedSend(t, b, 21)
	// Release c's batches: its floating buffer returns to the pool and goes
	// to a (the first in round-robin order from input 0).
	g.Release(2, recv(t, g, 2))
	if err := <-aErr; err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.Floating != 1 {
		t.Fatalf("a: %+v, want the floating buffer", st)
	}
	// Next tie is decided starting after a: b wins once a's floating
	// buffer comes back.
	g.Release(0, recv(t, g, 0)) // a's exclusive buffer: stays with a
	g.Release(1, recv(t, g, 1)) // b's exclusive buffer
	if err := <-bErr; err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, g)
}

func TestIdleFloatingReclaimed(t *testing.T) {
	g := mustGate(t, Config{Inputs: 2, Exclusive: 2, Floating: 1})
	quiet, busy := g.Sender(0), g.Sender(1)
	send(t, quiet, 1)
	send(t, quiet, 2) // quiet takes the floating buffer
	g.Release(0, recv(t, g, 0))
	// Backlog 1 remains, so the floating buffer stays parked at quiet as a
	// credit...
	if st := quiet.Stats(); st.Floating != 1 || st.Credits != 1 {
		t.Fatalf("quiet: %+v, want 1 floating parked as a credit", st)
	}
	held := recv(t, g, 0)
	// ...until busy needs it: the pool is empty, so it is reclaimed.
	send(t, busy, 10)
	send(t, busy, 11)
	if st := busy.Stats(); st.Floating != 1 {
		t.Fatalf("busy: %+v, want the reclaimed floating buffer", st)
	}
	if st := quiet.Stats(); st.Floating != 0 || st.Credits != 0 {
		t.Fatalf("quiet: %+v, want its floating buffer gone", st)
	}
	g.Release(0, held)
	checkInvariants(t, g)
}

// TestInvariantsRandomSchedule drives a gate through random non-blocking
// operations and checks after each step that every buffer is in exactly
// one place and the credit counts add up.
func TestInvariantsRandomSchedule(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		n := 1 + rng.IntN(4)
		cfg := Config{Inputs: n, Exclusive: 2 + rng.IntN(3), Floating: rng.IntN(6) - 1, EndOfInput: rng.IntN(2) == 0}
		g := mustGate(t, cfg)
		total := g.Stats().Buffers
		held := make([][]*batch, n)   // acquired by each sender
		atRecv := make([][]*batch, n) // received, not released
		var next [8]uint64
		var got [8]uint64
		for step := 0; step < 3000; step++ {
			i := rng.IntN(n)
			s := g.Sender(i)
			switch op := rng.IntN(10); {
			case op < 2:
				if b, ok := s.TryAcquire(); ok {
					held[i] = append(held[i], b)
				}
			case op < 4 && len(held[i]) > 0:
				b := held[i][0]
				b.recs = append(b.recs[:0], next[i])
				if s.TrySend(b) {
					next[i]++
					held[i] = held[i][1:]
				}
			case op < 6:
				b, in, err := g.TryRecv()
				if err == nil {
					if b.recs[0] != got[in] {
						t.Fatalf("seed %d: input %d delivered %d, want %d", seed, in, b.recs[0], got[in])
					}
					got[in]++
					atRecv[in] = append(atRecv[in], b)
				} else if !errors.Is(err, ErrWouldBlock) && !errors.Is(err, ErrEndOfInput) &&
					!errors.Is(err, ErrClosed) && !errors.Is(err, ErrAllPaused) {
					t.Fatalf("seed %d: TryRecv: %v", seed, err)
				}
			case op < 8 && len(atRecv[i]) > 0:
				k := rng.IntN(len(atRecv[i])) // out of order, as alignment stashing does
				g.Release(i, atRecv[i][k])
				atRecv[i] = append(atRecv[i][:k], atRecv[i][k+1:]...)
			case op == 8:
				if rng.IntN(2) == 0 {
					g.Pause(i)
				} else {
					g.Resume(i)
				}
			case op == 9 && len(held[i]) > 1:
				s.Discard(held[i][0])
				held[i] = held[i][1:]
			case op == 9 && rng.IntN(50) == 0:
				if len(held[i]) > 0 && !s.closed { // end with a last batch
					b := held[i][0]
					b.recs = append(b.recs[:0], next[i])
					held[i] = held[i][1:]
					for _, b := range held[i] {
						s.Discard(b)
					}
					if err := s.SendLast(b); err != nil {
						t.Fatalf("seed %d: SendLast: %v", seed, err)
					}
					next[i]++
				} else {
					for _, b := range held[i] {
						s.Discard(b)
					}
					s.Close()
				}
				held[i] = nil
			}
			checkInvariants(t, g)
			checkDistinct(t, g, total, held, atRecv)
		}
	}
}

// checkDistinct verifies that the buffers in the gate, with the senders
// and at the receiver, are exactly the ones allocated, each once.
func checkDistinct(t *testing.T, g *Gate[*batch], total int, held, atRecv [][]*batch) {
	t.Helper()
	seen := make(map[*batch]string, total)
	add := func(b *batch, where string) {
		if prev, dup := seen[b]; dup {
			t.Fatalf("buffer %d both %s and %s", b.id, prev, where)
		}
		seen[b] = where
	}
	g.mu.Lock()
	for _, b := range g.bufs {
		add(b, "free")
	}
	for i := range g.inputs {
		s := &g.inputs[i]
		if s.hasSpare {
			add(s.spare, "spare")
		}
		for k := 0; k < s.q.n; k++ {
			add(s.q.buf[(s.q.head+k)%len(s.q.buf)], "queued")
		}
	}
	g.mu.Unlock()
	for i := range held {
		for _, b := range held[i] {
			add(b, "acquired")
		}
		for _, b := range atRecv[i] {
			add(b, "received")
		}
	}
	if len(seen) != total {
		t.Fatalf("%d buffers accounted for, want %d", len(seen), total)
	}
}
