package flowcontrol

import "time"

// Stats is a snapshot of one input's channel. Durations include a wait in
// progress, so a sender stuck right now shows as back-pressured right now.
// The zero value is an empty snapshot; a Stats is a plain value.
type Stats struct {
	// Credits is the number of empty buffers the sender could take without
	// waiting: its exclusive ones plus floating ones parked at the input.
	// It does not count the shared pool (GateStats.FloatingFree).
	Credits int
	// Backlog is the number of batches sent and not yet received.
	Backlog int
	// AtSender is the number of buffers the sender holds: acquired, or
	// obtained by Send for the next Acquire.
	AtSender int
	// AtReceiver is the number of batches received and not yet released.
	AtReceiver int
	// Exclusive is the number of buffers the input owns for good.
	Exclusive int
	// Floating is the number of floating buffers lent to the input now.
	Floating int
	// Batches and Records count what the sender has sent.
	Batches uint64
	Records uint64
	// BackPressured is the total time the sender has waited for credit in
	// Send and Acquire. With GateStats.Elapsed it gives the fraction of
	// time the sender was back-pressured.
	BackPressured time.Duration
	// Waiting reports that the sender is waiting for credit right now.
	Waiting bool
	// Paused, Closed and Ended report Pause, the sender's Close, and Close
	// with the backlog drained.
	Paused, Closed, Ended bool
}

// InFlight is the number of the input's buffers in use: everything it owns
// except its idle credits.
func (s Stats) InFlight() int { return s.AtSender + s.Backlog + s.AtReceiver }

// Stats returns a snapshot of this input's channel.
func (s *Sender[B]) Stats() Stats {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	return s.statsLocked()
}

// InputStats returns a snapshot of input i's channel; it panics if i is out
// of range.
func (g *Gate[B]) InputStats(i int) Stats { return g.inputs[i].Stats() }

func (s *Sender[B]) statsLocked() Stats {
	st := Stats{
		Credits:       s.free,
		Backlog:       s.q.n,
		AtSender:      s.out,
		AtReceiver:    s.recv,
		Exclusive:     s.g.exclusive,
		Floating:      s.float,
		Batches:       s.batches,
		Records:       s.records,
		BackPressured: s.blocked,
		Waiting:       s.waiting,
		Paused:        s.paused,
		Closed:        s.closed,
		Ended:         s.ended,
	}
	if s.hasSpare {
		st.AtSender++
	}
	if s.blocking {
		st.BackPressured += s.g.clock.Now().Sub(s.waitStart)
	}
	return st
}

// GateStats is a snapshot of a whole Gate. The zero value is an empty
// snapshot; a GateStats is a plain value.
type GateStats struct {
	// Inputs is the number of inputs; Open those not yet ended.
	Inputs, Open int
	// Buffers is the number of buffers in all: Inputs*Exclusive+Floating.
	Buffers int
	// FloatingFree is the number of floating buffers in the pool, lent to
	// no input; FloatingTotal is the size of the pool.
	FloatingFree, FloatingTotal int
	// Credits, Backlog and InFlight are the sums over the inputs (see
	// Stats). Credits + FloatingFree + InFlight == Buffers.
	Credits, Backlog, InFlight int
	// Batches and Records count what the receiver has received.
	Batches uint64
	Records uint64
	// Idle is the total time the receiver has waited in Recv for data,
	// including a wait in progress.
	Idle time.Duration
	// Elapsed is the time since NewGate, by the gate's Clock.
	Elapsed time.Duration
	// SendersWaiting is the number of senders waiting for credit now.
	SendersWaiting int
	// Closed reports that the receiver closed the gate.
	Closed bool
}

// Busy is the time the receiver spent outside Recv's waits: processing,
// or not yet receiving. Elapsed - Idle.
func (s GateStats) Busy() time.Duration { return s.Elapsed - s.Idle }

// Stats returns a snapshot of the gate.
func (g *Gate[B]) Stats() GateStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	st := GateStats{
		Inputs:         len(g.inputs),
		Open:           g.open,
		FloatingFree:   g.pool,
		FloatingTotal:  g.floating,
		Batches:        g.recvBatches,
		Records:        g.recvRecords,
		Idle:           g.idle,
		Elapsed:        now.Sub(g.start),
		SendersWaiting: g.waiters,
		Closed:         g.closed,
	}
	st.Buffers = len(g.inputs)*g.exclusive + g.floating
	for i := range g.inputs {
		s := g.inputs[i].statsLocked()
		st.Credits += s.Credits
		st.Backlog += s.Backlog
		st.InFlight += s.InFlight()
	}
	if g.idling {
		st.Idle += now.Sub(g.idleStart)
	}
	return st
}
