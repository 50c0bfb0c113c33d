package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/streamstat/streamstat/sketch"
)

// FileRange is the byte range [Start, End) of a file, for reading one file
// with several LineSources in parallel. A line belongs to the range it
// starts in: a LineSource over a range (OpenRange) skips the partial line at
// its start and reads past End to finish its last line, so the ranges of a
// partition of a file together yield every line exactly once, in order,
// whatever their bounds.
//
// A FileRange is a plain value, safe to copy and to use from any goroutine.
type FileRange struct {
	Path       string
	Start, End int64
}

// splitScan is the read size SplitFile uses to find line starts.
const splitScan = 64 << 10

// SplitFile cuts the regular file at path into at most n ranges of about
// equal size, each starting at a line start, and returns the non-empty ones
// in order (one empty range for an empty file). Finding a line start reads
// from the cut to the next newline, so a file of very long lines yields
// fewer ranges. Lines appended after the call are in no range.
func SplitFile(path string, n int) ([]FileRange, error) {
	if n < 1 {
		return nil, fmt.Errorf("pipeline: split %s into %d ranges: %w", path, n, sketch.ErrInvalidParameter)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: split: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pipeline: split: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("pipeline: split %s: not a regular file; read it with one LineSource: %w", path, sketch.ErrInvalidParameter)
	}
	size := fi.Size()
	if size == 0 {
		return []FileRange{{Path: path}}, nil
	}
	ranges := make([]FileRange, 0, n)
	start := int64(0)
	scratch := make([]byte, splitScan)
	for k := int64(1); k <= int64(n); k++ {
		cut := size
		if k < int64(n) {
			cut = size / int64(n) * k
			cut += size % int64(n) * k / int64(n)
		}
		// The previous boundary is a line start; if it lies at or past
		// this cut, no line starts between them and this range is empty.
		if cut <= start {
			continue
		}
		end, err := lineStartAtOrAfter(f, cut, size, scratch)
		if err != nil {
			return nil, fmt.Errorf("pipeline: split %s: %w", path, err)
		}
		if end > start {
			ranges = append(ranges, FileRange{Path: path, Start: start, End: end})
			start = end
		}
	}
	return ranges, nil
}

// lineStartAtOrAfter returns the first line start at or after off (size if
// no line starts there): off itself if the byte before it is a newline.
func lineStartAtOrAfter(f *os.File, off, size int64, buf []byte) (int64, error) {
	if off >= size {
		return size, nil
	}
	for pos := off - 1; pos < size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += int64(n)
		if err == io.EOF {
			return size, nil
		}
		if err != nil {
			return 0, err
		}
	}
	return size, nil
}

// OpenRange opens the file of fr and returns a LineSource reading the lines
// that start in [fr.Start, fr.End): the first range of a file starts at 0;
// a later one skips the partial line at its start (unless the byte before
// Start is a newline) and every range reads past End to finish its last
// line. The partial line is skipped before OpenRange returns, so Offset is
// at once a line start a checkpoint can record. SetPosition moves within
// the file; End still bounds the lines read. Close closes the file.
func OpenRange(fr FileRange, cfg LineConfig) (*LineSource, error) {
	if fr.Start < 0 || fr.End < fr.Start {
		return nil, fmt.Errorf("pipeline: range [%d, %d) of %s: %w", fr.Start, fr.End, fr.Path, sketch.ErrInvalidParameter)
	}
	s, err := OpenLineFile(fr.Path, cfg)
	if err != nil {
		return nil, err
	}
	s.limit = fr.End
	if fr.Start > 0 {
		if err := s.SetPosition(fr.Start - 1); err != nil {
			s.Close()
			return nil, err
		}
		s.skipPartial = true
		if err := s.skip(context.Background()); err != nil {
			s.Close()
			return nil, err
		}
		s.publish()
	}
	return s, nil
}
