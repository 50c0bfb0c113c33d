package flowcontrol

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// send acquires a buffer, fills it with recs and sends it without waiting;
// the test fails if there is no credit.
func send(t *testing.T, s *Sender[*batch], recs ...uint64) {
	t.Helper()
	b, ok := s.TryAcquire()
	if !ok {
		t.Fatalf("input %d: TryAcquire: no credit", s.id)
	}
	b.recs = append(b.recs[:0], recs...)
	if !s.TrySend(b) {
		t.Fatalf("input %d: TrySend: no credit", s.id)
	}
}

// recv receives without waiting and checks where the batch came from.
func recv(t *testing.T, g *Gate[*batch], wantInput int) *batch {
	t.Helper()
	b, i, err := g.TryRecv()
	if err != nil {
		t.Fatalf("TryRecv: %v, want a batch from input %d", err, wantInput)
	}
	if i != wantInput {
		t.Fatalf("TryRecv: batch from input %d, want %d", i, wantInput)
	}
	return b
}

func TestNewGateParameters(t *testing.T) {
	nb, _ := newBatches(1)
	for _, tc := range []struct {
		name    string
		cfg     Config
		buffers int // want Inputs*Exclusive+Floating; 0 means an error
	}{
		{"zero config means 1 input, 2 exclusive, 8 floating", Config{}, 10},
		{"negative floating means none", Config{Inputs: 3, Floating: -1}, 6},
		{"explicit sizes", Config{Inputs: 4, Exclusive: 3, Floating: 5}, 17},
		{"one exclusive buffer cannot exchange", Config{Exclusive: 1}, 0},
		{"negative exclusive", Config{Exclusive: -2}, 0},
		{"negative inputs", Config{Inputs: -1}, 0},
		{"absurd buffer count", Config{Inputs: 1 << 30, Exclusive: 1 << 10}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGate(tc.cfg, nb)
			if tc.buffers == 0 {
				if !errors.Is(err, ErrInvalidParameter) {
					t.Fatalf("err = %v, want ErrInvalidParameter", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Stats().Buffers; got != tc.buffers {
				t.Errorf("Buffers = %d, want %d", got, tc.buffers)
			}
		})
	}
	if _, err := NewGate[*batch](Config{}, nil); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("nil constructor: err = %v, want ErrInvalidParameter", err)
	}
}

func TestRoundTripInOrderThenClosed(t *testing.T) {
	g := mustGate(t, Config{Exclusive: 2, Floating: -1})
	s := g.Sender(0)
	ctx := context.Background()
	done := make(chan error, 1)
	const n = 1000
	go func() {
		for i := uint64(0); i < n; i++ {
			b, err := s.Acquire(ctx)
			if err != nil {
				done <- err
				return
			}
			b.recs = append(b.recs[:0], i, i*i)
			if err := s.Send(ctx, b); err != nil {
				done <- err
				return
			}
		}
		s.Close()
		done <- nil
	}()
	for i := uint64(0); ; i++ {
		b, in, err := g.Recv(ctx)
		if errors.Is(err, ErrClosed) {
			if i != n {
				t.Fatalf("ErrClosed after %d batches, want %d", i, n)
			}
			break
		}
		if err != nil || in != 0 {
			t.Fatalf("Recv = input %d, %v", in, err)
		}
		if len(b.recs) != 2 || b.recs[0] != i || b.recs[1] != i*i {
			t.Fatalf("batch %d holds %v", i, b.recs)
		}
		g.Release(in, b)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := g.InputStats(0)
	if st.Batches != n || st.Records != 2*n || !st.Ended {
		t.Errorf("input stats = %+v, want %d batches, %d records, ended", st, n, 2*n)
	}
	if gs := g.Stats(); gs.Batches != n || gs.Records != 2*n || gs.Open != 0 {
		t.Errorf("gate stats = %+v", gs)
	}
	checkInvariants(t, g)
}

func TestTrySendWithoutCreditKeepsBatch(t *testing.T) {
	g := mustGate(t, Config{Exclusive: 2, Floating: -1})
	s := g.Sender(0)
	send(t, s, 1) // exchange: one queued, one spare
	b, ok := s.TryAcquire()
	if !ok {
		t.Fatal("TryAcquire after Send must return the spare")
	}
	b.recs = append(b.recs[:0], 2)
	if s.TrySend(b) {
		t.Fatal("TrySend succeeded with no credit")
	}
	if st := s.Stats(); st.Credits != 0 || st.Backlog != 1 || st.AtSender != 1 {
		t.Fatalf("stats = %+v, want 0 credits, backlog 1, 1 at sender", st)
	}
	if _, ok := s.TryAcquire(); ok {
		t.Fatal("TryAcquire succeeded with no credit")
	}
	g.Release(0, recv(t, g, 0))
	if !s.TrySend(b) {
		t.Fatal("TrySend failed after the receiver returned a credit")
	}
	if got := recv(t, g, 0).recs; len(got) != 1 || got[0] != 2 {
		t.Fatalf("received %v, want [2]", got)
	}
	checkInvariants(t, g)
}

func TestRecvRoundRobinAcrossInputs(t *testing.T) {
	g := mustGate(t, Config{Inputs: 3, Exclusive: 6, Floating: -1})
	for k := uint64(0); k < 5; k++ {
		send(t, g.Sender(0), k) // a busy input
	}
	send(t, g.Sender(2), 100)
	send(t, g.Sender(1), 200)
	send(t, g.Sender(2), 101)
	// Order of first arrival is 0, 2, 1; then one batch per input per round.
	var got []string
	for {
		b, i, err := g.TryRecv()
		if errors.Is(err, ErrWouldBlock) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%d", i, b.recs[0]))
		g.Release(i, b)
	}
	want := "0:0 2:100 1:200 0:1 2:101 0:2 0:3 0:4"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("delivery order\n got %s\nwant %s", s, want)
	}
	checkInvariants(t, g)
}

func TestSendCancelledLeavesBatchWithSender(t *testing.T) {
	g := mustGate(t, Config{Exclusive: 2, Floating: -1})
	s := g.Sender(0)
	send(t, s, 1)
	b, _ := s.TryAcquire()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- s.Send(ctx, b) }()
	waitUntil(t, "the sender waits for credit", func() bool { return s.Stats().Waiting })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	if st := s.Stats(); st.Backlog != 1 || st.AtSender != 1 || st.Waiting || st.Batches != 1 {
		t.Fatalf("after cancel: %+v, want backlog 1, 1 at sender, 1 batch sent", st)
	}
	checkInvariants(t, g)
}

func TestRecvCancelled(t *testing.T) {
	g := mustGate(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, i, err := g.Recv(ctx)
		if i != -1 {
			err = fmt.Errorf("input %d with %w", i, err)
		}
		errc <- err
	}()
	waitUntil(t, "the receiver waits", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.recvWaiting
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv = %v, want context.Canceled at input -1", err)
	}
}

func TestPauseSkipsInputAndAllPaused(t *testing.T) {
	g := mustGate(t, Config{Inputs: 2, Floating: -1})
	send(t, g.Sender(0), 1)
	send(t, g.Sender(1), 2)
	g.Pause(0)
	g.Release(1, recv(t, g, 1))
	if _, _, err := g.TryRecv(); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryRecv with input 0 paused = %v, want ErrWouldBlock", err)
	}
	g.Pause(1)
	if _, _, err := g.Recv(context.Background()); !errors.Is(err, ErrAllPaused) {
		t.Fatalf("Recv with all inputs paused = %v, want ErrAllPaused", err)
	}
	g.Resume(0)
	g.Release(0, recv(t, g, 0))
	checkInvariants(t, g)
}

func TestPausedInputGetsNoFloating(t *testing.T) {
	g := mustGate(t, Config{Exclusive: 2, Floating: 4})
	s := g.Sender(0)
	g.Pause(0)
	send(t, s, 1)
	b, _ := s.TryAcquire()
	if s.TrySend(b) {
		t.Fatal("a paused input took a floating buffer")
	}
	g.Resume(0)
	if !s.TrySend(b) {
		t.Fatal("a resumed input could not take a floating buffer")
	}
	checkInvariants(t, g)
}

func TestEndOfInputReportedOnceAfterData(t *testing.T) {
	g := mustGate(t, Config{Inputs: 2, EndOfInput: true, Floating: -1})
	send(t, g.Sender(0), 1)
	g.Sender(0).Close()
	g.Sender(1).Close() // nothing sent: ends at once
	var got []string
	for {
		b, i, err := g.TryRecv()
		switch {
		case errors.Is(err, ErrEndOfInput):
			got = append(got, fmt.Sprintf("end %d", i))
			continue
		case errors.Is(err, ErrClosed):
			got = append(got, "closed")
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, fmt.Sprintf("batch %d", i))
			g.Release(i, b)
			continue
		}
		break
	}
	if s, want := strings.Join(got, ", "), "batch 0, end 1, end 0, closed"; s != want {
		t.Errorf("got %s, want %s", s, want)
	}
	checkInvariants(t, g)
}

func TestGateCloseWakesSenderAndReceiver(t *testing.T) {
	g := mustGate(t, Config{Inputs: 2, Floating: -1})
	s := g.Sender(0)
	send(t, s, 1)
	b, _ := s.TryAcquire()
	errc := make(chan error)
	go func() { errc <- s.Send(context.Background(), b) }()
	waitUntil(t, "the sender waits", func() bool { return s.Stats().Waiting })
	g.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Gate.Close = %v, want ErrClosed", err)
	}
	if _, _, err := g.Recv(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv after Close = %v, want ErrClosed", err)
	}
	if _, err := g.Sender(1).Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close = %v, want ErrClosed", err)
	}
	if st := g.Stats(); st.Backlog != 0 || !st.Closed {
		t.Fatalf("stats after Close = %+v, want no backlog", st)
	}
	checkInvariants(t, g)
}

func TestSenderCloseForfeitsUnsentBuffers(t *testing.T) {
	nb, made := newBatches(1)
	g, err := NewGate(Config{Exclusive: 3, Floating: -1}, nb)
	if err != nil {
		t.Fatal(err)
	}
	s := g.Sender(0)
	s.TryAcquire()
	s.TryAcquire()
	s.Close()
	if *made != 5 {
		t.Errorf("%d buffers made, want 3 + 2 replacements", *made)
	}
	if _, err := s.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
	if s.TrySend(&batch{}) {
		t.Error("TrySend after Close succeeded")
	}
	if _, _, err := g.TryRecv(); !errors.Is(err, ErrClosed) {
		t.Errorf("TryRecv = %v, want ErrClosed", err)
	}
	checkInvariants(t, g)
}

func TestDiscardReturnsCredit(t *testing.T) {
	g := mustGate(t, Config{Exclusive: 2, Floating: -1})
	s := g.Sender(0)
	a, _ := s.TryAcquire()
	b, _ := s.TryAcquire()
	if _, ok := s.TryAcquire(); ok {
		t.Fatal("third TryAcquire with 2 exclusive buffers succeeded")
	}
	s.Discard(a)
	if st := s.Stats(); st.Credits != 1 || st.AtSender != 1 {
		t.Fatalf("after Discard: %+v", st)
	}
	if !s.TrySend(b) {
		t.Fatal("TrySend after Discard failed")
	}
	checkInvariants(t, g)
}

func TestMisusePanics(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		f          func(g *Gate[*batch])
	}{
		{"Send without Acquire", "holds no acquired buffer", func(g *Gate[*batch]) {
			g.Sender(0).Send(context.Background(), &batch{})
		}},
		{"TrySend twice", "holds no acquired buffer", func(g *Gate[*batch]) {
			b, _ := g.Sender(0).TryAcquire()
			g.Sender(0).TrySend(b)
			g.Sender(0).TrySend(b)
		}},
		{"Discard without Acquire", "holds no acquired buffer", func(g *Gate[*batch]) {
			g.Sender(0).Discard(&batch{})
		}},
		{"Release without Recv", "no batch at the receiver", func(g *Gate[*batch]) {
			g.Release(0, &batch{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := mustGate(t, Config{})
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.want) {
					t.Fatalf("panic %v, want one mentioning %q", r, tc.want)
				}
			}()
			tc.f(g)
		})
	}
}

func TestSendLastNeedsNoCredit(t *testing.T) {
	g := mustGate(t, Config{Exclusive: 2, Floating: -1, EndOfInput: true})
	s := g.Sender(0)
	send(t, s, 1)
	b, _ := s.TryAcquire()
	if s.TrySend(b) {
		t.Fatal("TrySend had a credit")
	}
	b.recs = append(b.recs[:0], 2)
	if err := s.SendLast(b); err != nil { // no credit, yet it does not wait
		t.Fatal(err)
	}
	if err := s.SendLast(b); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendLast after close = %v, want ErrClosed", err)
	}
	for _, want := range []uint64{1, 2} {
		b := recv(t, g, 0)
		if b.recs[0] != want {
			t.Fatalf("received %v, want [%d]", b.recs, want)
		}
		g.Release(0, b)
	}
	if _, i, err := g.TryRecv(); !errors.Is(err, ErrEndOfInput) || i != 0 {
		t.Fatalf("TryRecv = %d, %v; want end of input 0", i, err)
	}
	if _, _, err := g.TryRecv(); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryRecv = %v, want ErrClosed", err)
	}
	checkInvariants(t, g)
}
