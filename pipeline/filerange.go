package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/streamstat/streamstat/sketch"
)

// ErrFileChanged: a file ended before the size it had when it was split,
// so it was truncated or replaced while being read: what was read of it is
// not the file the run started on.
var ErrFileChanged = errors.New("pipeline: file changed while being read")

// FileRange is the byte range [Start, End) of a file, for reading one file
// with several LineSources in parallel. A line belongs to the range it
// starts in: a LineSource over a range (OpenRange, NewRangeSource) skips the
// partial line at its start and reads past End to finish its last line, so
// the ranges of a partition of a file together yield every line exactly
// once, in order, whatever their bounds.
//
// A FileRange is a plain value, safe to copy and to use from any goroutine.
type FileRange struct {
	Path       string
	Start, End int64
	// Size is the size of the file when it was split (SplitFile,
	// SplitReaderAt set it), 0 if unknown. A source over the range reads
	// no byte at or past a known Size, so lines appended meanwhile are in
	// no range, and fails with ErrFileChanged if the file ends before it.
	// With Size 0, the file is read to its end.
	Size int64
}

// splitScan is the read size SplitFile uses to find line starts.
const splitScan = 64 << 10

// SplitFile cuts the regular file at path into at most n ranges of about
// equal size, each starting at a line start, and returns the non-empty ones
// in order (one empty range for an empty file). Finding a line start reads
// from the cut to the next newline, so a file of very long lines yields
// fewer ranges. Lines appended after the call are in no range.
//
// A file that reports size 0 (the files of /proc do, whatever they hold)
// is one range, [0, math.MaxInt64) with Size 0, read to its end as cat
// reads it.
//
// SplitFile closes the file; OpenRange opens it again by path for each
// range, so a file renamed or replaced meanwhile is read in its new
// version. To read one version of the file, open it once and use
// SplitReaderAt and NewRangeSource on that descriptor.
func SplitFile(path string, n int) ([]FileRange, error) {
	return splitFile(path, n, SplitReaderAt)
}

// splitFile opens the regular file at path and cuts it into at most n
// ranges with split (SplitReaderAt or SplitCSVReaderAt); a file of size 0
// is one range read to its end.
func splitFile(path string, n int, split func(r io.ReaderAt, name string, size int64, n int) ([]FileRange, error)) ([]FileRange, error) {
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
	if fi.Size() == 0 {
		return []FileRange{{Path: path, End: math.MaxInt64}}, nil
	}
	return split(f, path, fi.Size(), n)
}

// SplitReaderAt is SplitFile for a file already open (or any io.ReaderAt):
// it cuts r's first size bytes into at most n ranges named name, each
// starting at a line start, and returns the non-empty ones in order (one
// empty range if size is 0). Their Size is size.
func SplitReaderAt(r io.ReaderAt, name string, size int64, n int) ([]FileRange, error) {
	if n < 1 || size < 0 {
		return nil, fmt.Errorf("pipeline: split %s of %d bytes into %d ranges: %w", name, size, n, sketch.ErrInvalidParameter)
	}
	if size == 0 {
		return []FileRange{{Path: name}}, nil
	}
	scratch := make([]byte, splitScan)
	return cutRanges(name, size, n, func(_ int, cut int64) (int64, error) {
		return LineStartAtOrAfter(r, cut, size, scratch)
	})
}

// cutRanges cuts [0, size) into at most n ranges named name: cut k (0 < k
// < n) is at about size/n*k, moved to the record start startAt(k, cut)
// returns (at or after cut), and the non-empty ranges between the cuts
// are returned in order. startAt is called with increasing k.
func cutRanges(name string, size int64, n int, startAt func(k int, cut int64) (int64, error)) ([]FileRange, error) {
	ranges := make([]FileRange, 0, n)
	start := int64(0)
	for k := 1; k <= n; k++ {
		end := size
		if k < n {
			cut := size/int64(n)*int64(k) + size%int64(n)*int64(k)/int64(n)
			// The previous boundary is a record start; if it lies at or
			// past this cut, no record starts between them and this
			// range is empty.
			if cut <= start {
				continue
			}
			var err error
			if end, err = startAt(k, cut); err != nil {
				return nil, fmt.Errorf("pipeline: split %s: %w", name, err)
			}
		}
		if end > start {
			ranges = append(ranges, FileRange{Path: name, Start: start, End: end, Size: size})
			start = end
		}
	}
	return ranges, nil
}

// LineStartAtOrAfter returns the first line start at or after off in r's
// first size bytes (size if no line starts there): off itself if the byte
// before it is a newline. It reads through buf, scratch space of any
// non-zero length (SplitReaderAt's is 64 KiB). A file that ends before
// size is ErrFileChanged; a reader that returns no bytes and no error,
// io.ErrNoProgress.
func LineStartAtOrAfter(r io.ReaderAt, off, size int64, buf []byte) (int64, error) {
	if off >= size {
		return size, nil
	}
	for pos := off - 1; pos < size; {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += int64(n)
		if n == 0 && err == nil {
			// Against io.ReaderAt's contract; looping would never end.
			return 0, fmt.Errorf("read at byte %d of %d: %w", pos, size, io.ErrNoProgress)
		}
		if err == io.EOF {
			if pos < size {
				return 0, fmt.Errorf("ended at byte %d of %d: %w", pos, size, ErrFileChanged)
			}
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
//
// OpenRange opens fr.Path anew: see SplitFile for when NewRangeSource on
// one open file is the better choice.
func OpenRange(fr FileRange, cfg LineConfig) (*LineSource, error) {
	return openRange(fr, cfg, NewRangeSource)
}

// openRange opens the file of fr and returns the source newSource
// (NewRangeSource or NewCSVRangeSource) makes on it; Close closes the file.
func openRange(fr FileRange, cfg LineConfig, newSource func(io.ReaderAt, FileRange, LineConfig) (*LineSource, error)) (*LineSource, error) {
	if err := checkRange(fr); err != nil {
		return nil, err
	}
	f, err := os.Open(fr.Path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	s, err := newSource(f, fr, cfg)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.closer = f
	return s, nil
}

// NewRangeSource is OpenRange on a file already open (or any io.ReaderAt),
// which it reads with ReadAt only: *os.File's ReadAt is pread, so any number
// of sources may read one descriptor at once, and they all read the file
// that was opened, whatever is renamed over its path meanwhile. Close does
// not close r.
//
// If fr.Size is known, no byte at or past it is read, and the source fails
// with an error wrapping ErrFileChanged if r ends before it (the file was
// truncated while read).
func NewRangeSource(r io.ReaderAt, fr FileRange, cfg LineConfig) (*LineSource, error) {
	s, err := rangeSource(r, fr, cfg)
	if err != nil {
		return nil, err
	}
	if fr.Start > 0 {
		if err := s.SetPosition(fr.Start - 1); err != nil {
			return nil, err
		}
		s.skipPartial = true
		if err := s.skip(context.Background()); err != nil {
			return nil, err
		}
		s.publish()
	}
	return s, nil
}

// rangeSource returns a LineSource over r at offset 0 that reads no byte
// at or past fr.Size (if known) and no record starting at or past fr.End.
func rangeSource(r io.ReaderAt, fr FileRange, cfg LineConfig) (*LineSource, error) {
	if err := checkRange(fr); err != nil {
		return nil, err
	}
	size := fr.Size
	if size == 0 {
		size = math.MaxInt64
	}
	s, err := NewLineSource(&sizedReader{r: r, name: fr.Path, size: size, known: fr.Size > 0}, cfg)
	if err != nil {
		return nil, err
	}
	s.limit = fr.End
	return s, nil
}

func checkRange(fr FileRange) error {
	if fr.Start < 0 || fr.End < fr.Start || fr.Size < 0 || fr.Size > 0 && fr.End > fr.Size {
		return fmt.Errorf("pipeline: range [%d, %d) of %s (size %d): %w", fr.Start, fr.End, fr.Path, fr.Size, sketch.ErrInvalidParameter)
	}
	return nil
}

// sizedReader reads the first size bytes of an io.ReaderAt as a stream,
// with positioned reads only. It is an io.Seeker, so a LineSource can
// rewind it. When known, the stream is meant to hold size bytes: ending
// before that is an error wrapping ErrFileChanged, not io.EOF.
type sizedReader struct {
	r     io.ReaderAt
	name  string
	off   int64
	size  int64
	known bool
}

func (z *sizedReader) Read(p []byte) (int, error) {
	if z.off >= z.size {
		return 0, io.EOF
	}
	if int64(len(p)) > z.size-z.off {
		p = p[:z.size-z.off]
	}
	n, err := z.r.ReadAt(p, z.off)
	z.off += int64(n)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF) && z.known && z.off < z.size:
		return n, fmt.Errorf("%s ended at byte %d, before its size %d when opened (truncated or replaced while read): %w",
			z.name, z.off, z.size, ErrFileChanged)
	case errors.Is(err, io.EOF) && n == len(p):
		// ReadAt may report io.EOF with the last bytes; the next Read
		// says it.
		return n, nil
	}
	return n, err
}

func (z *sizedReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += z.off
	case io.SeekEnd:
		off += z.size
	}
	if off < 0 {
		return z.off, fmt.Errorf("pipeline: seek %s to %d: %w", z.name, off, sketch.ErrInvalidParameter)
	}
	z.off = off
	return off, nil
}
