package job

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
)

// linesAt is an io.ReaderAt over size bytes of lines of lineLen bytes
// (newline included), made up as they are read, so that tests can split
// files of any size without holding them.
type linesAt struct{ size, lineLen int64 }

func (l linesAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= l.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), l.size-off))
	for i := range n {
		p[i] = 'x'
		if (off+int64(i))%l.lineLen == l.lineLen-1 {
			p[i] = '\n'
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestGuidedRanges(t *testing.T) {
	for _, tc := range []struct {
		size, lineLen int64
		w             int
	}{
		{size: 1, lineLen: 1, w: 2},
		{size: 100, lineLen: 7, w: 2},
		{size: 3 << 20, lineLen: 33, w: 2}, // small: equal ranges
		{size: 256 << 20, lineLen: 129, w: 2},
		{size: 256 << 20, lineLen: 9, w: 4},
		{size: 10 << 30, lineLen: 65, w: 2},
		{size: 64 << 20, lineLen: 5 << 20, w: 2}, // lines longer than the last ranges
	} {
		t.Run(fmt.Sprintf("size=%d,lineLen=%d,w=%d", tc.size, tc.lineLen, tc.w), func(t *testing.T) {
			rs, err := guidedRanges(linesAt{tc.size, tc.lineLen}, "f", tc.size, tc.w, minRange)
			if err != nil {
				t.Fatal(err)
			}
			most := max(1, tc.size/int64(rangesPerWorker*tc.w))
			least := min(minRange, most)
			at := int64(0)
			for i, r := range rs {
				if r.Start != at || r.End <= r.Start || r.Size != tc.size || r.Path != "f" {
					t.Fatalf("range %d of %d is %+v: not the next part of [0, %d) after %d", i, len(rs), r, tc.size, at)
				}
				if r.Start%tc.lineLen != 0 {
					t.Errorf("range %d starts at %d, inside a line", i, r.Start)
				}
				// The last range takes what is left after a range, if
				// that is less than the smallest range: up to twice.
				bound := most
				if i == len(rs)-1 {
					bound = 2 * most
				}
				if r.End-r.Start > bound+tc.lineLen && r.End-r.Start > 2*tc.lineLen {
					t.Errorf("range %d of %d holds %d bytes, more than %d (1/%d of the file) and a line", i, len(rs), r.End-r.Start, bound, rangesPerWorker*tc.w)
				}
				at = r.End
			}
			if at != tc.size {
				t.Fatalf("the ranges end at %d, not at the file's end %d", at, tc.size)
			}
			// The tail: once less than a range per worker is left, the
			// ranges are small, so no worker is left alone with much.
			if last := rs[len(rs)-1]; last.End-last.Start >= 2*least+tc.lineLen && tc.lineLen < least {
				t.Errorf("the last range holds %d bytes; want less than %d", last.End-last.Start, 2*least+tc.lineLen)
			}
			if max := rangesPerWorker*tc.w + 2*tc.w*40 + 2; len(rs) > max {
				t.Errorf("%d ranges, want at most %d", len(rs), max)
			}
		})
	}
}

// TestGuidedRangesShrunk: a file that ends before the size it had when
// opened fails the split with ErrFileChanged.
func TestGuidedRangesShrunk(t *testing.T) {
	const size = 64 << 20
	// Past 32 MiB, no newline: the cuts look for one to the (shorter) end.
	_, err := guidedRanges(linesAt{size: 32 << 20, lineLen: 64 << 20}, "f", size, 2, minRange)
	if !errors.Is(err, pipeline.ErrFileChanged) {
		t.Fatalf("err = %v, want ErrFileChanged", err)
	}
}

// TestDynamicPlanTail: a job whose workers take ranges on demand cuts a
// file so that its last range is small (it was a sixteenth of the file
// with -j 2: one worker then read up to that much alone at the end).
func TestDynamicPlanTail(t *testing.T) {
	const size = 40 << 20
	path := filepath.Join(t.TempDir(), "in")
	line := strings.Repeat("k", 99) + "\n"
	if err := os.WriteFile(path, []byte(strings.Repeat(line, size/len(line))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		dynamic bool
		want    func(rs []pipeline.FileRange) string
	}{
		{"dynamic", true, func(rs []pipeline.FileRange) string {
			if last := rs[len(rs)-1]; last.End-last.Start > 2*minRange+int64(len(line)) {
				return fmt.Sprintf("the last of %d ranges holds %d bytes, want at most %d", len(rs), last.End-last.Start, 2*minRange+len(line))
			}
			return ""
		}},
		{"static", false, func(rs []pipeline.FileRange) string {
			if len(rs) != 2 {
				return fmt.Sprintf("%d ranges, want one per worker", len(rs))
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := newPlan(&Config{Inputs: []string{path}, Workers: 2}, 2, tc.dynamic)
			if err != nil {
				t.Fatal(err)
			}
			defer pl.close()
			if msg := tc.want(pl.inputs[0].ranges); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// FuzzGuidedRanges: whatever the bytes, the number of workers and the
// smallest range, the ranges partition the file in order, each starting
// at a line start (the file's start or just past a newline), the last
// ending at its size; none holds more than 1/(rangesPerWorker*w) of the
// file, the last at most twice that, past the end of its last line. The
// smallest range is fuzzed too (minRange in the CLI): with minRange,
// inputs this small are only cut into equal ranges, never reaching the
// ranges that shrink towards the end.
func FuzzGuidedRanges(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), uint8(2), uint8(1))
	f.Add([]byte("no newline at all"), uint8(3), uint8(0))
	f.Add([]byte("\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"), uint8(1), uint8(2))
	f.Add([]byte(strings.Repeat("0123456789\n", 500)+"tail"), uint8(4), uint8(3))
	f.Add([]byte(strings.Repeat("a\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n", 200)), uint8(1), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, w, floor uint8) {
		workers := int(w%16) + 1
		size := int64(len(data))
		rs, err := guidedRanges(bytes.NewReader(data), "f", size, workers, int64(floor%64)+1)
		if err != nil {
			t.Fatal(err)
		}
		most := max(1, size/int64(rangesPerWorker*workers))
		at := int64(0)
		for i, r := range rs {
			if r.Start != at || r.End < r.Start || r.End == r.Start && size > 0 || r.Size != size {
				t.Fatalf("range %d of %d is %+v after %d, of %d bytes", i, len(rs), r, at, size)
			}
			if r.Start > 0 && data[r.Start-1] != '\n' {
				t.Fatalf("range %d starts at %d, inside a line", i, r.Start)
			}
			// A range is cut at the first line start past its share.
			bound := most
			if i == len(rs)-1 {
				bound = 2 * most
			}
			if n := r.End - r.Start; n > bound && bytes.IndexByte(data[r.Start+bound:r.End-1], '\n') >= 0 {
				t.Fatalf("range %d of %d holds %d bytes, more than %d and the end of a line", i, len(rs), n, bound)
			}
			at = r.End
		}
		if at != size {
			t.Fatalf("the ranges end at %d of %d bytes", at, size)
		}
	})
}
