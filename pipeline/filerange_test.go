package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamstat/streamstat/sketch"
)

// frRandomFile returns random file contents of one of several shapes.
func frRandomFile(r *rand.Rand, shape int) []byte {
	var b bytes.Buffer
	lines := r.IntN(200)
	line := func() {
		switch k := r.IntN(20); {
		case k == 0:
			// empty line
		case k == 1:
			b.Write(bytes.Repeat([]byte{'L'}, 1+r.IntN(100_000))) // long line
		case k == 2:
			b.WriteString("\x00\xff\xfe bytes")
		default:
			for range 1 + r.IntN(30) {
				b.WriteByte("abc xyz,\t\r"[r.IntN(10)])
			}
		}
	}
	switch shape {
	case 0: // plain, trailing newline
		for range lines {
			line()
			b.WriteByte('\n')
		}
	case 1: // no trailing newline
		for i := range lines {
			if i > 0 {
				b.WriteByte('\n')
			}
			line()
		}
	case 2: // CRLF
		for range lines {
			line()
			b.WriteString("\r\n")
		}
	case 3: // tiny: fewer bytes than ranges
		b.WriteString("ab\nc\n\n"[:r.IntN(7)])
	case 4: // only newlines
		b.Write(bytes.Repeat([]byte{'\n'}, r.IntN(20)))
	case 5: // one long line, maybe several
		for range 1 + r.IntN(3) {
			b.Write(bytes.Repeat([]byte{'x'}, 1+r.IntN(300_000)))
			if r.IntN(2) == 0 {
				b.WriteByte('\n')
			}
		}
	}
	return b.Bytes()
}

func frWrite(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func frReadRanges(t *testing.T, ranges []FileRange, cfg LineConfig) []string {
	t.Helper()
	var got []string
	for _, fr := range ranges {
		s, err := OpenRange(fr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, lsKeys(lsDrain(t, s, 7))...)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// TestSplitFileRangesReadEveryLineOnce is the property that makes parallel
// reading correct: the records of all ranges, concatenated, are the records
// of one LineSource over the whole file.
func TestSplitFileRangesReadEveryLineOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	files := 60
	if testing.Short() {
		files = 15
	}
	for f := range files {
		shape := f % 6
		data := frRandomFile(r, shape)
		path := frWrite(t, data)
		whole, err := OpenLineFile(path, LineConfig{BufferSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		want := lsKeys(lsDrain(t, whole, 100))
		whole.Close()
		if !lsEqual(want, lsRef(data)) {
			t.Fatalf("file %d: whole-file source disagrees with the reference", f)
		}
		for n := 1; n <= 8; n++ {
			t.Run(fmt.Sprintf("file=%d,shape=%d,size=%d,n=%d", f, shape, len(data), n), func(t *testing.T) {
				ranges, err := SplitFile(path, n)
				if err != nil {
					t.Fatal(err)
				}
				frCheckPartition(t, data, ranges, n)
				got := frReadRanges(t, ranges, LineConfig{BufferSize: 16})
				if !lsEqual(got, want) {
					t.Fatalf("ranges %v: got %d records, want %d", ranges, len(got), len(want))
				}
			})
		}
	}
}

// frCheckPartition checks that ranges cover the file in order, start at
// line starts and are at most n.
func frCheckPartition(t *testing.T, data []byte, ranges []FileRange, n int) {
	t.Helper()
	if len(ranges) == 0 || len(ranges) > n {
		t.Fatalf("%d ranges for n=%d", len(ranges), n)
	}
	var at int64
	for _, fr := range ranges {
		if fr.Start != at || (fr.End <= fr.Start && len(data) > 0) {
			t.Fatalf("ranges %v do not partition [0, %d)", ranges, len(data))
		}
		if fr.Start > 0 && data[fr.Start-1] != '\n' {
			t.Fatalf("range %v does not start at a line start", fr)
		}
		at = fr.End
	}
	if len(data) == 0 && len(ranges) == 1 && at == math.MaxInt64 {
		return // size 0: read to the end
	}
	if at != int64(len(data)) {
		t.Fatalf("ranges %v end at %d, file has %d bytes", ranges, at, len(data))
	}
}

// TestOpenRangeArbitraryCuts reads ranges cut anywhere, not where SplitFile
// would cut: every line must still be read exactly once.
func TestOpenRangeArbitraryCuts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for f := range 40 {
		data := frRandomFile(r, f%6)
		path := frWrite(t, data)
		want := lsRef(data)
		for trial := range 5 {
			var cuts []int64
			for range r.IntN(9) {
				cuts = append(cuts, r.Int64N(int64(len(data))+1))
			}
			cuts = append(cuts, 0, int64(len(data)))
			sortInt64(cuts)
			var ranges []FileRange
			for i := 0; i+1 < len(cuts); i++ {
				ranges = append(ranges, FileRange{Path: path, Start: cuts[i], End: cuts[i+1]})
			}
			if got := frReadRanges(t, ranges, LineConfig{BufferSize: 8}); !lsEqual(got, want) {
				t.Fatalf("file %d trial %d, cuts %v: got %d records, want %d", f, trial, cuts, len(got), len(want))
			}
		}
	}
}

func sortInt64(a []int64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func TestOpenRangeResume(t *testing.T) {
	data := []byte("a\nbb\nccc\ndddd\neeeee\nf\n")
	path := frWrite(t, data)
	fr := FileRange{Path: path, Start: 3, End: 15} // lines starting in [3, 15): ccc, dddd, eeeee
	for stop := 0; stop <= 3; stop++ {
		s, err := OpenRange(fr, LineConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Offset() != 5 {
			t.Fatalf("Offset right after OpenRange: %d, want the first line start 5", s.Offset())
		}
		head := lsKeys(lsDrainN(t, s, stop))
		pos := s.Position()
		s.Close()
		r, err := OpenRange(fr, LineConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.SetPosition(pos); err != nil {
			t.Fatal(err)
		}
		tail := lsKeys(lsDrain(t, r, 10))
		r.Close()
		if got := append(head, tail...); !lsEqual(got, []string{"ccc", "dddd", "eeeee"}) {
			t.Fatalf("stop after %d at %d: got %q", stop, pos, got)
		}
	}
}

// lsDrainN takes exactly n records, one Fill per record.
func lsDrainN(t *testing.T, s *LineSource, n int) []lsRec {
	var recs []lsRec
	for range n {
		got, err := lsFillOnce(s)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, got...)
	}
	return recs
}

func lsFillOnce(s *LineSource) ([]lsRec, error) {
	var b Batch
	err := s.Fill(context.Background(), &b, 1)
	var recs []lsRec
	for i := range b.Records {
		recs = append(recs, lsRec{Key: string(b.Key(i))})
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return recs, err
	}
	return recs, nil
}

func TestSplitFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := SplitFile(dir, 2); !errors.Is(err, sketch.ErrInvalidParameter) {
		t.Errorf("directory: got %v, want ErrInvalidParameter", err)
	}
	path := frWrite(t, []byte("a\n"))
	if _, err := SplitFile(path, 0); !errors.Is(err, sketch.ErrInvalidParameter) {
		t.Errorf("n=0: got %v, want ErrInvalidParameter", err)
	}
	if _, err := SplitFile(filepath.Join(dir, "missing"), 2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: got %v, want ErrNotExist", err)
	}
	if _, err := OpenRange(FileRange{Path: path, Start: 2, End: 1}, LineConfig{}); !errors.Is(err, sketch.ErrInvalidParameter) {
		t.Errorf("inverted range: got %v, want ErrInvalidParameter", err)
	}
	empty := frWrite(t, nil)
	ranges, err := SplitFile(empty, 4)
	// Size 0 does not say the file is empty (/proc): one range to the end.
	if err != nil || len(ranges) != 1 || ranges[0] != (FileRange{Path: empty, End: math.MaxInt64}) {
		t.Errorf("empty file: got %v, %v; want one range read to the end", ranges, err)
	}
	if _, err := OpenRange(FileRange{Path: path, End: 5, Size: 2}, LineConfig{}); !errors.Is(err, sketch.ErrInvalidParameter) {
		t.Errorf("range past the size: got %v, want ErrInvalidParameter", err)
	}
}

func TestSplitFileBalances(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789\n"), 10_000)
	ranges, err := SplitFile(frWrite(t, data), 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 4 {
		t.Fatalf("got %d ranges, want 4", len(ranges))
	}
	for _, fr := range ranges {
		if size := fr.End - fr.Start; size < 27_000 || size > 28_000 {
			t.Errorf("range %v holds %d bytes, want about %d", fr, size, len(data)/4)
		}
	}
}

// stuckReaderAt reads nothing and reports no error, against io.ReaderAt's
// contract (a broken FUSE file system, a wrapper that drops errors).
type stuckReaderAt struct{}

func (stuckReaderAt) ReadAt([]byte, int64) (int, error) { return 0, nil }

// TestSplitReaderAtStuckReader: a reader that returns no bytes and no
// error fails the split with io.ErrNoProgress instead of looping forever.
func TestSplitReaderAtStuckReader(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := SplitReaderAt(stuckReaderAt{}, "stuck", 1<<20, 4)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, io.ErrNoProgress) {
			t.Fatalf("split of a stuck reader: %v, want io.ErrNoProgress", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("split of a stuck reader did not return")
	}
}
