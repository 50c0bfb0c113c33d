package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/streamstat/streamstat/sketch"
)

// Defaults used where a LineConfig field is zero.
const (
	// DefaultLineBuffer is the initial read buffer of a LineSource. It
	// grows to hold the longest line and shrinks back after it.
	DefaultLineBuffer = 256 << 10
	// DefaultMaxBatchBytes caps the bytes a LineSource puts in one
	// batch's arena, so that long lines cannot make a batch, and so the
	// memory held by in-flight batches, unbounded.
	DefaultMaxBatchBytes = 4 << 20
)

// LineConfig says how a LineSource turns lines into records. The zero value
// makes each whole line a key.
type LineConfig struct {
	// Field selects the key: field Field (1-based) of the line split by
	// Delimiter; 0 means the whole line. A line without that field is
	// skipped, counted in Skipped and reported to OnBadLine.
	Field int
	// Delimiter splits fields; the zero value is Whitespace.
	Delimiter Delimiter
	// ValueField, if not 0, selects a field (1-based) parsed into
	// Record.Value: a finite decimal number such as 7, -2.5 or 3e-4, blanks
	// around it allowed (no hex, underscores, Inf or NaN). When it is
	// missing or does not parse, the record is kept without a value,
	// counted in BadValues and reported to OnBadLine.
	ValueField int
	// BufferSize is the initial read buffer size; 0 means
	// DefaultLineBuffer.
	BufferSize int
	// MaxBatchBytes: Fill returns early once the batch's arena holds this
	// many bytes; 0 means DefaultMaxBatchBytes. The arena holds the lines
	// the keys come from, newlines included (see Batch.Bytes).
	MaxBatchBytes int
	// OnBadLine, if set, is called (on the goroutine calling Fill) for
	// every line that is skipped (ErrMissingField) or whose value is bad
	// (ErrBadValue).
	OnBadLine func(BadLine)
	// MaxKeyLen, if not 0, caps the key bytes a record carries: a longer
	// key is replaced by its capped form (see CappedKey), MaxKeyLen bytes
	// of it followed by its length and hash, so that a sketch that keeps
	// keys (TopK) holds at most MaxKeyLen+CappedKeySuffix bytes per key
	// however long the lines, while equal keys still make equal records
	// and different ones different records. The record's Hash is that of
	// the capped form. At least 1 and at most MaxCappedKeyLen.
	MaxKeyLen int
	// Consumed, if set, is written every byte the source moves past, in
	// order, on the goroutine calling Fill: the lines it makes records of
	// or skips, and the bytes it discards to reach a position (SetPosition
	// forward on a reader that cannot seek, a range's partial first line).
	// So a hash written to it covers exactly the bytes before Offset, which
	// a checkpoint of a stream can keep to recognize the stream when it is
	// replayed. A SetPosition that seeks writes nothing. Its errors are
	// ignored.
	Consumed io.Writer
	// Extract, if set, divides the input into records and finds each
	// one's key and value (JSON paths, CSV columns, composite keys; see
	// Extractor), in place of Field, Delimiter and ValueField. A record
	// it rejects is skipped, counted in Skipped and reported to
	// OnBadLine with the extractor's error. Lines (and BadLine.Number)
	// then count records: a CSV record may span lines, and blank CSV lines
	// and a CSV header are no records.
	Extract Extractor
	// HashOnly leaves the key bytes out of the batches: records carry
	// their hash (and value), and Batch.Key returns an empty key. For
	// pipelines that read only the hash of a key (Distinct, Frequency,
	// the shedders' decisions, partitioning by key), it saves copying
	// every line into the batch. Ignored with Extract.
	HashOnly bool
	// Strict makes Fill fail at the first record Extract rejects, with an
	// error wrapping the extractor's and naming the record's number and
	// offset, instead of skipping it.
	Strict bool
}

// BadLine describes a line a LineSource could not use in full.
type BadLine struct {
	// Number counts lines (1-based) from where the source started reading.
	Number int64
	// Offset is the byte offset of the line's start.
	Offset int64
	// Line is the line without its newline, aliasing the source's buffer:
	// copy it to keep it past the call.
	Line []byte
	// Err is ErrMissingField or ErrBadValue, or with LineConfig.Extract
	// the error the extractor returned (ErrBadJSON, ErrBadCSV, ...).
	Err error
}

// LineSource is a Source reading newline-terminated lines from an
// io.Reader and making one record per line, keyed by the line or one of its
// fields (see LineConfig). A trailing CR is not part of a line, a last line
// without a newline is a line, an empty line is a record with an empty key,
// and all other bytes (NUL, invalid UTF-8) are kept as they are. Lines may
// be of any length: the buffer grows to hold the longest. The source reads
// a range of a regular file (NewRangeSource) through a memory map where
// it can (Linux), and a Lender's bytes where the Lender holds them,
// instead of copying either into its buffer.
//
// Positions are byte offsets in the stream the reader yields from where it
// stood when the source was made: Offset is just past the last line Fill
// has consumed (emitted or skipped), a line boundary, so a checkpoint can
// record it and a new source can resume there with SetPosition.
//
// The zero value is not usable; make one with NewLineSource, OpenLineFile
// or OpenRange. Fill, SetPosition and Close must be called from one
// goroutine at a time; Lines, Bytes, Skipped, BadValues, Offset and
// Position may be called from any goroutine and are current as of the end
// of the last Fill (or SetPosition).
type LineSource struct {
	cfg      LineConfig
	r        io.Reader
	closer   io.Closer
	seeker   io.Seeker // nil when r cannot seek
	origin   int64     // seeker's offset when the source was made
	bufSize  int
	maxBytes int
	maxKey   int // cfg.MaxKeyLen, or math.MaxInt

	buf         []byte
	pos, end    int   // unconsumed bytes are buf[pos:end]
	scanned     int   // buf[pos:pos+scanned] holds no '\n
	off         int64 // stream offset of buf[pos]
	limit       int64 // no line starting at or past limit is read
	eof         bool  // r returned io.EOF
	rerr        error // r failed; returned once the buffered lines are used
	done        bool
	skipPartial bool  // drop bytes up to and including the first '\n'
	discard     int64 // bytes still to drop before reading lines

	lines, bytes, skipped, bad int64
	byLen                      *byLength  // hashLines' scratch space (lenScratch), or nil
	masks                      [32]uint64 // takeWhole's newline bitmaps (blockMasks)
	ends                       endList    // blockLines' newline offsets
	capped                     []byte     // takeCapped's scratch space
	mm                         *fileMap   // reading a file range through a map (linesource_mmap_linux.go), or nil
	x                          extractState
	pub                        struct{ lines, bytes, skipped, bad, off atomic.Int64 }

	// Reading a Lender (linesource_lend.go): buf is either own, the
	// source's buffer, or (lentBuf) bytes lent by it; lent are the lent
	// bytes not yet in buf; lendEnd is the Lend error (io.EOF too) that
	// counts once lent is used up.
	lender  Lender
	own     []byte
	lent    []byte
	lentBuf bool
	lendEnd error
	carried int64 // bytes carry moved (a test counts them)
}

// NewLineSource returns a LineSource reading r. If r is an io.Seeker whose
// offset can be read, SetPosition can rewind; otherwise it can only skip
// forward.
func NewLineSource(r io.Reader, cfg LineConfig) (*LineSource, error) {
	if cfg.Field < 0 || cfg.ValueField < 0 || cfg.BufferSize < 0 || cfg.MaxBatchBytes < 0 {
		return nil, fmt.Errorf("pipeline: line source: field %d, value field %d, buffer %d, batch bytes %d: negative: %w",
			cfg.Field, cfg.ValueField, cfg.BufferSize, cfg.MaxBatchBytes, sketch.ErrInvalidParameter)
	}
	if cfg.MaxKeyLen < 0 || cfg.MaxKeyLen > MaxCappedKeyLen {
		return nil, fmt.Errorf("pipeline: line source: key length cap %d outside [1, %d]: %w", cfg.MaxKeyLen, MaxCappedKeyLen, sketch.ErrInvalidParameter)
	}
	if v, ok := cfg.Extract.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("pipeline: line source: %w", err)
		}
	}
	s := &LineSource{cfg: cfg, r: r, limit: math.MaxInt64, bufSize: cfg.BufferSize, maxBytes: cfg.MaxBatchBytes, maxKey: math.MaxInt}
	if cfg.MaxKeyLen > 0 {
		s.maxKey = cfg.MaxKeyLen
	}
	if s.bufSize == 0 {
		s.bufSize = DefaultLineBuffer
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxBatchBytes
	}
	if sk, ok := r.(io.Seeker); ok {
		if o, err := sk.Seek(0, io.SeekCurrent); err == nil {
			s.seeker, s.origin = sk, o
		}
	}
	if s.startMap(); s.mm == nil {
		s.buf = make([]byte, s.bufSize)
	}
	if l, ok := r.(Lender); ok && s.mm == nil {
		s.lender, s.own = l, s.buf
	}
	return s, nil
}

// OpenLineFile opens the file at path and returns a LineSource reading it
// from the start. Close closes the file.
func OpenLineFile(path string, cfg LineConfig) (*LineSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	s, err := NewLineSource(f, cfg)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.closer = f
	return s, nil
}

// Lines is the number of lines consumed, skipped ones included.
func (s *LineSource) Lines() int64 { return s.pub.lines.Load() }

// Bytes is the number of bytes consumed, newlines included.
func (s *LineSource) Bytes() int64 { return s.pub.bytes.Load() }

// Skipped is the number of lines skipped for lack of the key field.
func (s *LineSource) Skipped() int64 { return s.pub.skipped.Load() }

// BadValues is the number of records whose value field was missing or not
// a finite number.
func (s *LineSource) BadValues() int64 { return s.pub.bad.Load() }

// Offset is the byte offset just past the last line consumed.
func (s *LineSource) Offset() int64 { return s.pub.off.Load() }

// Position is Offset, for SeekableSource.
func (s *LineSource) Position() int64 { return s.pub.off.Load() }

// SetPosition makes the next Fill read the line starting at byte offset
// pos, which should be a line start such as an earlier Offset. It rewinds
// only a seekable reader; on any other it skips forward, reading and
// discarding (lazily, in Fill); if the input ends before pos, that Fill
// fails with an error wrapping io.ErrUnexpectedEOF. Within a FileRange,
// lines starting at or past the range's end are still not read.
func (s *LineSource) SetPosition(pos int64) error {
	if pos < 0 {
		return fmt.Errorf("pipeline: line source: seek to %d: %w", pos, sketch.ErrInvalidParameter)
	}
	s.skipPartial, s.scanned = false, 0
	if s.seeker != nil {
		if _, err := s.seeker.Seek(s.origin+pos, io.SeekStart); err != nil {
			return fmt.Errorf("pipeline: line source: seek to %d: %w", pos, err)
		}
		s.pos, s.end = 0, 0
		s.eof, s.rerr, s.done, s.discard = false, nil, false, 0
	} else {
		if pos < s.off {
			return fmt.Errorf("pipeline: line source: seek back to %d from %d: reader cannot seek: %w", pos, s.off, sketch.ErrInvalidParameter)
		}
		d := pos - s.off
		if buffered := int64(s.end - s.pos); d <= buffered {
			s.consumed(s.buf[s.pos : s.pos+int(d)])
			s.pos += int(d)
		} else {
			s.consumed(s.buf[s.pos:s.end])
			s.pos = s.end
			s.discard += d - buffered
		}
	}
	s.off = pos
	s.publish()
	return nil
}

// Close closes the file the source opened, if any, and unmaps what it
// mapped of a file range.
func (s *LineSource) Close() error {
	s.closeMap()
	if s.byLen != nil {
		byLenPool.Put(s.byLen)
		s.byLen = nil
	}
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}

// byLenPool holds hashLines' scratch space for the next LineSource, given
// back by Close: a job reads each file as 8 ranges per worker, a source
// each, and the 138 KB made anew for every one cost a GC cycle every few
// ranges, whose mark termination waits for both workers (forEachP: 3% of
// `distinct -j 2`'s CPU on 128-byte keys).
var byLenPool = sync.Pool{New: func() any { return new(byLength) }}

// lenScratch returns the source's scratch space for hashLines.
func (s *LineSource) lenScratch() *byLength {
	if s.byLen == nil {
		s.byLen = byLenPool.Get().(*byLength)
	}
	return s.byLen
}

// maxArena is the most bytes a Batch arena can hold: Record keeps 32-bit
// arena offsets.
const maxArena = math.MaxUint32

// Fill appends a record for each of up to max next lines. It returns early,
// with nil, once b's arena holds MaxBatchBytes, and once the lines already
// read are used up if it appended any: it reads (and may block while the
// reader does) only to find a first record. ctx is checked before each
// read.
func (s *LineSource) Fill(ctx context.Context, b *Batch, max int) (err error) {
	if s.mm != nil {
		if s.mm.err != nil {
			return s.mm.err
		}
		defer s.mm.endGuard(s.mm.guard(), &err)
	}
	return s.fill(ctx, b, max)
}

// fill is Fill; a mapped source's reads of the map are guarded around it.
func (s *LineSource) fill(ctx context.Context, b *Batch, max int) error {
	if s.done {
		return io.EOF
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.publish()
	if err := s.skip(ctx); err != nil {
		return err
	}
	for n := 0; n < max; {
		if s.off >= s.limit {
			return s.ended()
		}
		k, full, err := s.take(b, max-n)
		if n += k; err != nil || full || n == max || s.off >= s.limit {
			if err == nil && s.off >= s.limit {
				continue
			}
			return err
		}
		// take ran out of complete lines, or stopped at a line over the
		// key cap.
		switch {
		case s.eof && k > 0 && s.pos < s.end:
			// The cap: the input is all read (a reader that returned its
			// last bytes with io.EOF, or a mapped file), but not all used.
			continue
		case s.eof:
			return s.ended()
		case s.rerr != nil:
			return fmt.Errorf("pipeline: line source: read at offset %d: %w", s.off+int64(s.end-s.pos), s.rerr)
		case n > 0 && len(s.lent) == 0:
			// Return what we have rather than read again: on a live
			// stream the read may wait for lines not yet written, and
			// the records must not wait with it (Source's contract).
			// (Bytes lent already are read without waiting: a caller
			// that sees the lender has no more would wait for them.)
			return nil
		}
		if err := s.read(ctx); err != nil {
			return err
		}
	}
	return nil
}

// take makes records of up to max complete lines in the buffer (and of the
// final line, at EOF). It copies the lines into b's arena in one piece, with
// the keys pointing into it, rather than key by key: for short lines the
// per-key copy would cost as much as the hash. full says b reached
// MaxBatchBytes or the arena limit.
func (s *LineSource) take(b *Batch, max int) (n int, full bool, err error) {
	if s.cfg.Extract != nil {
		return s.takeExtract(b, max)
	}
	if s.cfg.Field == 0 && s.cfg.ValueField == 0 {
		return s.takeWhole(b, max)
	}
	data := s.buf[s.pos:s.end]
	base := b.Bytes()
	room := int64(maxArena) - int64(base)
	budget := s.maxBytes - base
	field, valueField, delim := s.cfg.Field, s.cfg.ValueField, s.cfg.Delimiter
	p, scanned := 0, s.scanned
	first := -1 // start in data of the first line copied
	starved := false
	long, longNext := -1, 0 // a line whose key is over the cap, at data[long:longNext]
	limit := s.limit - s.off
	// Writing records into grown capacity, rather than appending, saves
	// a capacity check and a stack copy of each Record.
	recs := slices.Grow(b.Records, min(max, len(data)+1, 4096))
	k0 := len(recs)
	for n < max && int64(p) < limit {
		end, next := 0, 0
		if i := indexNewline(data[p+scanned:]); i >= 0 {
			end = p + scanned + i
			next = end + 1
		} else if s.eof && p < len(data) {
			end, next = len(data), len(data)
		} else {
			// Remember that data[p:] holds no newline, so a long line
			// is not scanned again from its start after each read.
			s.scanned = len(data) - p
			starved = true
			break
		}
		scanned = 0
		from := first
		if from < 0 {
			from = p
		}
		if int64(next-from) > room {
			if len(recs) == 0 && p == 0 {
				err = fmt.Errorf("pipeline: line source: line at offset %d has %d bytes, more than a batch holds (4 GiB)", s.off, end)
			}
			full = true
			break
		}
		line := data[p:end]
		if k := len(line) - 1; k >= 0 && line[k] == '\r' {
			line = line[:k]
		}
		s.lines++
		ks, ke, ok := 0, len(line), true
		if field != 0 {
			ks, ke, ok = fieldSpan(line, field, delim)
		}
		if !ok {
			s.skipped++
			s.report(line, s.off+int64(p), ErrMissingField)
			p = next
			continue
		}
		if ke-ks > s.maxKey {
			s.lines-- // counted by takeCapped
			long = p
			longNext = next
			break
		}
		if first < 0 {
			first = p
		}
		k := len(recs)
		if k == cap(recs) {
			recs = slices.Grow(recs, 1)
		}
		recs = recs[:k+1]
		recs[k] = spanRecord(base+p-first+ks, ke-ks, 0) // hashed below
		n++
		if valueField != 0 {
			r := &recs[len(recs)-1]
			vs, ve, ok := fieldSpan(line, valueField, delim)
			if ok {
				r.Value, ok = parseValue(line[vs:ve])
			}
			if r.HasValue = ok; !ok {
				s.bad++
				s.report(line, s.off+int64(p), ErrBadValue)
			}
		}
		p = next
		if p-first >= budget {
			full = true
			break
		}
	}
	if first >= 0 {
		hashLines(recs[k0:], data[first:], base, s.lenScratch())
		if s.cfg.HashOnly {
			dropKeys(recs[k0:])
		} else {
			b.appendArena(data[first:p])
		}
	}
	b.Records = recs
	s.consume(p, starved)
	if long >= 0 {
		n += s.takeCapped(b, data[long:longNext])
	}
	return n, full, err
}

// ended ends the source: io.EOF, unless a mapped file turns out to have
// lost bytes the source read.
func (s *LineSource) ended() error {
	s.done = true
	if s.mm != nil {
		if err := s.checkMapEnd(); err != nil {
			return err
		}
	}
	return io.EOF
}

// dropKeys makes the keys of recs empty (LineConfig.HashOnly): their
// bytes were hashed where they lay in the read buffer, never copied.
func dropKeys(recs []Record) {
	for i := range recs {
		recs[i].keyOff, recs[i].keyLen = 0, 0
	}
}

// skip drops what SetPosition (forward, on a reader that cannot seek) or
// OpenRange (the partial line at a range's start) asked to drop.
func (s *LineSource) skip(ctx context.Context) (err error) {
	if s.mm != nil {
		defer s.mm.endGuard(s.mm.guard(), &err)
	}
	return s.skipBytes(ctx)
}

func (s *LineSource) skipBytes(ctx context.Context) error {
	for s.discard > 0 || s.skipPartial {
		s.scanned = 0
		data := s.buf[s.pos:s.end]
		if s.discard > 0 {
			k := int(min(int64(len(data)), s.discard))
			s.consumed(data[:k])
			s.pos += k
			s.discard -= int64(k)
			data = data[k:]
		} else if i := bytes.IndexByte(data, '\n'); i >= 0 {
			s.consumed(data[:i+1])
			s.pos += i + 1
			s.off += int64(i + 1)
			s.skipPartial = false
			break
		} else {
			s.consumed(data)
			s.pos = s.end
			s.off += int64(len(data))
			data = nil
		}
		if len(data) > 0 {
			continue
		}
		switch {
		case s.eof && s.discard > 0:
			// The stream is shorter than the position asked for: not
			// the stream the position was taken in.
			short := s.discard
			s.discard, s.skipPartial, s.done = 0, false, true
			return fmt.Errorf("pipeline: line source: input ended at byte %d, %d bytes before position %d: %w", s.off-short, short, s.off, io.ErrUnexpectedEOF)
		case s.eof:
			s.skipPartial = false
		case s.rerr != nil:
			return fmt.Errorf("pipeline: line source: read: %w", s.rerr)
		default:
			if err := s.read(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// consumed writes b to cfg.Consumed, if set.
func (s *LineSource) consumed(b []byte) {
	if s.cfg.Consumed != nil && len(b) > 0 {
		s.cfg.Consumed.Write(b)
	}
}

// consume advances past the p bytes take made records of. A take that
// consumed bytes and was not starved for a newline clears the scan mark.
func (s *LineSource) consume(p int, starved bool) {
	if !starved && p > 0 {
		s.scanned = 0
	}
	if s.cfg.Consumed != nil && p > 0 {
		s.cfg.Consumed.Write(s.buf[s.pos : s.pos+p])
	}
	s.pos += p
	s.off += int64(p)
	s.bytes += int64(p)
}

// read moves the unconsumed bytes to the front of the buffer, growing it if
// they fill it (a long line) or shrinking it back once a long line is gone,
// and reads once more. EOF and errors are remembered, not returned, so that
// the lines already read are used first.
func (s *LineSource) read(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.mm != nil {
		return s.readMapped()
	}
	if s.lender != nil {
		return s.readLent()
	}
	rest := s.end - s.pos
	switch {
	case len(s.buf) > 4*s.bufSize && rest < s.bufSize/2:
		nb := make([]byte, s.bufSize)
		copy(nb, s.buf[s.pos:s.end])
		s.buf = nb
	case s.pos == 0 && s.end == len(s.buf):
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	case s.pos > 0:
		copy(s.buf, s.buf[s.pos:s.end])
	}
	s.pos, s.end = 0, rest
	for range 100 {
		n, err := s.r.Read(s.buf[s.end:])
		if n < 0 || n > len(s.buf)-s.end {
			return fmt.Errorf("pipeline: line source: reader returned count %d for a %d-byte buffer", n, len(s.buf)-s.end)
		}
		s.end += n
		if errors.Is(err, io.EOF) {
			s.eof = true
			return nil
		}
		if err != nil {
			s.rerr = err
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	return fmt.Errorf("pipeline: line source: %w", io.ErrNoProgress)
}

func (s *LineSource) report(line []byte, off int64, err error) {
	if s.cfg.OnBadLine != nil {
		s.cfg.OnBadLine(BadLine{Number: s.lines, Offset: off, Line: line, Err: err})
	}
}

func (s *LineSource) publish() {
	s.pub.lines.Store(s.lines)
	s.pub.bytes.Store(s.bytes)
	s.pub.skipped.Store(s.skipped)
	s.pub.bad.Store(s.bad)
	s.pub.off.Store(s.off)
}

// parseValue parses a value field: a finite float64 in decimal notation
// (as strconv.ParseFloat reads it, without hex, underscores, Inf or NaN),
// blanks around it allowed. NaN and infinities are rejected because one of
// them would poison every sum and mean downstream. The syntax is checked
// first so that a bad value costs no allocation (ParseFloat's error does).
func parseValue(v []byte) (float64, bool) {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if !isDecimal(v) {
		return 0, false
	}
	// ParseFloat keeps no reference to its argument (its errors copy it),
	// so the string may alias v.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v), len(v)), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// isDecimal reports whether v matches [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?.
func isDecimal(v []byte) bool {
	i := 0
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		i++
	}
	digits := func() int {
		j := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		return i - j
	}
	mant := digits()
	if i < len(v) && v[i] == '.' {
		i++
		mant += digits()
	}
	if mant == 0 {
		return false
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(v)
}

// indexNewline is bytes.IndexByte(b, '\n'), with the first 16 bytes
// searched a word at a time: for short lines the call into the SIMD
// search costs more than the search.
func indexNewline(b []byte) int {
	const lo, hi, nl = 0x0101010101010101, 0x8080808080808080, 0x0a0a0a0a0a0a0a0a
	if len(b) >= 16 {
		w := binary.LittleEndian.Uint64(b) ^ nl
		if m := (w - lo) &^ w & hi; m != 0 {
			return bits.TrailingZeros64(m) >> 3
		}
		w = binary.LittleEndian.Uint64(b[8:]) ^ nl
		if m := (w - lo) &^ w & hi; m != 0 {
			return 8 + bits.TrailingZeros64(m)>>3
		}
		if i := bytes.IndexByte(b[16:], '\n'); i >= 0 {
			return 16 + i
		}
		return -1
	}
	return bytes.IndexByte(b, '\n')
}
