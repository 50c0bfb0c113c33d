package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// frOpenSplit opens path and cuts it into n ranges on that descriptor.
func frOpenSplit(t *testing.T, path string, n int) (*os.File, []FileRange) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := SplitReaderAt(f, path, fi.Size(), n)
	if err != nil {
		t.Fatal(err)
	}
	return f, ranges
}

// frNumbered is n lines "prefix-i".
func frNumbered(prefix string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i)
	}
	return b.Bytes()
}

// TestRangeSourceReadsTheOpenedFile: a file renamed over the path after it
// was opened is not read; every range reads the file that was opened
// (OpenRange, which reopens the path, would read the replacement).
func TestRangeSourceReadsTheOpenedFile(t *testing.T) {
	orig := frNumbered("orig", 5000)
	path := frWrite(t, orig)
	f, ranges := frOpenSplit(t, path, 4)
	other := filepath.Join(filepath.Dir(path), "other")
	if err := os.WriteFile(other, frNumbered("other", 9000), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fr := range ranges {
		s, err := NewRangeSource(f, fr, LineConfig{BufferSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, lsKeys(lsDrain(t, s, 100))...)
	}
	if want := lsRef(orig); !lsEqual(got, want) {
		t.Fatalf("got %d records (first %q), want the %d of the opened file", len(got), got[:1], len(want))
	}
}

// TestRangeSourceTruncatedWhileRead: a file that ends before its size at
// open is an error wrapping ErrFileChanged that names the file, whether it
// was truncated before the first read or in the middle of a range.
func TestRangeSourceTruncatedWhileRead(t *testing.T) {
	data := frNumbered("line", 20000)
	for _, tc := range []struct {
		name    string
		n       int   // ranges
		after   int   // records read before the truncation
		truncTo int64 // new size
	}{
		{"emptied before reading", 1, 0, 0},
		{"halved mid range", 1, 300, int64(len(data) / 2)},
		{"last byte gone", 1, 300, int64(len(data) - 1)},
		{"halved, range past the cut", 3, 10, int64(len(data) / 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := frWrite(t, data)
			f, ranges := frOpenSplit(t, path, tc.n)
			fr := ranges[len(ranges)-1]
			s, err := NewRangeSource(f, fr, LineConfig{BufferSize: 64})
			if err != nil {
				t.Fatal(err)
			}
			got := lsDrainN(t, s, tc.after)
			if err := os.Truncate(path, tc.truncTo); err != nil {
				t.Fatal(err)
			}
			rest, err := lsDrainErr(s, 50)
			if !errors.Is(err, ErrFileChanged) || !strings.Contains(err.Error(), path) {
				t.Fatalf("after %d+%d records: got %v, want ErrFileChanged naming %s", len(got), len(rest), err, path)
			}
		})
	}
}

// TestSplitReaderAtShorterThanSize: splitting a file that is shorter than
// the size it is said to have fails with ErrFileChanged.
func TestSplitReaderAtShorterThanSize(t *testing.T) {
	data := frNumbered("x", 100)
	_, err := SplitReaderAt(bytes.NewReader(data), "x", int64(len(data))+1000, 4)
	if !errors.Is(err, ErrFileChanged) {
		t.Fatalf("got %v, want ErrFileChanged", err)
	}
}

// TestRangeSourceIgnoresAppends: bytes appended after the split are in no
// range, even where the file's last line had no newline.
func TestRangeSourceIgnoresAppends(t *testing.T) {
	path := frWrite(t, []byte("a\nb\nc"))
	ranges, err := SplitFile(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	af, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	af.WriteString("d\ne\n")
	af.Close()
	if got := frReadRanges(t, ranges, LineConfig{BufferSize: 16}); !lsEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("got %q, want the lines at the split", got)
	}
}

// TestSplitFileSizeZero: a file of /proc reports size 0 but holds bytes;
// it is read to its end, as cat reads it.
func TestSplitFileSizeZero(t *testing.T) {
	const path = "/proc/self/limits" // the same for the test and its reads
	want, err := os.ReadFile(path)
	if err != nil || len(want) == 0 {
		t.Skipf("no %s here: %v", path, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Skipf("%s reports size %v here", path, fi)
	}
	ranges, err := SplitFile(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := frReadRanges(t, ranges, LineConfig{BufferSize: 16}); !lsEqual(got, lsRef(want)) || len(got) == 0 {
		t.Fatalf("got %d lines, want the %d of %s", len(got), len(lsRef(want)), path)
	}
}
