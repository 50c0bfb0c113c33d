package job

import (
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
		buf    = make([]byte, 64<<10)
	)
	for start := int64(0); start < size; {
		rest := size - start
		n := min(most, max(least, rest/int64(2*w)))
		end := size
		if rest-n >= least {
			var err error
			if end, err = pipeline.LineStartAtOrAfter(r, start+n, size, buf); err != nil {
				return nil, fmt.Errorf("pipeline: split %s: %w", name, err)
			}
		}
		ranges = append(ranges, pipeline.FileRange{Path: name, Start: start, End: end, Size: size})
		start = end
	}
	return ranges, nil
}
