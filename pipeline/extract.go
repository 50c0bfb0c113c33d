package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// Errors an Extractor returns for records it cannot key (see
// LineConfig.Extract). A LineSource skips such a record, counts it in
// Skipped and reports it to OnBadLine; with LineConfig.Strict, Fill fails
// instead, with an error wrapping the sentinel and naming the record.
var (
	// ErrBadJSON: the line is not one valid JSON value (RFC 8259, as
	// encoding/json.Valid says).
	ErrBadJSON = errors.New("pipeline: line is not valid JSON")
	// ErrBadCSV: the record breaks RFC 4180's quoting: a quote inside an
	// unquoted field, a quoted field followed by something other than a
	// delimiter or the record's end, or a quote left open at the end of
	// the input.
	ErrBadCSV = errors.New("pipeline: record is not valid CSV")
)

// Framing says how a LineSource divides its input into records.
type Framing uint8

const (
	// FrameLines: a record is a line (the default).
	FrameLines Framing = iota
	// FrameCSV: a record is an RFC 4180 record, which ends at a newline
	// only after an even number of quotes, so a quoted field may hold
	// newlines. A blank line is no record (as encoding/csv reads it).
	FrameCSV
	// FrameCSVHeader is FrameCSV whose first record, at offset 0 of the
	// stream, is a header (column names), not a record.
	FrameCSVHeader
)

// Extraction is what an Extractor finds in one record.
type Extraction struct {
	// Key is the record's key, aliasing the record or the Scratch passed
	// to Extract: valid until the next call.
	Key []byte
	// Value and HasValue: the record's value, if the extractor selects
	// one and it is a finite number.
	Value    float64
	HasValue bool
	// BadValue: a value was selected but is missing or not a finite
	// number (the record is kept without one and counted in BadValues).
	BadValue bool
	// Time is the record's time in Unix nanoseconds (Record.Time), 0
	// for none: set by a TimedKey.
	Time int64
}

// Extractor finds the key, and optionally the value, of each record a
// LineSource reads (LineConfig.Extract): JSONKey (paths into JSON lines),
// CSVKey (RFC 4180 columns) and FieldsKey (delimited fields, several joined
// into one key) are the ones this package provides.
//
// Implementations must be safe for concurrent use: the LineSources of the
// ranges of one file share one LineConfig. What an extraction needs to
// write (an unescaped string, a composite key) goes to the Scratch, which
// the calling source owns and reuses, so an extraction allocates nothing
// once its buffers have grown.
type Extractor interface {
	// Framing says how the input divides into records.
	Framing() Framing
	// Extract returns the key (and value) of rec, a record without its
	// final newline (and without a CR before it). A record that has no
	// key returns an error wrapping ErrMissingField, ErrBadJSON or
	// ErrBadCSV.
	Extract(rec []byte, sc *Scratch) (Extraction, error)
}

// Scratch is memory an Extractor may write to and keep using between calls
// (its caller keeps one per goroutine): Key for what it returns, Tmp for
// what it builds the key from. The zero value is ready to use.
type Scratch struct {
	Key, Tmp []byte
	spans    []csvSpan // CSVKey's fields of the record
	csv      *csvFrame // CSVKey's bitmaps of the data (newData drops them)
}

// framedExtractor is an Extractor that can find a record's end and its
// key in one pass (CSVKey): takeExtract calls it rather than finding the
// end and then calling Extract.
type framedExtractor interface {
	// extractFramed reads the record at the start of data (atEOF: the
	// input ends with data). It returns the index of the newline ending
	// it (len(data) if the input's end does), or -1 if data holds no
	// complete record; and, if it returns an end, the error Extract would
	// return for the record, having set *x (zero on entry) to what Extract
	// would return if that is nil. (A pointer, not a result: copying the
	// Extraction out cost more than finding the key.)
	extractFramed(data []byte, atEOF bool, sc *Scratch, x *Extraction) (end int, err error)
}

// appendExtractor is an Extractor that can write a record's key straight
// into a batch's arena (FieldsKey): takeExtract then copies no key and
// keeps no Extraction of its own.
type appendExtractor interface {
	// extractAppend appends to dst the key Extract would return for rec
	// and sets *x's other fields (zero on entry) as Extract would. On an
	// error it returns dst as it was, with the error Extract would return.
	extractAppend(dst, rec []byte, x *Extraction) ([]byte, error)
}

// extractState is what a LineSource with an Extractor keeps between Fills.
type extractState struct {
	scratch Scratch
	ext     Extraction // the record's extraction (a field: its address goes to an interface method)
	odd     bool       // the s.scanned bytes of a CSV record hold an odd number of quotes
}

// takeExtract is take for a LineSource with an Extractor: it makes records
// of up to max complete records in the buffer (and of the final one, at
// EOF), each key copied into b's arena on its own (an extracted key need
// not be a span of the record).
func (s *LineSource) takeExtract(b *Batch, max int) (n int, full bool, err error) {
	data := s.buf[s.pos:s.end]
	ex := s.cfg.Extract
	framing := ex.Framing()
	limit := s.limit - s.off
	p := 0
	starved := false
	// Keys are hashed together at the end (hashLines), not one by one,
	// and records written into grown capacity rather than appended (see
	// take).
	base, k0 := b.Bytes(), len(b.Records)
	recs := slices.Grow(b.Records, min(max, 4096))
	fx, fused := ex.(framedExtractor)
	s.x.scratch.newData()
	ax, appends := ex.(appendExtractor)
	for n < max && int64(p) < limit {
		end, next := 0, 0
		x := &s.x.ext
		*x = Extraction{}
		var xerr error
		done := false // x and xerr hold the record's extraction
		switch {
		case fused && s.scanned == 0 && p < len(data):
			// One pass finds the record's end and its key. Without an
			// end in the buffer, the search below goes on and remembers
			// how far it looked, so a long record is not read again from
			// its start after each read.
			end, xerr = fx.extractFramed(data[p:], s.eof, &s.x.scratch, x)
			if end >= 0 {
				end += p
				next = min(end+1, len(data))
				done = true
				break
			}
			fallthrough
		case framing != FrameLines:
			end = s.csvRecordEnd(data[p:])
			if end >= 0 {
				end += p
				next = end + 1
			}
		default:
			if i := indexNewline(data[p+s.scanned:]); i >= 0 {
				end = p + s.scanned + i
				next = end + 1
			}
		}
		if next == 0 {
			if !s.eof || p == len(data) {
				if framing == FrameLines {
					s.scanned = len(data) - p
				}
				starved = true
				break
			}
			end, next = len(data), len(data)
		}
		s.scanned, s.x.odd = 0, false
		rec := data[p:end]
		if k := len(rec) - 1; k >= 0 && rec[k] == '\r' {
			rec = rec[:k]
		}
		off := s.off + int64(p)
		if framing != FrameLines && (len(rec) == 0 || framing == FrameCSVHeader && off == 0) {
			// A blank line, or the header: no record.
			p = next
			continue
		}
		s.lines++
		direct := false // the key is in the arena already, at from
		from := len(b.arena)
		switch {
		case done:
		case appends:
			b.arena, xerr = ax.extractAppend(b.arena, rec, x)
			direct = xerr == nil
			x.Key = b.arena[from:]
		default:
			*x, xerr = ex.Extract(rec, &s.x.scratch)
		}
		if xerr != nil {
			s.skipped++
			s.report(rec, off, xerr)
			p = next
			if s.cfg.Strict {
				err = fmt.Errorf("pipeline: line source: record %d at offset %d: %w", s.lines, off, xerr)
				break
			}
			continue
		}
		key := x.Key
		if len(key) > s.maxKey {
			s.capped = AppendCappedKey(s.capped[:0], key, s.maxKey)
			key = s.capped
		}
		ko := -1 // the key's offset in the arena, once there
		if direct {
			if len(key) == len(x.Key) && int64(from)+int64(len(key)) <= int64(maxArena) {
				ko = from
			} else {
				// Take the key out again: it is copied below, capped,
				// or left for the next batch.
				b.arena = b.arena[:from]
			}
		}
		if ko < 0 && int64(len(b.arena))+int64(len(key)) > int64(maxArena) {
			// The key does not fit this batch: leave the record for the
			// next one, unless no batch can hold it.
			s.lines--
			if len(recs) == 0 {
				err = fmt.Errorf("pipeline: line source: record at offset %d has a key of %d bytes, more than a batch holds (4 GiB); set LineConfig.MaxKeyLen", off, len(key))
			}
			full = true
			break
		}
		k := len(recs)
		if k == cap(recs) {
			recs = slices.Grow(recs, 1)
		}
		recs = recs[:k+1]
		if ko < 0 {
			ko = len(b.arena)
			if len(key) <= 16 && cap(b.arena)-ko >= 16 && cap(key) >= 16 {
				// A short key (a CSV or JSON field): one 16-byte move,
				// not a memmove call; the bytes past the key stay in
				// the arena's spare capacity.
				b.arena = b.arena[:ko+16]
				*(*[16]byte)(b.arena[ko:]) = *(*[16]byte)(key[:16])
				b.arena = b.arena[:ko+len(key)]
			} else {
				b.appendArena(key)
			}
		}
		recs[k] = spanRecord(ko, len(key), 0)
		r := &recs[k]
		r.Value, r.HasValue, r.Time = x.Value, x.HasValue, x.Time
		if x.BadValue {
			r.HasValue = false
			s.bad++
			s.report(rec, off, ErrBadValue)
		}
		n++
		p = next
		if b.Bytes() >= s.maxBytes {
			full = true
			break
		}
	}
	b.Records = recs
	hashLines(recs[k0:], b.arena[base:], base, s.lenScratch())
	s.consume(p, starved)
	return n, full, err
}

// csvRecordEnd returns the index in data of the newline that ends the CSV
// record starting at data[0] (the first newline after an even number of
// quotes), or -1 if data holds none, remembering in s.scanned and s.x.odd
// how far it looked, so a long record is not scanned again from its start
// after each read.
func (s *LineSource) csvRecordEnd(data []byte) int {
	i, odd := s.scanned, s.x.odd
	if i == 0 {
		odd = false
	}
	for {
		j := indexNewline(data[i:])
		if j < 0 {
			if bytes.Count(data[i:], quote)&1 == 1 {
				odd = !odd
			}
			s.scanned, s.x.odd = len(data), odd
			return -1
		}
		if bytes.Count(data[i:i+j], quote)&1 == 1 {
			odd = !odd
		}
		if !odd {
			return i + j
		}
		i += j + 1
	}
}

var quote = []byte{'"'}
