//go:build linux && (amd64 || arm64)

package pipeline

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// mmTestFile is about 14 MB of lines over several map windows: short
// lines of 0 to 200 bytes (some CRLF), a line of 9 MB (more than twice a
// window, so the window grows for it), more short lines, and a last line
// without a newline.
func mmTestFile() []byte {
	r := rand.New(rand.NewPCG(16, 1))
	var b bytes.Buffer
	short := func(n int) {
		for range n {
			k := r.IntN(200)
			for range k {
				b.WriteByte(byte('a' + r.IntN(26)))
			}
			if r.IntN(10) == 0 {
				b.WriteByte('\r')
			}
			b.WriteByte('\n')
		}
	}
	short(30000)
	b.WriteString(strings.Repeat("L", 9<<20))
	b.WriteByte('\n')
	short(20000)
	b.WriteString("last")
	return b.Bytes()
}

// TestMappedRangeSource: ranges of a file read through its memory map
// (windows that move, a window grown for a long line, lines cut by a
// window's end) make the records, keys and hashes alike, that the same
// ranges make read(2) by read from a copy of the file in memory.
func TestMappedRangeSource(t *testing.T) {
	data := mmTestFile()
	path := frWrite(t, data)
	f, ranges := frOpenSplit(t, path, 3)
	for i, cfg := range []LineConfig{{}, {MaxKeyLen: 150}, {Field: 1, Delimiter: ByteDelimiter('q')}} {
		var got, want []string
		for _, fr := range ranges {
			s, err := NewRangeSource(f, fr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.mm == nil {
				t.Fatal("a range of a regular file is not read through a map")
			}
			got = append(got, lsKeys(lsDrain(t, s, 1000))...)
			s.Close()
			ref, err := NewRangeSource(bytes.NewReader(data), fr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, lsKeys(lsDrain(t, ref, 1000))...)
		}
		if !lsEqual(got, want) {
			t.Fatalf("%+v: mapped: %d records, read: %d", cfg, len(got), len(want))
		}
		if i == 0 && !lsEqual(got, lsRef(data)) {
			t.Fatalf("mapped: %d records, want the file's %d lines", len(got), len(lsRef(data)))
		}
	}
}

// TestMappedRangeSourceCloseThenFill: Close unmaps; a Fill after it maps
// again and goes on from the first line not yet returned.
func TestMappedRangeSourceCloseThenFill(t *testing.T) {
	data := mmTestFile()
	f, ranges := frOpenSplit(t, frWrite(t, data), 1)
	s, err := NewRangeSource(f, ranges[0], LineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := lsKeys(lsDrainN(t, s, 25000))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.mm.win != nil {
		t.Fatal("Close left the window mapped")
	}
	got = append(got, lsKeys(lsDrain(t, s, 1000))...)
	if want := lsRef(data); !lsEqual(got, want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
}

// TestMappedRangeSourceTruncatedPages: pages of the map cut off by a
// truncation fault when read; the source returns ErrFileChanged, then
// again on every Fill, and the process goes on.
func TestMappedRangeSourceTruncatedPages(t *testing.T) {
	data := mmTestFile()
	path := frWrite(t, data)
	f, ranges := frOpenSplit(t, path, 1)
	s, err := NewRangeSource(f, ranges[0], LineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	lsDrainN(t, s, 100) // the first window is mapped
	if err := os.Truncate(path, 64<<10); err != nil {
		t.Fatal(err)
	}
	_, err = lsDrainErr(s, 1000)
	if !errors.Is(err, ErrFileChanged) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want ErrFileChanged naming %s", err, path)
	}
	if !strings.Contains(err.Error(), "fault") {
		t.Fatalf("got %v, want the fault reading the map", err)
	}
	if _, err2 := lsFillOnce(s); !errors.Is(err2, ErrFileChanged) {
		t.Fatalf("Fill after the fault: got %v, want the error again", err2)
	}
}

// TestMappedRangeSourceMapFails: where the file can no longer be read
// (here its descriptor closed under the source), Fill fails with the
// error, after the lines it had; where a window cannot be mapped (a file
// system without mmap), the source goes back to reading (unmapToBuffer,
// called here as readMapped calls it then) and reads every line once.
func TestMappedRangeSourceMapFails(t *testing.T) {
	data := mmTestFile()
	path := frWrite(t, data)
	for _, closeFile := range []bool{true, false} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		ranges, err := SplitReaderAt(f, path, int64(len(data)), 1)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewRangeSource(f, ranges[0], LineConfig{})
		if err != nil {
			t.Fatal(err)
		}
		got := lsDrainN(t, s, 29999) // the first window is mapped, a line of it left
		want := lsRef(data)
		if closeFile {
			f.Close()
			rest, err := lsDrainErr(s, 1000)
			if !errors.Is(err, os.ErrClosed) {
				t.Fatalf("got %v, want the closed file's error", err)
			}
			if got = append(got, rest...); len(got) >= len(want) || !lsEqual(lsKeys(got), want[:len(got)]) {
				t.Fatalf("got %d records, not the first of the file's %d lines", len(got), len(want))
			}
			continue
		}
		if err := s.unmapToBuffer(); err != nil {
			t.Fatal(err)
		}
		if s.mm != nil {
			t.Fatal("the source still maps the file")
		}
		if got = append(got, lsDrain(t, s, 1000)...); !lsEqual(lsKeys(got), want) {
			t.Fatalf("got %d records, want the file's %d lines", len(got), len(want))
		}
		f.Close()
	}
}
