package flowcontrol

import (
	"context"
	"fmt"
	"time"
)

// Sender is the sending end of one input of a Gate: a credit-based channel
// of batches in reused buffers. A sender works on one buffer at a time:
// Acquire gives it an empty one, and Send hands the filled buffer over in
// exchange for the next empty one, which the following Acquire returns at
// once. Send is therefore where back-pressure bites: it waits until the
// receiver has recycled a buffer, a credit.
//
// The zero value is not usable: get a Sender from Gate.Sender. Acquire,
// TryAcquire, Send, TrySend, Discard and Close must be called from one
// goroutine per Sender (different Senders of a Gate may run concurrently);
// Stats may be called from any goroutine.
type Sender[B Batch] struct {
	g    *Gate[B]
	id   int
	wake chan struct{}
	q    ring[B] // the backlog: sent, not yet received

	free  int // credits: empty buffers this input may take
	float int // floating buffers lent to this input, wherever they are
	out   int // buffers acquired by the sender and not sent
	recv  int // buffers delivered and not yet released

	spare    B // the empty buffer Send obtained in exchange
	hasSpare bool

	waiting   bool // blocked for credit right now
	blocking  bool // inside a wait that may span several wake-ups
	waitStart time.Time
	blocked   time.Duration

	batches uint64
	records uint64

	closed  bool // by the sender
	ended   bool // closed and drained
	paused  bool
	inReady bool // listed in g.ready
}

// Acquire returns an empty buffer to fill. After a Send it returns the
// buffer Send obtained, without waiting; otherwise it takes a credit,
// waiting for one if there is none. The buffer is in whatever state the
// receiver left it: clear it before filling. Acquire returns ErrClosed
// after Close (by either end) and ctx.Err() if ctx is done before a credit
// comes; a credit at hand is taken even if ctx is already done.
func (s *Sender[B]) Acquire(ctx context.Context) (B, error) {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	var zero B
	if err := s.usable(); err != nil {
		return zero, err
	}
	if s.hasSpare {
		return s.takeSpare(), nil
	}
	if err := s.waitCredit(ctx); err != nil {
		return zero, err
	}
	s.out++
	return g.takeBuf(), nil
}

// TryAcquire is Acquire without waiting: it reports false, at once, when
// there is no credit or the channel is closed.
func (s *Sender[B]) TryAcquire() (B, bool) {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	var zero B
	if s.usable() != nil {
		return zero, false
	}
	if s.hasSpare {
		return s.takeSpare(), true
	}
	if !g.takeCredit(s) {
		return zero, false
	}
	s.out++
	return g.takeBuf(), true
}

// Send hands the filled buffer b, which must come from Acquire, to the
// receiver and obtains the next empty buffer in exchange, for Acquire to
// return. Without a credit it waits (back-pressure); if ctx is done first
// it returns ctx.Err() and nothing was sent: b is still the sender's. If
// the sender holds other acquired buffers, Send needs no exchange and never
// waits. Send returns ErrClosed, sending nothing, after Close by either
// end. It panics if the sender holds no acquired buffer.
func (s *Sender[B]) Send(ctx context.Context, b B) error {
	g := s.g
	n := b.Len() // outside the lock: it is the caller's code
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	s.checkOut("Send")
	if s.out == 1 {
		if err := s.waitCredit(ctx); err != nil {
			return err
		}
		s.spare = g.takeBuf()
		s.hasSpare = true
	}
	s.out--
	s.enqueue(b, n)
	return nil
}

// TrySend is Send without waiting: it reports false, at once, when there
// is no credit or the channel is closed, and b stays the sender's, to be
// sent later or, by a shedder, cleared and refilled.
func (s *Sender[B]) TrySend(b B) bool {
	g := s.g
	n := b.Len()
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.usable() != nil {
		return false
	}
	s.checkOut("TrySend")
	if s.out == 1 {
		if !g.takeCredit(s) {
			return false
		}
		s.spare = g.takeBuf()
		s.hasSpare = true
	}
	s.out--
	s.enqueue(b, n)
	return true
}

// SendLast hands over b, which must come from Acquire, as the sender's
// final batch and closes the input, as Send followed by Close would, but
// without the exchange: no buffer will be filled after it, so SendLast
// needs no credit and never waits. It returns ErrClosed, sending nothing,
// if either end already closed. It panics if the sender holds no acquired
// buffer.
func (s *Sender[B]) SendLast(b B) error {
	g := s.g
	n := b.Len()
	g.mu.Lock()
	if err := s.usable(); err != nil {
		g.mu.Unlock()
		return err
	}
	s.checkOut("SendLast")
	s.out--
	s.enqueue(b, n)
	g.mu.Unlock()
	s.Close()
	return nil
}

// Discard gives back an acquired buffer without sending it; its credit
// becomes available again. It panics if the sender holds no acquired
// buffer.
func (s *Sender[B]) Discard(b B) {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	s.checkOut("Discard")
	s.out--
	g.recycle(s, b)
}

// Close ends the stream of this input: the receiver gets the batches
// already sent and then, once all inputs have ended, ErrClosed. Buffers the
// sender acquired and did not send are forfeited and the gate allocates
// replacements, so send or Discard them first. Close is idempotent.
func (s *Sender[B]) Close() {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.hasSpare {
		s.hasSpare = false
		g.bufs = append(g.bufs, s.takeSpareValue())
		s.free++
	}
	for ; s.out > 0; s.out-- {
		g.bufs = append(g.bufs, g.newBuf())
		s.free++
	}
	for s.float > 0 && s.free > 0 {
		s.float--
		s.free--
		g.pool++
	}
	g.grant()
	if s.q.n == 0 && !s.ended {
		g.end(s)
	}
}

// usable reports why the sender may not proceed, if it may not.
func (s *Sender[B]) usable() error {
	if s.closed || s.g.closed {
		return ErrClosed
	}
	return nil
}

func (s *Sender[B]) checkOut(op string) {
	if s.out == 0 {
		panic(fmt.Sprintf("flowcontrol: %s on input %d, which holds no acquired buffer", op, s.id))
	}
}

func (s *Sender[B]) takeSpare() B {
	s.out++
	return s.takeSpareValue()
}

func (s *Sender[B]) takeSpareValue() B {
	b := s.spare
	var zero B
	s.spare = zero
	s.hasSpare = false
	return b
}

// takeBuf pops an empty buffer after takeCredit succeeded.
func (g *Gate[B]) takeBuf() B {
	last := len(g.bufs) - 1
	b := g.bufs[last]
	var zero B
	g.bufs[last] = zero
	g.bufs = g.bufs[:last]
	return b
}

// waitCredit takes a credit for s, waiting for one if need be. Called with
// g.mu held; it may release and retake it.
func (s *Sender[B]) waitCredit(ctx context.Context) error {
	g := s.g
	for {
		if err := s.usable(); err != nil {
			s.stopBlocking()
			return err
		}
		if g.takeCredit(s) {
			s.stopBlocking()
			return nil
		}
		if !s.blocking {
			s.blocking = true
			s.waitStart = g.clock.Now()
		}
		s.waiting = true
		g.waiters++
		g.mu.Unlock()
		var err error
		select {
		case <-s.wake:
		case <-ctx.Done():
			err = ctx.Err()
		}
		g.mu.Lock()
		s.waiting = false
		g.waiters--
		if err != nil {
			s.stopBlocking()
			return err
		}
	}
}

func (s *Sender[B]) stopBlocking() {
	if s.blocking {
		s.blocking = false
		s.blocked += s.g.clock.Now().Sub(s.waitStart)
	}
}

// enqueue puts a sent batch of n records in the backlog.
func (s *Sender[B]) enqueue(b B, n int) {
	g := s.g
	s.q.push(b)
	s.batches++
	s.records += uint64(n)
	if !s.inReady && !s.paused {
		g.ready.push(s.id)
		s.inReady = true
	}
	if g.recvWaiting {
		signal(g.wake)
	}
}
