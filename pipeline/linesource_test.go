package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/streamstat/streamstat/sketch"
)

func mustLineSource(t testing.TB, r io.Reader, cfg LineConfig) *LineSource {
	t.Helper()
	s, err := NewLineSource(r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLineSourceSplitsLines(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty input", "", nil},
		{"one line", "a\n", []string{"a"}},
		{"final line without newline", "a\nbc", []string{"a", "bc"}},
		{"only final line", "abc", []string{"abc"}},
		{"empty lines are empty keys", "\n\na\n\n", []string{"", "", "a", ""}},
		{"one empty line", "\n", []string{""}},
		{"CRLF", "a\r\nb\r\n", []string{"a", "b"}},
		{"CRLF empty line", "\r\n", []string{""}},
		{"final CR without newline", "a\r", []string{"a"}},
		{"lone CR", "\r", []string{""}},
		{"inner CR kept", "a\rb\n", []string{"a\rb"}},
		{"only one CR stripped", "x\r\r\n", []string{"x\r"}},
		{"NUL bytes kept", "a\x00b\n\x00\n", []string{"a\x00b", "\x00"}},
		{"invalid UTF-8 kept", "\xff\xfe\n\xc3\x28\n", []string{"\xff\xfe", "\xc3\x28"}},
	}
	readers := []struct {
		name string
		mk   func(string) io.Reader
		buf  int
	}{
		{"bytes.Reader", func(s string) io.Reader { return strings.NewReader(s) }, 0},
		{"one byte reads, 1-byte buffer", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }, 1},
		{"data with EOF", func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) }, 3},
		{"chunks with empty reads", func(s string) io.Reader { return &lsChunkReader{data: []byte(s), k: 2} }, 2},
	}
	for _, tc := range tests {
		for _, rd := range readers {
			for _, max := range []int{1, 2, 1000} {
				t.Run(fmt.Sprintf("%s/%s/max=%d", tc.name, rd.name, max), func(t *testing.T) {
					s := mustLineSource(t, rd.mk(tc.in), LineConfig{BufferSize: rd.buf})
					got := lsKeys(lsDrain(t, s, max))
					if !lsEqual(got, tc.want) {
						t.Fatalf("got %q, want %q", got, tc.want)
					}
					if lsEqual(tc.want, lsRef([]byte(tc.in))) == false {
						t.Fatalf("test table disagrees with the reference split %q", lsRef([]byte(tc.in)))
					}
					if s.Lines() != int64(len(tc.want)) || s.Bytes() != int64(len(tc.in)) || s.Offset() != int64(len(tc.in)) {
						t.Errorf("Lines %d, Bytes %d, Offset %d; want %d, %d, %d", s.Lines(), s.Bytes(), s.Offset(), len(tc.want), len(tc.in), len(tc.in))
					}
					var b Batch
					if err := s.Fill(context.Background(), &b, 10); err != io.EOF || b.Len() != 0 {
						t.Errorf("Fill after the end: %d records, %v; want 0, io.EOF", b.Len(), err)
					}
				})
			}
		}
	}
}

func TestLineSourceEmptyInputIsEOF(t *testing.T) {
	s := mustLineSource(t, strings.NewReader(""), LineConfig{})
	var b Batch
	if err := s.Fill(context.Background(), &b, 100); err != io.EOF || b.Len() != 0 {
		t.Fatalf("got %d records, %v; want 0, io.EOF", b.Len(), err)
	}
}

func TestLineSourceLongLines(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB, far past any scanner limit
	var in bytes.Buffer
	in.WriteString("short\n")
	in.Write(long)
	in.WriteString("\r\nafter\n")
	in.Write(long[:100_000]) // final long line without newline
	for _, buf := range []int{0, 16} {
		t.Run(fmt.Sprintf("buffer=%d", buf), func(t *testing.T) {
			s := mustLineSource(t, bytes.NewReader(in.Bytes()), LineConfig{BufferSize: buf})
			got := lsKeys(lsDrain(t, s, 3))
			want := []string{"short", string(long), "after", string(long[:100_000])}
			if !lsEqual(got, want) {
				t.Fatalf("got %d lines of lengths %v", len(got), lens(got))
			}
		})
	}
	t.Run("buffer shrinks after a long line", func(t *testing.T) {
		var in bytes.Buffer
		in.Write(long)
		in.WriteString("\n")
		for range 10_000 {
			in.WriteString("after\n")
		}
		s := mustLineSource(t, &lsChunkReader{data: in.Bytes(), k: 4096}, LineConfig{BufferSize: 1024})
		var b Batch
		for s.Lines() < 5000 {
			b.Reset()
			if err := s.Fill(context.Background(), &b, 10); err != nil {
				t.Fatal(err)
			}
		}
		if len(s.buf) > 4*1024 {
			t.Errorf("buffer still %d bytes after the long line", len(s.buf))
		}
	})
}

func lens(ss []string) []int {
	l := make([]int, len(ss))
	for i, s := range ss {
		l[i] = len(s)
	}
	return l
}

func TestLineSourceFields(t *testing.T) {
	in := "a,1,x\n" + // key 1
		"b\n" + // no field 2: skipped
		"\n" + // no field 2: skipped
		"c,,y\r\n" + // empty field 2
		",3\n" +
		"d,4,z" // final line
	var bad []BadLine
	s := mustLineSource(t, strings.NewReader(in), LineConfig{
		Field: 2, Delimiter: ByteDelimiter(','),
		OnBadLine: func(l BadLine) {
			l.Line = bytes.Clone(l.Line)
			bad = append(bad, l)
		},
	})
	got := lsKeys(lsDrain(t, s, 100))
	if want := []string{"1", "", "3", "4"}; !lsEqual(got, want) {
		t.Fatalf("keys %q, want %q", got, want)
	}
	if s.Skipped() != 2 || s.Lines() != 6 {
		t.Errorf("Skipped %d, Lines %d; want 2, 6", s.Skipped(), s.Lines())
	}
	wantBad := []BadLine{{Number: 2, Offset: 6, Line: []byte("b"), Err: ErrMissingField}, {Number: 3, Offset: 8, Line: []byte{}, Err: ErrMissingField}}
	if len(bad) != 2 {
		t.Fatalf("reported %d bad lines, want 2", len(bad))
	}
	for i, w := range wantBad {
		g := bad[i]
		if g.Number != w.Number || g.Offset != w.Offset || string(g.Line) != string(w.Line) || g.Err != w.Err {
			t.Errorf("bad line %d: got %+v, want %+v", i, g, w)
		}
	}

	t.Run("whitespace", func(t *testing.T) {
		in := "  GET /a 200\n\tPOST\t/b  404 \r\n \nGET\n"
		s := mustLineSource(t, strings.NewReader(in), LineConfig{Field: 2})
		got := lsKeys(lsDrain(t, s, 100))
		if want := []string{"/a", "/b"}; !lsEqual(got, want) || s.Skipped() != 2 {
			t.Fatalf("keys %q skipped %d, want %q skipped 2", got, s.Skipped(), want)
		}
	})
}

func TestLineSourceValues(t *testing.T) {
	in := "a 1.5\n" +
		"b -2e3\n" +
		"c\n" + // missing value
		"d x\n" + // not a number
		"e NaN\n" + // not finite
		"f +Inf\n" +
		"g 16.\n" +
		"h 7\n"
	var reasons []error
	s := mustLineSource(t, strings.NewReader(in), LineConfig{Field: 1, ValueField: 2, OnBadLine: func(l BadLine) { reasons = append(reasons, l.Err) }})
	got := lsDrain(t, s, 3)
	want := []lsRec{{"a", 1.5, true}, {"b", -2000, true}, {"c", 0, false}, {"d", 0, false}, {"e", 0, false}, {"f", 0, false}, {"g", 16, true}, {"h", 7, true}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if s.BadValues() != 4 || s.Skipped() != 0 {
		t.Errorf("BadValues %d, Skipped %d; want 4, 0", s.BadValues(), s.Skipped())
	}
	for _, r := range reasons {
		if r != ErrBadValue {
			t.Errorf("reason %v, want ErrBadValue", r)
		}
	}

	t.Run("padded CSV value", func(t *testing.T) {
		s := mustLineSource(t, strings.NewReader("k, 2.5 \nk,\t3\n"), LineConfig{Field: 1, ValueField: 2, Delimiter: ByteDelimiter(',')})
		got := lsDrain(t, s, 10)
		if len(got) != 2 || got[0].Value != 2.5 || got[1].Value != 3 || s.BadValues() != 0 {
			t.Fatalf("got %+v, bad %d", got, s.BadValues())
		}
	})
}

func TestLineSourceMaxBatchBytes(t *testing.T) {
	in := strings.Repeat("0123456789\n", 100)
	s := mustLineSource(t, strings.NewReader(in), LineConfig{MaxBatchBytes: 25})
	var b Batch
	if err := s.Fill(context.Background(), &b, 1000); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 3 || b.Bytes() != 33 {
		t.Fatalf("first batch: %d records, %d bytes; want 3, 33", b.Len(), b.Bytes())
	}
	if s.Offset() != 33 {
		t.Errorf("Offset %d, want 33", s.Offset())
	}
	if got := lsDrain(t, s, 1000); len(got) != 97 {
		t.Errorf("rest: %d records, want 97", len(got))
	}
}

func TestLineSourceOffsetsAndResume(t *testing.T) {
	in := []byte("alpha\r\n\nbeta\ngamma\n\x00\xff\ndelta\nepsilon")
	all := lsRef(in)
	readers := map[string]func() io.Reader{
		"seekable":     func() io.Reader { return bytes.NewReader(in) },
		"not seekable": func() io.Reader { return lsNoSeek{bytes.NewReader(in)} },
	}
	for name, mk := range readers {
		for _, buf := range []int{0, 1, 4} {
			for stop := 0; stop <= len(all); stop++ {
				t.Run(fmt.Sprintf("%s/buffer=%d/after=%d", name, buf, stop), func(t *testing.T) {
					s := mustLineSource(t, mk(), LineConfig{BufferSize: buf})
					var b Batch
					for b.Len() < stop {
						if err := s.Fill(context.Background(), &b, stop-b.Len()); err != nil && err != io.EOF {
							t.Fatal(err)
						}
					}
					pos := s.Position()
					if want := int64(len(strings.Join(lsRef(in)[:stop], "\n"))); stop > 0 && pos < want {
						t.Fatalf("Position %d before line end %d", pos, want)
					}
					r := mustLineSource(t, mk(), LineConfig{BufferSize: buf})
					if err := r.SetPosition(pos); err != nil {
						t.Fatal(err)
					}
					rest := lsKeys(lsDrain(t, r, 2))
					if !lsEqual(rest, all[stop:]) {
						t.Fatalf("resumed at %d: got %q, want %q", pos, rest, all[stop:])
					}
					if r.Offset() != int64(len(in)) {
						t.Errorf("final Offset %d, want %d", r.Offset(), len(in))
					}
				})
			}
		}
	}
}

func TestLineSourceSetPosition(t *testing.T) {
	in := "a\nb\nc\nd\n"
	t.Run("rewind a seekable reader", func(t *testing.T) {
		s := mustLineSource(t, strings.NewReader(in), LineConfig{})
		lsDrain(t, s, 10)
		if err := s.SetPosition(4); err != nil {
			t.Fatal(err)
		}
		if got := lsKeys(lsDrain(t, s, 10)); !lsEqual(got, []string{"c", "d"}) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("reader already advanced", func(t *testing.T) {
		r := strings.NewReader("skip me\n" + in)
		r.Seek(8, io.SeekStart)
		s := mustLineSource(t, r, LineConfig{})
		if err := s.SetPosition(2); err != nil {
			t.Fatal(err)
		}
		if got := lsKeys(lsDrain(t, s, 10)); !lsEqual(got, []string{"b", "c", "d"}) || s.Offset() != 8 {
			t.Fatalf("got %q, Offset %d", got, s.Offset())
		}
	})
	t.Run("cannot rewind a pipe", func(t *testing.T) {
		s := mustLineSource(t, lsNoSeek{strings.NewReader(in)}, LineConfig{})
		var b Batch
		s.Fill(context.Background(), &b, 2)
		if err := s.SetPosition(0); !errors.Is(err, sketch.ErrInvalidParameter) {
			t.Fatalf("rewind: got %v, want ErrInvalidParameter", err)
		}
		if err := s.SetPosition(-1); !errors.Is(err, sketch.ErrInvalidParameter) {
			t.Fatalf("negative: got %v, want ErrInvalidParameter", err)
		}
	})
	t.Run("skip to the end", func(t *testing.T) {
		s := mustLineSource(t, lsNoSeek{strings.NewReader(in)}, LineConfig{})
		if err := s.SetPosition(int64(len(in))); err != nil {
			t.Fatal(err)
		}
		if got := lsDrain(t, s, 10); len(got) != 0 {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("skip past the end of a shorter stream", func(t *testing.T) {
		s := mustLineSource(t, lsNoSeek{strings.NewReader(in)}, LineConfig{})
		if err := s.SetPosition(100); err != nil {
			t.Fatal(err)
		}
		var b Batch
		err := s.Fill(context.Background(), &b, 10)
		if !errors.Is(err, io.ErrUnexpectedEOF) || b.Len() != 0 || !strings.Contains(err.Error(), "ended at byte 8, 92 bytes before position 100") {
			t.Fatalf("Fill = %v with %d records; want io.ErrUnexpectedEOF saying how short the stream is", err, b.Len())
		}
		if err := s.Fill(context.Background(), &b, 10); !errors.Is(err, io.EOF) {
			t.Fatalf("then Fill = %v; want io.EOF", err)
		}
	})
}

// lsFailReader returns data, then an error.
type lsFailReader struct {
	data []byte
	err  error
}

func (f *lsFailReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestLineSourceReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	s := mustLineSource(t, &lsFailReader{data: []byte("a\nb\npartial"), err: boom}, LineConfig{})
	got, err := lsDrainErr(s, 100)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if !lsEqual(lsKeys(got), []string{"a", "b"}) || s.Offset() != 4 {
		t.Fatalf("got %q, Offset %d; want the complete lines only, Offset 4", lsKeys(got), s.Offset())
	}
}

func TestLineSourceContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := mustLineSource(t, strings.NewReader("a\n"), LineConfig{})
	var b Batch
	if err := s.Fill(ctx, &b, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestNewLineSourceRejectsNegatives(t *testing.T) {
	for _, cfg := range []LineConfig{{Field: -1}, {ValueField: -2}, {BufferSize: -1}, {MaxBatchBytes: -1}} {
		if _, err := NewLineSource(strings.NewReader(""), cfg); !errors.Is(err, sketch.ErrInvalidParameter) {
			t.Errorf("%+v: got %v, want ErrInvalidParameter", cfg, err)
		}
	}
}

func TestOpenLineFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte("x\ny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenLineFile(path, LineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if got := lsKeys(lsDrain(t, s, 10)); !lsEqual(got, []string{"x", "y"}) {
		t.Errorf("got %q", got)
	}
	if err := s.SetPosition(2); err != nil {
		t.Fatal(err)
	}
	if got := lsKeys(lsDrain(t, s, 10)); !lsEqual(got, []string{"y"}) {
		t.Errorf("after SetPosition(2): got %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLineFile(filepath.Join(t.TempDir(), "missing"), LineConfig{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

// TestLineSourceAllocs fills a warmed batch again and again from an endless
// reader: steady state must allocate nothing per record.
func TestLineSourceAllocs(t *testing.T) {
	data := []byte("user-1234 GET 0.25\nuser-99 POST 1e3\r\nuser-5 PUT x\n\nshort\n")
	for _, cfg := range []LineConfig{
		{},
		{Field: 1},
		{Field: 3, ValueField: 3, Delimiter: ByteDelimiter(' ')},
		{Field: 1, ValueField: 3, BufferSize: 7},
	} {
		s := mustLineSource(t, &lsLoopReader{data: data}, cfg)
		var b Batch
		if n := fillAllocs(t, s, &b, 1024, 10); n != 0 {
			t.Errorf("%+v: got %v allocation(s) (want zero)", cfg, n)
		}
	}
}

// fillAllocs fills b from s warm times, max records a Fill, and returns
// the allocations of a further Fill.
func fillAllocs(t *testing.T, s *LineSource, b *Batch, max, warm int) float64 {
	t.Helper()
	fill := func() {
		b.Reset()
		if err := s.Fill(context.Background(), b, max); err != nil {
			t.Fatal(err)
		}
	}
	for range warm {
		fill()
	}
	return testing.AllocsPerRun(100, fill)
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]float64{"1": 1, " 2.5\t": 2.5, "-0": 0, "1e308": 1e308, "1e309": math.NaN(), "": math.NaN(), "nan": math.NaN(), "-inf": math.NaN(), "1_000": math.NaN(),
		".5": 0.5, "5.": 5, "+.5e-1": 0.05, "1E+2": 100, "1e-400": 0, ".": math.NaN(), "e5": math.NaN(), "1e": math.NaN(), "1e+": math.NaN(), "--1": math.NaN(), "0x1p4": math.NaN(), "1 2": math.NaN(), "12abc": math.NaN()} {
		got, ok := parseValue([]byte(in))
		if math.IsNaN(want) {
			if ok {
				t.Errorf("parseValue(%q) = %v, want rejected", in, got)
			}
		} else if !ok || got != want {
			t.Errorf("parseValue(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}

func TestIndexNewline(t *testing.T) {
	buf := make([]byte, 40)
	for n := range len(buf) + 1 {
		for at := -1; at < n; at++ {
			for i := range buf {
				// Bytes whose difference from '\n' borrows or carries.
				buf[i] = []byte{0x0b, 0x09, 0x00, 0xff, 0x8a, 0x0a ^ 0x80, 0x01}[(i+n)%7]
			}
			if at >= 0 {
				buf[at] = '\n'
				if at+3 < n {
					buf[at+3] = '\n'
				}
			}
			if got, want := indexNewline(buf[:n]), bytes.IndexByte(buf[:n], '\n'); got != want {
				t.Fatalf("len %d, newline at %d: got %d, want %d", n, at, got, want)
			}
		}
	}
}

// TestLineSourceCountersWhileFilling reads the counters from another
// goroutine during Fill (run with -race).
func TestLineSourceCountersWhileFilling(t *testing.T) {
	s := mustLineSource(t, &lsLoopReader{data: []byte("a b\nc\n")}, LineConfig{Field: 2})
	stop := make(chan struct{})
	done := make(chan int64)
	go func() {
		var last int64
		for {
			select {
			case <-stop:
				done <- last
				return
			default:
			}
			if off := s.Offset(); off < last {
				t.Errorf("Offset went back from %d to %d", last, off)
			} else {
				last = off
			}
			_ = s.Lines() + s.Bytes() + s.Skipped() + s.BadValues() + s.Position()
		}
	}()
	var b Batch
	for range 200 {
		b.Reset()
		if err := s.Fill(context.Background(), &b, 100); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
	if s.Lines()-s.Skipped() != 200*100 || s.Offset() != s.Bytes() {
		t.Errorf("Lines %d Skipped %d Offset %d Bytes %d; want 20000 records, Offset = Bytes", s.Lines(), s.Skipped(), s.Offset(), s.Bytes())
	}
}

// TestLineSourceLiveStream: on a stream whose writer pauses, Fill returns
// the lines already written instead of blocking for a full batch, so a live
// stream's records (tail -f) are counted as they come.
func TestLineSourceLiveStream(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	s := mustLineSource(t, pr, LineConfig{})
	go io.WriteString(pw, "a\nb\nc") // then the writer pauses
	done := make(chan error, 1)
	var b Batch
	go func() { done <- s.Fill(context.Background(), &b, 1000) }()
	select {
	case err := <-done:
		if err != nil || b.Len() != 2 || string(b.Key(0)) != "a" || string(b.Key(1)) != "b" {
			t.Fatalf("Fill = %v with %d records; want the 2 complete lines", err, b.Len())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fill blocked for a full batch while lines were waiting")
	}
	go func() { io.WriteString(pw, "\n"); pw.Close() }()
	b.Reset()
	if err := s.Fill(context.Background(), &b, 1000); err != nil && !errors.Is(err, io.EOF) || b.Len() != 1 || string(b.Key(0)) != "c" {
		t.Fatalf("after the writer resumed: Fill = %v with %d records; want c", err, b.Len())
	}
	if err := s.Fill(context.Background(), &b, 1000); !errors.Is(err, io.EOF) || b.Len() != 1 {
		t.Fatalf("at the end: Fill = %v with %d records; want io.EOF", err, b.Len()-1)
	}
}
