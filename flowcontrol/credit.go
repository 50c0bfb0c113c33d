package flowcontrol

// The credit policy. Every function here runs with g.mu held.
//
// Each input i owns Exclusive + s.float buffers, each in exactly one place:
//
//	s.free   credits: empty, in g.bufs, the sender may take one
//	s.out    acquired by the sender and not sent yet
//	s.spare  the replacement Send reserved (0 or 1), also with the sender
//	s.q      sent, waiting for Recv (the backlog)
//	s.recv   delivered, waiting for Release
//
// and g.pool + Σ s.float == g.floating. The tests check these sums after
// every step of a random schedule (TestInvariantsRandomSchedule).

// takeCredit gives s one credit if it can: its own first, then a floating
// buffer from the pool, then an idle floating buffer parked at another
// input. It moves counts only; the caller takes the buffer from g.bufs.
func (g *Gate[B]) takeCredit(s *Sender[B]) bool {
	if s.free > 0 {
		s.free--
		return true
	}
	if s.paused || s.closed {
		return false // a paused input must not hoard the shared pool
	}
	if g.pool > 0 {
		g.pool--
		s.float++
		return true
	}
	if k := g.idleFloating(s); k != nil {
		k.free--
		k.float--
		s.float++
		return true
	}
	return false
}

// idleFloating finds an input, other than s, with a floating buffer lying
// unused among its credits and no sender waiting for it, preferring the
// smallest backlog. Floating credit parked at an input that is not using it
// would otherwise be stranded there when that input goes quiet.
func (g *Gate[B]) idleFloating(s *Sender[B]) *Sender[B] {
	if g.pool == g.floating {
		return nil // nothing lent: skip the scan on the common path
	}
	var best *Sender[B]
	for i := range g.inputs {
		k := &g.inputs[i]
		if k == s || k.float == 0 || k.free == 0 || k.waiting {
			continue
		}
		if best == nil || k.q.n < best.q.n {
			best = k
		}
	}
	return best
}

// recycle takes back an empty buffer of input s (released by the receiver
// or discarded by the sender). While s has a backlog its floating buffers
// stay with it as credits, sparing them a trip through the pool; once s has
// drained or closed, or another input is waiting for credit, every
// floating buffer parked among its credits goes back to the pool.
func (g *Gate[B]) recycle(s *Sender[B], b B) {
	g.bufs = append(g.bufs, b)
	s.free++
	if s.float > 0 && (s.q.n == 0 || s.closed || g.waiters > 0) {
		for s.float > 0 && s.free > 0 {
			s.float--
			s.free--
			g.pool++
		}
		g.grant()
	}
	if s.waiting && s.free > 0 {
		signal(s.wake)
	}
}

// grant hands pool buffers to senders waiting for credit: each goes to the
// waiting input with the largest backlog, the one its producer is pushing
// hardest, so floating credit follows skew. Ties go round-robin from the
// input after the last one served, so equal inputs take turns. Paused and
// closed inputs get none.
func (g *Gate[B]) grant() {
	n := len(g.inputs)
	for g.pool > 0 && g.waiters > 0 {
		var best *Sender[B]
		for j := 0; j < n; j++ {
			i := g.cursor + j
			if i >= n {
				i -= n
			}
			k := &g.inputs[i]
			if !k.waiting || k.paused || k.closed || k.free > 0 {
				continue
			}
			if best == nil || k.q.n > best.q.n {
				best = k
			}
		}
		if best == nil {
			return
		}
		g.pool--
		best.float++
		best.free++
		signal(best.wake)
		g.cursor = best.id + 1
		if g.cursor == n {
			g.cursor = 0
		}
	}
}

// end marks s closed and drained: its floating credits go back to the
// pool and, if asked, Recv will report the end.
func (g *Gate[B]) end(s *Sender[B]) {
	s.ended = true
	g.open--
	for s.float > 0 && s.free > 0 {
		s.float--
		s.free--
		g.pool++
	}
	g.grant()
	if g.reportEnd {
		g.ends.push(s.id)
	}
	signal(g.wake)
}
