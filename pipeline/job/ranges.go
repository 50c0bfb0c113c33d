package job

import (
	"bytes"
	"fmt"
	"io"

	"github.com/streamstat/streamstat/pipeline"
)

// guidedSplit returns a split function (as pipeline.SplitReaderAt) that
// cuts a file of lines for w workers taking ranges on demand: see
// guidedRanges. Its n is ignored.
func guidedSplit(w int) func(r io.ReaderAt, name string, size int64, n int) ([]pipeline.FileRange, error) {
	return func(r io.ReaderAt, name string, size int64, _ int) ([]pipeline.FileRange, error) {
		return guidedRanges(r, name, size, w, minRange)
	}
}

// guidedRanges cuts r's first size bytes, named name, into ranges for w
// workers that take them in order, each the next one when it is done with
// its last: ranges of at most size/(rangesPerWorker*w) bytes while much is
// left, then, as in guided self-scheduling, each about 1/(2w) of what is
// left, down to floor (minRange; tests take a smaller one to reach this
// part with small inputs) or the largest size, if smaller (a small file
// is cut into ranges of equal size, as SplitReaderAt cuts it). The last
// ranges are small, so the workers run out of input within about a small
// range's time of each other, where ranges of equal size left one worker
// alone with up to a whole range (a sixteenth of the file at w = 2) while
// the other had finished. Every range starts at a line start; the last
// one ends at size.
func guidedRanges(r io.ReaderAt, name string, size int64, w int, floor int64) ([]pipeline.FileRange, error) {
	if size == 0 {
		return []pipeline.FileRange{{Path: name}}, nil
	}
	most := max(1, size/int64(rangesPerWorker*w))
	least := max(1, min(floor, most))
	var (
		ranges []pipeline.FileRange
		buf    []byte
	)
	for start := int64(0); start < size; {
		rest := size - start
		n := min(most, max(least, rest/int64(2*w)))
		end := size
		if rest-n >= least {
			var err error
			if end, err = lineStartAtOrAfter(r, start+n, size, &buf); err != nil {
				return nil, fmt.Errorf("pipeline: split %s: %w", name, err)
			}
		}
		ranges = append(ranges, pipeline.FileRange{Path: name, Start: start, End: end, Size: size})
		start = end
	}
	return ranges, nil
}

// lineStartAtOrAfter returns the first line start at or after off (0 <
// off < size), or size if no line starts there. It reads from off-1 in
// reads that grow from a page, so that a cut in a file of short lines
// costs one small read.
func lineStartAtOrAfter(r io.ReaderAt, off, size int64, buf *[]byte) (int64, error) {
	n := 4 << 10
	for pos := off - 1; pos < size; {
		if len(*buf) < n {
			*buf = make([]byte, n)
		}
		b := (*buf)[:min(int64(n), size-pos)]
		got, err := r.ReadAt(b, pos)
		if i := bytes.IndexByte(b[:got], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += int64(got)
		if got == 0 && err == nil {
			return 0, io.ErrNoProgress
		}
		if err == io.EOF && pos < size {
			return 0, fmt.Errorf("ended at byte %d of %d: %w", pos, size, pipeline.ErrFileChanged)
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		n = min(2*n, 1<<20)
	}
	return size, nil
}
