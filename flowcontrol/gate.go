package flowcontrol

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Batch is what a channel carries: a reusable buffer of records. Len
// reports how many records it holds, for the record counters and the
// Debloater. Buffers are usually pointers (*pipeline.Batch) so that
// recycling one recycles its memory.
type Batch interface {
	Len() int
}

// Clock tells the time used for back-pressure and idle accounting. Tests
// inject a fake one; nil in a Config means the system clock. Now is called
// with the Gate's lock held, so it must not call back into the Gate.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Defaults used where a Config field is zero. They are Flink's: two
// exclusive buffers per input channel and eight floating buffers per gate.
const (
	DefaultExclusive = 2
	DefaultFloating  = 8
)

// Config sizes a Gate. The zero value means one input with
// DefaultExclusive exclusive buffers and DefaultFloating floating ones.
type Config struct {
	// Inputs is the number of senders feeding the gate; 0 means 1.
	Inputs int
	// Exclusive is the number of buffers each input owns for good; 0 means
	// DefaultExclusive. It must be at least 2: one buffer is being filled
	// by the sender while another is in flight.
	Exclusive int
	// Floating is the number of buffers in the pool shared by all inputs;
	// 0 means DefaultFloating, a negative value means none.
	Floating int
	// EndOfInput makes Recv report the end of each input once, as
	// ErrEndOfInput with the input's index, before the final ErrClosed.
	// Barrier alignment needs it to stop waiting for a finished input.
	EndOfInput bool
	// Clock measures waiting time; nil means the system clock.
	Clock Clock
}

// Gate is the receiving end of a set of credit-based channels, one per
// input, all drawing on one pool of floating buffers. Each input's sending
// end is a Sender, obtained with Gate.Sender. See the package documentation
// for the credit model.
//
// The zero value is not usable: create a Gate with NewGate. Recv, TryRecv,
// Release, Pause and Resume must be called from one goroutine, the
// receiver; Close, Stats and InputStats may be called from any goroutine.
type Gate[B Batch] struct {
	mu     sync.Mutex
	clock  Clock
	newBuf func() B

	inputs    []Sender[B]
	exclusive int

	// bufs holds the empty buffers nobody has taken: the free credits of
	// every input plus the unlent floating ones. Buffers are
	// interchangeable, so counts (Sender.free, pool) say whose they are and
	// any element will do.
	bufs     []B
	pool     int // floating buffers not lent to any input
	floating int // floating buffers in all
	waiters  int // senders blocked for want of credit
	cursor   int // round-robin start for granting floating buffers

	ready     ring[int] // inputs with a backlog, served round-robin
	ends      ring[int] // end-of-input notices not yet reported
	reportEnd bool
	open      int // inputs not yet closed and drained
	closed    bool

	// Receiver side.
	wake        chan struct{}
	recvWaiting bool
	idling      bool
	idleStart   time.Time
	idle        time.Duration
	recvBatches uint64
	recvRecords uint64
	start       time.Time
}

// NewGate returns a Gate with cfg.Inputs inputs. It calls newBuf once per
// buffer, Inputs*Exclusive + Floating times, and never again unless a
// sender closes while holding buffers it did not send (see Sender.Close):
// these are all the buffers that will ever be in flight. newBuf must not
// call into the Gate.
func NewGate[B Batch](cfg Config, newBuf func() B) (*Gate[B], error) {
	if newBuf == nil {
		return nil, fmt.Errorf("flowcontrol: NewGate: nil buffer constructor: %w", ErrInvalidParameter)
	}
	n, excl, float := cfg.Inputs, cfg.Exclusive, cfg.Floating
	if n == 0 {
		n = 1
	}
	if excl == 0 {
		excl = DefaultExclusive
	}
	switch {
	case float == 0:
		float = DefaultFloating
	case float < 0:
		float = 0
	}
	if n < 0 {
		return nil, fmt.Errorf("flowcontrol: NewGate: %d inputs: %w", n, ErrInvalidParameter)
	}
	if excl < 2 {
		return nil, fmt.Errorf("flowcontrol: NewGate: %d exclusive buffers per input, need at least 2 (one being filled, one in flight): %w", excl, ErrInvalidParameter)
	}
	const maxBuffers = 1 << 24 // a sanity bound: every buffer is allocated up front
	if n > maxBuffers/excl || n*excl > maxBuffers-float {
		return nil, fmt.Errorf("flowcontrol: NewGate: %d inputs x %d exclusive + %d floating buffers is too many: %w", n, excl, float, ErrInvalidParameter)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = systemClock{}
	}
	g := &Gate[B]{
		clock:     clock,
		newBuf:    newBuf,
		inputs:    make([]Sender[B], n),
		exclusive: excl,
		bufs:      make([]B, 0, n*excl+float),
		pool:      float,
		floating:  float,
		ready:     newRing[int](n),
		reportEnd: cfg.EndOfInput,
		open:      n,
		wake:      make(chan struct{}, 1),
	}
	if cfg.EndOfInput {
		g.ends = newRing[int](n)
	}
	for i := 0; i < n*excl+float; i++ {
		g.bufs = append(g.bufs, newBuf())
	}
	for i := range g.inputs {
		g.inputs[i] = Sender[B]{
			g:    g,
			id:   i,
			wake: make(chan struct{}, 1),
			q:    newRing[B](excl + float), // an input never owns more
			free: excl,
		}
	}
	g.start = clock.Now()
	return g, nil
}

// Inputs returns the number of inputs.
func (g *Gate[B]) Inputs() int { return len(g.inputs) }

// Sender returns the sending end of input i, the same one on every call.
// It panics if i is out of range.
func (g *Gate[B]) Sender(i int) *Sender[B] { return &g.inputs[i] }

// Recv returns the next batch and the input it came from, waiting while
// there is none. Inputs with a backlog are served round-robin, one batch
// each, so a busy input cannot starve a quiet one; paused inputs are
// skipped. The caller owns the batch until it hands it back with Release,
// which is what returns the credit to the sender.
//
// Recv returns ErrClosed once every input has been closed and drained, or
// after Close; ErrEndOfInput if Config.EndOfInput asked for it;
// ErrAllPaused if every open input is paused; and ctx.Err() if ctx is done
// first. With an error the batch is the zero value; the input index is -1
// except with ErrEndOfInput.
func (g *Gate[B]) Recv(ctx context.Context) (B, int, error) {
	g.mu.Lock()
	for {
		if b, i, err, ok := g.poll(); ok {
			g.stopIdling()
			g.mu.Unlock()
			return b, i, err
		}
		if g.allPaused() {
			g.stopIdling()
			g.mu.Unlock()
			var zero B
			return zero, -1, ErrAllPaused
		}
		if !g.idling {
			g.idling = true
			g.idleStart = g.clock.Now()
		}
		g.recvWaiting = true
		g.mu.Unlock()
		select {
		case <-g.wake:
		case <-ctx.Done():
			g.mu.Lock()
			g.recvWaiting = false
			g.stopIdling()
			g.mu.Unlock()
			var zero B
			return zero, -1, ctx.Err()
		}
		g.mu.Lock()
		g.recvWaiting = false
	}
}

// TryRecv is Recv without waiting: where Recv would wait it returns
// ErrWouldBlock.
func (g *Gate[B]) TryRecv() (B, int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, i, err, ok := g.poll(); ok {
		return b, i, err
	}
	var zero B
	if g.allPaused() {
		return zero, -1, ErrAllPaused
	}
	return zero, -1, ErrWouldBlock
}

// poll takes what Recv should deliver, if anything. Called with g.mu held.
func (g *Gate[B]) poll() (b B, input int, err error, ok bool) {
	if g.closed {
		return b, -1, ErrClosed, true
	}
	for g.ready.n > 0 {
		i := g.ready.pop()
		s := &g.inputs[i]
		s.inReady = false
		if s.paused || s.q.n == 0 {
			continue // Resume puts it back
		}
		b = s.q.pop()
		s.recv++
		if s.q.n > 0 {
			g.ready.push(i) // to the back: one batch per input per round
			s.inReady = true
		} else if s.closed {
			g.end(s)
		}
		g.recvBatches++
		g.recvRecords += uint64(b.Len())
		return b, i, nil, true
	}
	if g.ends.n > 0 {
		return b, g.ends.pop(), ErrEndOfInput, true
	}
	if g.open == 0 {
		return b, -1, ErrClosed, true
	}
	return b, -1, nil, false
}

// allPaused reports whether no open input can ever deliver without a
// Resume. Called with g.mu held, only on the way to waiting.
func (g *Gate[B]) allPaused() bool {
	for i := range g.inputs {
		if s := &g.inputs[i]; !s.ended && !s.paused {
			return false
		}
	}
	return g.open > 0
}

func (g *Gate[B]) stopIdling() {
	if g.idling {
		g.idling = false
		g.idle += g.clock.Now().Sub(g.idleStart)
	}
}

// Release hands back a batch that Recv delivered from input, to be reused:
// it becomes a credit again, for that input or, if it was a floating
// buffer, for whichever input needs it most. Release does not clear b; the
// sender does that after Acquire. It panics if the receiver holds no batch
// from input, which means b was released twice or came from elsewhere.
//
// Credits come back only through Release, so a receiver that keeps
// batches while it waits in Recv starves their input: an input can send
// only while it has a buffer besides the one its sender is filling. Keep at
// most Exclusive-2 batches of an input across Recv (floating buffers may
// cover more, but nothing guarantees them), or Pause the input instead.
func (g *Gate[B]) Release(input int, b B) {
	g.mu.Lock()
	s := &g.inputs[input]
	if s.recv == 0 {
		g.mu.Unlock()
		panic(fmt.Sprintf("flowcontrol: Release for input %d, which has no batch at the receiver", input))
	}
	s.recv--
	g.recycle(s, b)
	g.mu.Unlock()
}

// Pause stops Recv from delivering input's batches until Resume; its
// sender keeps its exclusive credits and is back-pressured once they are
// used, but gets no floating ones; floating buffers already in its backlog
// stay there until it is resumed and drained. Barrier alignment pauses an
// input that has delivered the barrier until every other input has.
func (g *Gate[B]) Pause(input int) {
	g.mu.Lock()
	g.inputs[input].paused = true
	g.mu.Unlock()
}

// Resume undoes Pause.
func (g *Gate[B]) Resume(input int) {
	g.mu.Lock()
	s := &g.inputs[input]
	if s.paused {
		s.paused = false
		if s.q.n > 0 && !s.inReady {
			g.ready.push(input)
			s.inReady = true
		}
		g.grant() // it may now take floating buffers it was waiting for
	}
	g.mu.Unlock()
}

// Close abandons the gate from the receiving side: queued batches are
// dropped (their buffers recycled), Recv returns ErrClosed, and senders get
// ErrClosed from Send and Acquire instead of waiting forever. Buffers the
// receiver still holds may still be Released. Close is idempotent.
func (g *Gate[B]) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.closed = true
	for i := range g.inputs {
		s := &g.inputs[i]
		for s.q.n > 0 {
			g.bufs = append(g.bufs, s.q.pop())
			s.free++
		}
		s.inReady = false
		signal(s.wake)
	}
	g.ready = ring[int]{buf: g.ready.buf}
	signal(g.wake)
}

// signal wakes the goroutine waiting on c, if any. A wake-up nobody
// consumes stays in the channel and causes one harmless extra check later.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
