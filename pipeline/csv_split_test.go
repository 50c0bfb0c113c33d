package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSplitCSVFile: ranges of a file on disk start at record starts, even
// where a cut falls inside a quoted field holding newlines.
func TestSplitCSVFile(t *testing.T) {
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "%d,\"line one\nline two, \"\"quoted\"\"\nthree\",%d\n", i, i%7)
	}
	path := filepath.Join(t.TempDir(), "q.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := NewCSVKey(',', false, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	for j := 1; j <= 8; j++ {
		ranges, err := SplitCSVFile(path, j)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fr := range ranges {
			s, err := OpenCSVRange(fr, LineConfig{Extract: k})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, lsKeys(lsDrain(t, s, 64))...)
			if s.Skipped() != 0 {
				t.Errorf("%d ranges: range %+v skipped %d", j, fr, s.Skipped())
			}
			s.Close()
		}
		if len(got) != 400 || got[0] != "0" || got[399] != "399" || len(ranges) != j {
			t.Errorf("%d ranges (%d made): %d records", j, len(ranges), len(got))
		}
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestSplitCSVReadsBeforeLastCut: the split counts quotes only where a
// cut needs them, before the last cut (for two ranges, half the file, not
// all of it: the whole file read once more cost 12% of a CSV distinct's
// CPU), and its ranges still match encoding/csv's records.
func TestSplitCSVReadsBeforeLastCut(t *testing.T) {
	var b strings.Builder
	for i := range 80000 {
		fmt.Fprintf(&b, "%d,\"a\nb\",\"x,\"\"y\"\"\"\n", i)
	}
	data := []byte(b.String())
	for j := 2; j <= 4; j++ {
		c := &countingReaderAt{r: bytes.NewReader(data)}
		ranges, err := SplitCSVReaderAt(c, "q.csv", int64(len(data)), j)
		if err != nil {
			t.Fatal(err)
		}
		if len(ranges) != j {
			t.Fatalf("%d ranges, want %d", len(ranges), j)
		}
		// The bytes before the last cut, and a scan of splitScan bytes
		// for each cut's record start.
		if max := int64(len(data))*int64(j-1)/int64(j) + int64(j-1)*(splitScan+1); c.n.Load() > max {
			t.Errorf("%d ranges: split read %d bytes of %d, want at most %d", j, c.n.Load(), len(data), max)
		}
		keys, _ := csvRead(t, data, &CSVKey{Columns: []int{1}}, j, 0)
		if len(keys) != 80000 || keys[0] != "0" || keys[79999] != "79999" {
			t.Errorf("%d ranges: %d records", j, len(keys))
		}
	}
}

// TestCSVRangeTruncatedWhileRead: a CSV file truncated while a range of
// it is read fails with ErrFileChanged, where its bytes are read through
// a memory map too (a fault in csvMasks' assembly, or in the copy of a
// block's tail, is recovered like any other), never a crash or a short
// answer.
func TestCSVRangeTruncatedWhileRead(t *testing.T) {
	var b bytes.Buffer
	for i := 0; b.Len() < 12<<20; i++ {
		fmt.Fprintf(&b, "2024-06-01T12:00:00.000Z,\"GET\",\"u-%d\",\"/p?q=a,b\",200,1.5\n", i)
	}
	path := frWrite(t, b.Bytes())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ranges, err := SplitCSVReaderAt(f, path, int64(b.Len()), 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewCSVRangeSource(f, ranges[0], LineConfig{Extract: &CSVKey{Columns: []int{3}}})
	if err != nil {
		t.Fatal(err)
	}
	lsDrainN(t, s, 100)
	if err := os.Truncate(path, 64<<10); err != nil {
		t.Fatal(err)
	}
	if _, err := lsDrainErr(s, 1000); !errors.Is(err, ErrFileChanged) {
		t.Fatalf("got %v, want ErrFileChanged", err)
	}
}

// TestRecordEnds: a stream cut at every record end RecordEnds finds, fed
// in random pieces, cuts exactly where SplitCSVReaderAt may start a range
// (the newlines after an even number of quotes), and at every newline for
// lines.
func TestRecordEnds(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 14))
	for trial := range 100 {
		data := csvGen(r, ',', 1+r.IntN(30))
		for _, f := range []Framing{FrameLines, FrameCSV} {
			var want []int
			odd := false
			for i, c := range data {
				if c == '"' {
					odd = !odd
				}
				if c == '\n' && (!odd || f == FrameLines) {
					want = append(want, i+1)
				}
			}
			e := NewRecordEnds(f)
			var got []int
			for p := 0; p < len(data); {
				piece := data[p:min(len(data), p+1+r.IntN(12))]
				if r.IntN(3) == 0 {
					// A piece taken whole, as a stream dealer passes the
					// bytes it does not look into; its cuts are known.
					e.Pass(piece)
					for _, w := range want {
						if w > p && w <= p+len(piece) {
							got = append(got, w)
						}
					}
					p += len(piece)
					continue
				}
				k := e.Next(piece)
				if k < 0 {
					p += len(piece)
					continue
				}
				p += k
				got = append(got, p)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("trial %d framing %d: cuts %v, want %v in %q", trial, f, got, want, data)
			}
		}
	}
}
