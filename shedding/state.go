package shedding

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
)

// Shed state encoding (inside the envelope, kind ShedState): everything a
// Shedder needs to go on deciding as it would have, the p in force first
// among them. The configuration (controller tuning, Score) is not state:
// restore into a Shedder made with the same Config.
//
//	shape[0] policy
//	shape[1] priority window W (0 for other policies)
//	shape[2] E, epochs in the log
//	shape[3] m | ms<<32: scores in the priority window, and in its snapshot
//	payload  29 uint64 fields (stateFields), the sizes of the last 64
//	         batches sent (uint32 each, oldest first), then E epochs
//	         (start, p), then the m window scores oldest first, then the ms
//	         of the snapshot; floats as IEEE-754 bits
//
// Rings are written oldest first, so their rotation is not state.
// The Replay schedule is not state either: it is an input.

const (
	stateFields = 29
	fixedBytes  = 8*stateFields + 4*ringLen
)

// MarshalBinary implements encoding.BinaryMarshaler.
func (s *Shedder) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (s *Shedder) AppendBinary(dst []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := &s.prio
	hdr := envelope.Header{Kind: envelope.KindShedState, HashID: envelope.HashXXH64}
	hdr.Shape = [4]uint64{uint64(s.cfg.Policy), uint64(len(q.ring)), uint64(len(s.log)), uint64(q.m) | uint64(len(q.snap))<<32}
	dst, start := envelope.Begin(dst, hdr)
	u := func(v uint64) { dst = binary.LittleEndian.AppendUint64(dst, v) }
	f := func(v float64) { u(math.Float64bits(v)) }
	c := &s.ctrl.st
	u(s.salt)
	u(s.seq)
	u(s.kept)
	f(s.sumP)
	f(s.sumIP)
	f(s.minP)
	f(s.cur)
	f(c.p)
	if c.started {
		u(1)
	} else {
		u(0)
	}
	u(uint64(c.tick))
	u(c.offered)
	u(c.batches)
	u(c.maxBatch)
	u(uint64(c.minBacklog))
	f(c.sumQueue)
	u(uint64(c.samples))
	u(uint64(c.bp0))
	u(c.rec0)
	f(c.q0)
	f(c.lambda)
	f(c.mu)
	f(c.batch)
	u(uint64(c.buffers))
	u(uint64(c.blocked))
	u(uint64(q.since))
	u(uint64(c.lag))
	u(uint64(c.lastCall))
	u(uint64(c.bpLast))
	u(uint64(c.maxIdle))
	for i := range ringLen {
		dst = binary.LittleEndian.AppendUint32(dst, c.recent[(c.head+i)%ringLen])
	}
	for _, e := range s.log {
		u(e.Start)
		f(e.P)
	}
	if q.m < len(q.ring) {
		for _, v := range q.ring[:q.m] {
			f(v)
		}
	} else { // oldest first
		for _, v := range q.ring[q.pos:] {
			f(v)
		}
		for _, v := range q.ring[:q.pos] {
			f(v)
		}
	}
	for _, v := range q.snap {
		f(v)
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it restores a
// state MarshalBinary wrote into s, which must have been made with the
// same policy, salt and priority window (else the error wraps
// ErrIncompatible). The epoch log comes back whole, even if longer than
// s's MaxEpochs; the Replay schedule is cleared. On error s is unchanged.
func (s *Shedder) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindShedState)
	if err != nil {
		return fmt.Errorf("shedding: %w", err)
	}
	policy, w, ne := hdr.Shape[0], hdr.Shape[1], hdr.Shape[2]
	m, ms := hdr.Shape[3]&math.MaxUint32, hdr.Shape[3]>>32
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case policy > uint64(Priority):
		return fmt.Errorf("shedding: shed state of policy %d: %w", policy, ErrCorrupt)
	case policy != uint64(s.cfg.Policy) || w != uint64(len(s.prio.ring)):
		return fmt.Errorf("shedding: shed state of %v shedding with window %d, restored into %v with %d: %w",
			Policy(policy), w, s.cfg.Policy, len(s.prio.ring), ErrIncompatible)
	case m > w || ms > m || ms>>32 != 0:
		return fmt.Errorf("shedding: shed state with %d scores (%d in the snapshot) in a window of %d: %w", m, ms, w, ErrCorrupt)
	case ne > uint64(len(payload))/16 || uint64(len(payload)) != fixedBytes+8*(2*ne+m+ms):
		return fmt.Errorf("shedding: shed state of %d payload bytes for %d epochs and %d+%d scores: %w", len(payload), ne, m, ms, ErrCorrupt)
	}
	r := envelope.NewReader(payload)
	f := func() float64 { return math.Float64frombits(r.U64()) }
	salt := r.U64()
	if salt != s.salt {
		return fmt.Errorf("shedding: shed state of salt %#x restored into a shedder of salt %#x (another source?): %w", salt, s.salt, ErrIncompatible)
	}
	var n Shedder
	var c ctrlState
	n.seq, n.kept = r.U64(), r.U64()
	n.sumP, n.sumIP, n.minP, n.cur = f(), f(), f(), f()
	c.p = f()
	started := r.U64()
	c.tick, c.offered, c.batches, c.maxBatch = int64(r.U64()), r.U64(), r.U64(), r.U64()
	c.minBacklog = int64(r.U64())
	c.sumQueue, c.samples, c.bp0 = f(), int64(r.U64()), int64(r.U64())
	c.rec0 = r.U64()
	c.q0, c.lambda, c.mu, c.batch = f(), f(), f(), f()
	buffers, blocked, since := r.U64(), r.U64(), r.U64()
	c.lag, c.lastCall, c.bpLast, c.maxIdle = int64(r.U64()), int64(r.U64()), int64(r.U64()), int64(r.U64())
	for i := range c.recent {
		c.recent[i] = r.U32()
	}
	c.started = started == 1
	nonNeg := func(vs ...float64) bool {
		for _, v := range vs {
			if !(v >= 0) || math.IsInf(v, 0) {
				return false
			}
		}
		return true
	}
	switch {
	case started > 1:
		return fmt.Errorf("shedding: shed state: flag %d: %w", started, ErrCorrupt)
	case n.kept > n.seq:
		return fmt.Errorf("shedding: shed state kept %d of %d records: %w", n.kept, n.seq, ErrCorrupt)
	case !onGrid(c.p) || n.minP != 0 && !onGrid(n.minP) || n.cur != 0 && !onGrid(n.cur):
		return fmt.Errorf("shedding: shed state: keep probabilities %v, %v, %v off the grid: %w", c.p, n.minP, n.cur, ErrCorrupt)
	case (n.seq == 0) != (n.minP == 0):
		return fmt.Errorf("shedding: shed state: minimum p %v after %d records: %w", n.minP, n.seq, ErrCorrupt)
	case !nonNeg(n.sumP, n.sumIP, c.q0, c.sumQueue, c.lambda, c.mu, c.batch) || c.minBacklog < 0 || c.bp0 < 0 || c.samples < 0 ||
		c.lag < 0 || c.bpLast < 0 || c.maxIdle < 0:
		return fmt.Errorf("shedding: shed state: negative or non-finite rates or sums: %w", ErrCorrupt)
	case buffers > math.MaxInt32 || blocked > math.MaxInt32:
		return fmt.Errorf("shedding: shed state: %d buffers, %d ticks blocked: %w", buffers, blocked, ErrCorrupt)
	case s.cfg.Controller.Fixed > 0 && c.p != s.ctrl.st.p:
		return fmt.Errorf("shedding: shed state at p %v restored into a shedder fixed at %v: %w", c.p, s.ctrl.st.p, ErrIncompatible)
	case w > 0 && since >= w, w == 0 && since != 0:
		return fmt.Errorf("shedding: shed state: %d scores since the last snapshot, window %d: %w", since, w, ErrCorrupt)
	}
	n.log = make([]Epoch, ne, max(ne, uint64(min(max(s.cfg.MaxEpochs, 0), maxEpochsUpFront))))
	for i := range n.log {
		e := Epoch{Start: r.U64(), P: f()}
		if !onGrid(e.P) || e.Start > n.seq || i > 0 && e.Start <= n.log[i-1].Start {
			return fmt.Errorf("shedding: shed state: epoch %d (start %d, p %v) out of order or off the grid: %w", i, e.Start, e.P, ErrCorrupt)
		}
		n.log[i] = e
	}
	if ne > 0 && n.log[ne-1].P != n.cur {
		return fmt.Errorf("shedding: shed state: last epoch at p %v, current %v: %w", n.log[ne-1].P, n.cur, ErrCorrupt)
	}
	var q priority
	if w > 0 {
		q.init(int(w))
		for i := range m {
			v := f()
			if math.IsNaN(v) {
				return fmt.Errorf("shedding: shed state: NaN score: %w", ErrCorrupt)
			}
			q.ring[i] = v
		}
		q.m, q.pos, q.since = int(m), int(m%w), int(since)
		for range ms {
			v := f()
			if math.IsNaN(v) {
				return fmt.Errorf("shedding: shed state: NaN score: %w", ErrCorrupt)
			}
			q.snap = append(q.snap, v)
		}
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("shedding: shed state: %w", err)
	}
	s.seq, s.kept, s.sumP, s.sumIP, s.minP, s.cur = n.seq, n.kept, n.sumP, n.sumIP, n.minP, n.cur
	s.log = n.log
	s.prio = q
	c.buffers, c.blocked = int(buffers), int(blocked)
	s.ctrl.st = c
	s.sched, s.schedEnd, s.schedAt = nil, 0, 0
	return nil
}
