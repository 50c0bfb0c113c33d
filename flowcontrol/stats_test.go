package flowcontrol

import (
	"context"
	"testing"
	"time"
)

func TestBackPressureAccountedExactly(t *testing.T) {
	clk := newFakeClock()
	g := mustGate(t, Config{Exclusive: 2, Floating: -1, Clock: clk})
	s := g.Sender(0)
	send(t, s, 1)
	clk.Advance(time.Second) // not waiting: not back-pressured
	errc := blockedSend(t, s, 2)
	clk.Advance(3 * time.Second)
	// A wait in progress shows in the snapshot.
	if st := s.Stats(); st.BackPressured != 3*time.Second || !st.Waiting || st.Credits != 0 {
		t.Fatalf("while waiting: %+v, want 3s back-pressured, waiting, no credit", st)
	}
	if gs := g.Stats(); gs.SendersWaiting != 1 {
		t.Fatalf("SendersWaiting = %d, want 1", gs.SendersWaiting)
	}
	clk.Advance(2 * time.Second)
	b, _, err := g.Recv(context.Background()) // data is there: no idle time
	if err != nil {
		t.Fatal(err)
	}
	g.Release(0, b)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour) // not waiting any more
	if st := s.Stats(); st.BackPressured != 5*time.Second || st.Waiting {
		t.Fatalf("after the wait: %+v, want 5s back-pressured", st)
	}
	gs := g.Stats()
	if gs.Idle != 0 || gs.Elapsed != time.Hour+6*time.Second || gs.Busy() != gs.Elapsed {
		t.Fatalf("gate: %+v, want no idle time, elapsed 1h6s, all busy", gs)
	}
}

func TestReceiverIdleAccountedExactly(t *testing.T) {
	clk := newFakeClock()
	g := mustGate(t, Config{Clock: clk})
	s := g.Sender(0)
	got := make(chan error)
	go func() {
		b, i, err := g.Recv(context.Background())
		if err == nil {
			g.Release(i, b)
		}
		got <- err
	}()
	waitUntil(t, "the receiver waits", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.recvWaiting
	})
	clk.Advance(7 * time.Second)
	if gs := g.Stats(); gs.Idle != 7*time.Second || gs.Busy() != 0 {
		t.Fatalf("while waiting: idle %v busy %v, want 7s and 0", gs.Idle, gs.Busy())
	}
	send(t, s, 1, 2, 3)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second) // busy: the receiver is not in Recv
	gs := g.Stats()
	want := GateStats{
		Inputs: 1, Open: 1, Buffers: 10, FloatingFree: 8, FloatingTotal: 8,
		Credits: 1, Backlog: 0, InFlight: 1, // the spare at the sender
		Batches: 1, Records: 3,
		Idle: 7 * time.Second, Elapsed: 11 * time.Second,
	}
	if gs != want {
		t.Fatalf("stats\n got %+v\nwant %+v", gs, want)
	}
	if gs.Busy() != 4*time.Second {
		t.Errorf("Busy = %v, want 4s", gs.Busy())
	}
	if gs.Credits+gs.FloatingFree+gs.InFlight != gs.Buffers {
		t.Errorf("credits + pool + in flight != buffers: %+v", gs)
	}
}
