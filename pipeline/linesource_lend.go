package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unsafe"
)

// Lender is an io.Reader that can also lend the bytes it holds instead of
// copying them: a LineSource reading a Lender takes its lines where they
// lie and copies only a line cut by the end of a loan. pipeline/job's
// view of a stream (stdin) is one: its bytes are already in a read
// buffer, and copying them again into the source's buffer cost as much
// as reading the pipe.
type Lender interface {
	io.Reader
	// Lend returns the stream's next bytes, those Read would copy,
	// aliasing the lender's memory, valid until the next call to Lend
	// or Read. It blocks, and ends (io.EOF) or fails, as Read does.
	Lend() ([]byte, error)
}

// readLent is read for a Lender. A partial line left in buf is first
// copied to the front of own (a loan ends at the next Lend), then
// completed from the next loan, up to its newline; the source reads that
// line in own, then the rest of the loan in place.
func (s *LineSource) readLent() error {
	rest := s.end - s.pos
	if rest == 0 && len(s.lent) > 0 {
		s.useLent()
		return nil
	}
	own := s.own[:0]
	if rest > 0 {
		own = s.carry()
	}
	if len(s.lent) == 0 && s.lendEnd == nil {
		for tries := 0; ; tries++ {
			if tries == 100 {
				return fmt.Errorf("pipeline: line source: %w", io.ErrNoProgress)
			}
			p, err := s.lender.Lend()
			if err != nil {
				s.lendEnd = err
			}
			if len(p) > 0 || err != nil {
				s.lent = p
				break
			}
		}
	}
	if rest == 0 {
		s.useLent()
		return nil
	}
	n := len(s.lent)
	if i := bytes.IndexByte(s.lent, '\n'); i >= 0 {
		n = i + 1
	}
	own = append(own, s.lent[:n]...)
	s.lent = s.lent[n:]
	s.own = own[:cap(own)]
	s.buf, s.pos, s.end, s.lentBuf = own, 0, len(own), false
	s.lendDone()
	return nil
}

// useLent makes the lent bytes the buffer.
func (s *LineSource) useLent() {
	s.buf, s.pos, s.end, s.lentBuf = s.lent, 0, len(s.lent), true
	s.lent = nil
	s.lendDone()
}

// lendDone notes the end of the loans once the last one is in buf.
func (s *LineSource) lendDone() {
	if len(s.lent) > 0 || s.lendEnd == nil {
		return
	}
	if errors.Is(s.lendEnd, io.EOF) {
		s.eof = true
	} else {
		s.rerr = s.lendEnd
	}
}

// carry moves buf[pos:end], a partial line, to the front of own, which it
// returns with those bytes: own shrinks back to the buffer size after a
// long line.
func (s *LineSource) carry() []byte {
	rest := s.buf[s.pos:s.end]
	if len(rest) < s.bufSize/2 && cap(s.own) > 4*s.bufSize {
		s.own = make([]byte, s.bufSize)
	}
	if !s.lentBuf {
		// rest is in own already; at its front if none of it was
		// consumed, the case of a line longer than a loan. Copying it
		// onto itself there anyway made a line cut by many small loans
		// quadratic under -race, whose copy checks every byte at every
		// loan: cmd/streamstat's TestInputHandling/long_lines, a 3 MiB
		// line in 3-byte reads, ran for more than 15 minutes.
		if len(rest) == 0 || unsafe.SliceData(rest) == unsafe.SliceData(s.own) {
			return s.own[:len(rest)]
		}
		// Elsewhere in own: copy handles the overlap.
		s.carried += int64(len(rest))
		return s.own[:copy(s.own, rest)]
	}
	s.carried += int64(len(rest))
	return append(s.own[:0], rest...)
}
