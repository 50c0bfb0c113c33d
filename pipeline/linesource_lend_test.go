package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// lsLender lends data in pieces of random sizes from 0 to maxPiece bytes,
// each a copy that it overwrites with '#' when the loan ends, so that a
// source reading a loan after its end reads garbage. With dataEOF the
// last piece comes with io.EOF; with fail, a read error ends the stream
// instead of io.EOF.
type lsLender struct {
	data     []byte
	r        *rand.Rand
	maxPiece int
	loan     []byte
	dataEOF  bool
	fail     error
}

func (l *lsLender) end() error {
	if l.fail != nil {
		return l.fail
	}
	return io.EOF
}

func (l *lsLender) Lend() ([]byte, error) {
	for i := range l.loan {
		l.loan[i] = '#'
	}
	l.loan = nil
	if len(l.data) == 0 {
		return nil, l.end()
	}
	n := min(len(l.data), l.r.IntN(l.maxPiece+1))
	l.loan = bytes.Clone(l.data[:n])
	l.data = l.data[n:]
	if l.dataEOF && len(l.data) == 0 {
		return l.loan, l.end()
	}
	return l.loan, nil
}

func (l *lsLender) Read(p []byte) (int, error) {
	b, err := l.Lend()
	if len(b) > len(p) {
		l.data = append(b[len(p):len(b):len(b)], l.data...)
		b = b[:len(p)]
	}
	return copy(p, b), err
}

// TestLineSourceLender: a source reading a Lender makes the records a
// source reading the same bytes from a plain reader makes, keys and
// hashes alike, whatever the pieces (empty ones, lines cut by a piece's
// end, lines over many pieces and over the buffer), and reads no loan
// after it ended; it ends as the lender ends, with its error.
func TestLineSourceLender(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 3))
	var in bytes.Buffer
	for i := range 3000 {
		switch i % 7 {
		case 0:
			in.WriteString(strings.Repeat("long", 20+r.IntN(200)))
			in.WriteString(" x 1\n")
		case 1:
			in.WriteString("\n")
		case 2:
			fmt.Fprintf(&in, "k%d 7 %d\r\n", r.IntN(50), i)
		default:
			fmt.Fprintf(&in, "key-%d %d\n", r.IntN(1000), i)
		}
	}
	in.WriteString("last no newline")
	data := in.Bytes()
	for _, cfg := range []LineConfig{
		{BufferSize: 16},
		{BufferSize: 4096},
		{BufferSize: 64, Field: 2, ValueField: 3},
		{BufferSize: 64, MaxKeyLen: 30},
	} {
		for _, tc := range []struct {
			piece   int
			dataEOF bool
			fail    error
		}{{1, false, nil}, {7, true, nil}, {300, false, nil}, {5000, true, nil}, {300, false, errors.New("broken pipe")}} {
			name := fmt.Sprintf("buffer=%d,field=%d,cap=%d,piece=%d,dataEOF=%t,fail=%v", cfg.BufferSize, cfg.Field, cfg.MaxKeyLen, tc.piece, tc.dataEOF, tc.fail)
			t.Run(name, func(t *testing.T) {
				ref, err := NewLineSource(bytes.NewReader(data), cfg)
				if err != nil {
					t.Fatal(err)
				}
				want := lsDrain(t, ref, 100)
				l := &lsLender{data: data, r: rand.New(rand.NewPCG(uint64(tc.piece), 1)), maxPiece: tc.piece, dataEOF: tc.dataEOF, fail: tc.fail}
				s, err := NewLineSource(l, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if s.lender == nil {
					t.Fatal("the source does not read the Lender's loans")
				}
				got, err := lsDrainErr(s, 100)
				if tc.fail != nil {
					if !errors.Is(err, tc.fail) {
						t.Fatalf("got %v, want the lender's error", err)
					}
					// The lines before the error, all of them but the
					// last, which had no newline when the error came.
					want = want[:len(want)-1]
				} else if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("got %d records, want %d", len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("record %d: got %.60q, want %.60q", i, got[i].Key, want[i].Key)
					}
				}
				if tc.fail == nil && (s.Offset() != int64(len(data)) || s.Lines() != ref.Lines()) {
					t.Fatalf("offset %d lines %d, want %d and %d", s.Offset(), s.Lines(), len(data), ref.Lines())
				}
			})
		}
	}
}

// lsQueueLender lends the pieces queued, and fails the test if asked for
// one when none is (a live stream's Lend would wait there).
type lsQueueLender struct {
	t      *testing.T
	pieces [][]byte
}

func (l *lsQueueLender) Lend() ([]byte, error) {
	if len(l.pieces) == 0 {
		l.t.Fatal("Lend with nothing to lend: a live stream would block here")
	}
	p := l.pieces[0]
	l.pieces = l.pieces[1:]
	return p, nil
}

func (l *lsQueueLender) Read(p []byte) (int, error) {
	l.t.Fatal("Read of a Lender")
	return 0, nil
}

// TestLineSourceLenderLive: on a live stream, once the lender has nothing
// more at hand, the lines it lent are all out of Fill: a caller that
// waits for the lender's next bytes (pipeline/job's worker) must not keep
// lines of a loan waiting with it. A line cut by a loan's end is read
// from the next loan's head, and Fill went on to that loan's other lines
// only at the next call.
func TestLineSourceLenderLive(t *testing.T) {
	l := &lsQueueLender{t: t, pieces: [][]byte{[]byte("abc\nde"), []byte("f\nghi\njk\nl")}}
	s, err := NewLineSource(l, LineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var b Batch
	for len(l.pieces) > 0 {
		b.Reset()
		if err := s.Fill(context.Background(), &b, 100); err != nil {
			t.Fatal(err)
		}
		for i := range b.Records {
			got = append(got, string(b.Key(i)))
		}
	}
	if want := []string{"abc", "def", "ghi", "jk"}; !lsEqual(got, want) {
		t.Fatalf("with nothing more to lend: got %q, want %q", got, want)
	}
}

// lsLoopLender lends data again and again, in pieces of 1000 bytes.
type lsLoopLender struct {
	data []byte
	off  int
}

func (l *lsLoopLender) Lend() ([]byte, error) {
	if l.off == len(l.data) {
		l.off = 0
	}
	n := min(1000, len(l.data)-l.off)
	l.off += n
	return l.data[l.off-n : l.off], nil
}

func (l *lsLoopLender) Read(p []byte) (int, error) {
	b, _ := l.Lend()
	return copy(p, b), nil
}

// TestLineSourceLenderAllocs: reading a Lender allocates nothing per
// record once warm, lines cut by the loans' ends included.
func TestLineSourceLenderAllocs(t *testing.T) {
	data := []byte(strings.Repeat("user-1234\nkey-7\r\n\nshort\n", 101))
	for _, cfg := range []LineConfig{{}, {HashOnly: true}, {Field: 1}} {
		s, err := NewLineSource(&lsLoopLender{data: data}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		if a := fillAllocs(t, s, &b, 256, 50); a != 0 {
			t.Errorf("%+v: %v allocations per Fill, want 0", cfg, a)
		}
	}
}

// TestLineSourceLenderLongLine: a line cut by many small loans is carried
// from loan to loan in the source's buffer, where it stays: the bytes
// carry moves grow with the loans' size, not with the line's for every
// loan. Copying it onto itself at each loan was quadratic, which under
// -race (its copy checks every byte) kept cmd/streamstat's
// TestInputHandling/long_lines, a 3 MiB line in 3-byte reads, running
// for more than 15 minutes.
func TestLineSourceLenderLongLine(t *testing.T) {
	line := bytes.Repeat([]byte("x"), 1<<20)
	data := append(append([]byte("a\n"), line...), "\nb\n"...)
	for _, piece := range []int{3, 100, 5000} {
		t.Run(fmt.Sprintf("piece=%d", piece), func(t *testing.T) {
			l := &lsLender{data: data, r: rand.New(rand.NewPCG(uint64(piece), 2)), maxPiece: piece}
			s, err := NewLineSource(l, LineConfig{BufferSize: 64})
			if err != nil {
				t.Fatal(err)
			}
			got := lsKeys(lsDrain(t, s, 100))
			if want := []string{"a", string(line), "b"}; !lsEqual(got, want) {
				t.Fatalf("got %d keys, want %d", len(got), len(want))
			}
			if max := int64(4 * len(data)); s.carried > max {
				t.Fatalf("carry moved %d bytes for a %d-byte input (at most %d)", s.carried, len(data), max)
			}
		})
	}
}
