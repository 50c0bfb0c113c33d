package job

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/streamstat/streamstat/internal/errmsg"
	"github.com/streamstat/streamstat/pipeline"
)

// When ranges are handed out on demand (order-insensitive sketches), a
// file is cut into ranges of at most 1/(rangesPerWorker*workers) of it, so
// that a worker slowed by a busy machine holds back at most a few percent
// of the file; and the ranges shrink towards the end (guided
// self-scheduling: each about 1/(2*workers) of what is left, down to
// minRange), so that the workers run out of input at about the same time
// rather than up to a whole range apart. A range of minRange takes 0.1 ms
// on 128-byte keys, 0.6 ms on Go tokens (short lines: more work a byte).
const (
	rangesPerWorker = 8
	minRange        = 256 << 10
)

// input is one input argument: a regular file read in ranges, or a stream.
// A file is opened once, when the run starts, and every range is read
// through that descriptor (pread), so a file renamed or replaced during the
// run is not mixed with its replacement.
type input struct {
	name   string // for messages
	file   *os.File
	info   os.FileInfo // the file's, when opened
	ranges []pipeline.FileRange
	next   atomic.Int64 // next range to hand out, when dynamic
	stream *stream      // set for stdin, pipes and devices
	closer io.Closer
	size   int64 // bytes, or -1 for a stream
}

// plan is the inputs of a run, opened and checked before anything runs, so
// that an unreadable file fails the run at once with a clear message.
type plan struct {
	inputs    []*input
	workers   int
	dynamic   bool
	cfg       pipeline.LineConfig
	total     int64 // bytes in all inputs, or -1 if any is a stream
	stdin     io.Reader
	chunkSize int64
	bufSize   int
	// verify counts the checks of a restored checkpoint's stream
	// positions left (see verify.go).
	verify verification
}

// newPlan opens args ("-" or none: stdin) for w workers. Dynamic plans
// hand out ranges and chunks to whichever worker is free; static ones give
// each worker a fixed share, so its records do not depend on timing.
func newPlan(cfg *Config, w int, dynamic bool) (*plan, error) {
	args := cfg.Inputs
	if len(args) == 0 {
		args = []string{"-"}
	}
	pl := &plan{workers: w, dynamic: dynamic, cfg: cfg.Line, stdin: cfg.Stdin, chunkSize: cfg.ChunkSize, bufSize: cfg.ReadBuffer}
	if pl.stdin == nil {
		pl.stdin = os.Stdin
	}
	for _, a := range args {
		in, err := pl.open(a)
		if err != nil {
			pl.close()
			return nil, err
		}
		pl.inputs = append(pl.inputs, in)
		if in.size < 0 || pl.total < 0 {
			pl.total = -1
		} else {
			pl.total += in.size
		}
	}
	return pl, nil
}

func (pl *plan) open(path string) (*input, error) {
	if path == "-" {
		return &input{name: "stdin", size: -1, stream: pl.newStream("stdin", pl.stdin)}, nil
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		// Opening a FIFO waits for a writer: do it in the background, so
		// that a signal stops a run still waiting for one.
		r := openFIFO(path)
		return &input{name: path, size: -1, closer: r, stream: pl.newStream(path, r)}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errmsg.CleanPath(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errmsg.CleanPath(err)
	}
	switch {
	case fi.IsDir():
		f.Close()
		return nil, fmt.Errorf("%s: is a directory", path)
	case fi.Mode().IsRegular() && !sizeUnknown(f, fi):
		// Read the first byte to prove the file readable now, not only
		// openable (some files open but fail to read).
		var b [1]byte
		if _, err := f.ReadAt(b[:], 0); err != nil && !errors.Is(err, io.EOF) {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", path, errmsg.UnwrapPath(err))
		}
		n := pl.workers
		split := pipeline.SplitReaderAt
		switch {
		case pl.framing() != pipeline.FrameLines:
			// CSV: cut only at record starts (even quote parity), never
			// inside a quoted field.
			split = pipeline.SplitCSVReaderAt
			if pl.dynamic && n > 1 {
				n *= rangesPerWorker
			}
		case pl.dynamic && n > 1:
			split = guidedSplit(n)
		}
		ranges, err := split(f, path, fi.Size(), n)
		if err != nil {
			f.Close()
			return nil, fileError(path, err)
		}
		return &input{name: path, file: f, info: fi, closer: f, ranges: ranges, size: fi.Size()}, nil
	}
	// A pipe, a device, or a file whose size does not say how much it
	// holds (/proc, sysfs): read as a stream, to its end, as cat does.
	return &input{name: path, size: -1, closer: f, stream: pl.newStream(path, f)}, nil
}

// framing is how the plan's inputs divide into records.
func (pl *plan) framing() pipeline.Framing {
	if pl.cfg.Extract == nil {
		return pipeline.FrameLines
	}
	return pl.cfg.Extract.Framing()
}

// newStream returns the stream of input r, dealt in chunks of whole
// records of the plan's framing.
func (pl *plan) newStream(name string, r io.Reader) *stream {
	s := newStream(name, r, pl.workers, pl.dynamic, pl.chunkSize, pl.bufSize, pl.framing())
	s.verify = &pl.verify
	return s
}

// rangeSource returns a source over range fr of input in, with cfg.
func (pl *plan) rangeSource(in *input, fr pipeline.FileRange, cfg pipeline.LineConfig) (*pipeline.LineSource, error) {
	if pl.framing() != pipeline.FrameLines {
		return pipeline.NewCSVRangeSource(in.file, fr, cfg)
	}
	return pipeline.NewRangeSource(in.file, fr, cfg)
}

// streamConfig is the LineConfig of a source over a worker's view of a
// stream: the stream strips a CSV header before dealing (see stream), so
// a view's first record, at its offset 0, is a record like any other.
func (pl *plan) streamConfig() pipeline.LineConfig {
	cfg := pl.cfg
	if pl.framing() == pipeline.FrameCSVHeader {
		if k, ok := cfg.Extract.(*pipeline.CSVKey); ok {
			// A CSVKey without its header, rather than a wrapper: it
			// keeps CSVKey's one-pass reading of a record's end and key,
			// which a wrapper would hide.
			c := *k
			c.Header = false
			cfg.Extract = &c
		} else {
			cfg.Extract = headerless{cfg.Extract}
		}
	}
	return cfg
}

// dropsHeader reports whether the plan's streams drop a CSV header before
// dealing their records: a view's offsets then start after the header,
// not at the stream's offset 0, even with one worker.
func (pl *plan) dropsHeader() bool { return pl.framing() == pipeline.FrameCSVHeader }

// headerless is an Extractor of FrameCSVHeader records framed as FrameCSV:
// its input's header is already gone.
type headerless struct{ pipeline.Extractor }

func (headerless) Framing() pipeline.Framing { return pipeline.FrameCSV }

// fileError is the message for an error reading file path: one that
// changed while read says so plainly.
func fileError(path string, err error) error {
	if errors.Is(err, pipeline.ErrFileChanged) {
		return errmsg.Wrap(fmt.Sprintf("%s: the file shrank while being read (truncated or replaced?): it ends before the size it had when opened, so the answer would be wrong", path), err)
	}
	return fmt.Errorf("%s: %w", path, errmsg.TrimPipeline(err))
}

// fifoReader reads a FIFO that it opens in the background: the open
// blocks until a writer opens the other end, and the run must stay
// responsive to signals meanwhile (its workers wait on the stream, which
// they give up when the run is cancelled).
type fifoReader struct {
	path string
	done chan struct{} // closed when the open has returned
	f    *os.File
	err  error
}

func openFIFO(path string) *fifoReader {
	r := &fifoReader{path: path, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.f, r.err = os.Open(path)
		if r.err != nil {
			r.err = errmsg.CleanPath(r.err)
			return
		}
		growPipe(r.f)
	}()
	return r
}

func (r *fifoReader) Read(p []byte) (int, error) {
	<-r.done
	if r.err != nil {
		return 0, r.err
	}
	return r.f.Read(p)
}

// Close closes the FIFO, now or, if the open still waits, when it returns.
func (r *fifoReader) Close() error {
	select {
	case <-r.done:
		if r.f != nil {
			return r.f.Close()
		}
	default:
		go func() {
			<-r.done
			if r.f != nil {
				r.f.Close()
			}
		}()
	}
	return nil
}

func (pl *plan) close() {
	for _, in := range pl.inputs {
		if in.closer != nil {
			in.closer.Close()
		}
	}
}
