package pipeline

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/streamstat/streamstat/sketch"
)

// MaxKeyParts bounds the parts of a composite key an extractor of this
// package makes.
const MaxKeyParts = 16

// CSVKey is an Extractor for RFC 4180 CSV: records framed by quote parity
// (FrameCSV), fields split at Comma, a quoted field's doubled quotes read
// as one and its CRLFs as LF, as encoding/csv reads them. The key is
// column Columns[0] (1-based), or, with several columns, those joined into
// a composite key; ValueColumn, if not 0, selects the value. A record
// whose quoting is broken has no key (ErrBadCSV), nor one lacking a key
// column (ErrMissingField); every field is checked, not just the
// selected ones, so a record is either read whole or skipped.
//
// The zero value reads comma-separated records without a header, each
// whole record (as it stands in the input) its own key. A CSVKey is not
// changed by Extract: one serves any number of goroutines.
type CSVKey struct {
	// Comma separates fields; 0 means ','.
	Comma byte
	// Header says the first record of the input (at offset 0) names the
	// columns and is not a record (FrameCSVHeader).
	Header      bool
	Columns     []int
	ValueColumn int
}

// NewCSVKey checks its arguments and returns a CSVKey: comma is an ASCII
// byte other than a quote, CR or LF; columns count from 1, at most
// MaxKeyParts of them.
func NewCSVKey(comma byte, header bool, valueColumn int, columns ...int) (*CSVKey, error) {
	k := &CSVKey{Comma: comma, Header: header, Columns: columns, ValueColumn: valueColumn}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return k, nil
}

// Validate reports whether k can read records: a CSVKey written as a
// literal is checked here, by NewLineSource (and so by every source that
// takes it) and by Extract, so that a bad delimiter or column is an error
// wrapping sketch.ErrInvalidParameter, not a panic in the framing.
func (k *CSVKey) Validate() error {
	if c := k.Comma; c == '"' || c == '\r' || c == '\n' || c >= 0x80 {
		return fmt.Errorf("pipeline: CSV delimiter %q: use an ASCII byte other than a quote, CR or LF: %w", c, sketch.ErrInvalidParameter)
	}
	if len(k.Columns) > MaxKeyParts {
		return fmt.Errorf("pipeline: %d key columns, more than %d: %w", len(k.Columns), MaxKeyParts, sketch.ErrInvalidParameter)
	}
	for _, c := range k.Columns {
		if c < 1 {
			return fmt.Errorf("pipeline: CSV column %d: columns count from 1: %w", c, sketch.ErrInvalidParameter)
		}
	}
	if k.ValueColumn < 0 {
		return fmt.Errorf("pipeline: CSV value column %d: columns count from 1: %w", k.ValueColumn, sketch.ErrInvalidParameter)
	}
	return nil
}

// Framing is FrameCSV, or FrameCSVHeader with Header.
func (k *CSVKey) Framing() Framing {
	if k.Header {
		return FrameCSVHeader
	}
	return FrameCSV
}

// csvSpan is a field of a record: its bytes are [start, end), between
// its quotes if quoted; esc says a quoted field holds a doubled quote
// (csvField must rewrite it, and a CRLF in it, which reads as LF); false,
// csvField looks.
type csvSpan struct {
	start, end  int
	quoted, esc bool
}

// Extract implements Extractor.
func (k *CSVKey) Extract(rec []byte, sc *Scratch) (Extraction, error) {
	if err := k.Validate(); err != nil {
		return Extraction{}, err
	}
	end, err := frameCSV(rec, k.comma(), csvWhole, k.last(), &sc.spans)
	if err == nil && end != len(rec) {
		// Not one record: a newline outside quotes, which quote-parity
		// framing never leaves inside a record that is otherwise valid.
		err = ErrBadCSV
	}
	var x Extraction
	if err != nil {
		return x, err
	}
	err = k.extraction(rec, sc, &x)
	return x, err
}

// extractFramed implements framedExtractor: frameCSV finds the record's
// end and its fields in one pass, rather than a quote-parity search for
// the end and then a second pass over the fields.
func (k *CSVKey) extractFramed(data []byte, atEOF bool, sc *Scratch, x *Extraction) (int, error) {
	if sc.csv == nil {
		sc.csv = new(csvFrame)
	}
	var v csvView
	if sc.csv.view(data, k.comma(), &v) {
		rec := data[:v.fin]
		if len(k.Columns) == 1 && k.ValueColumn == 0 {
			// One column, the key: no spans, and a clean field as it is.
			sp, clean, ok := v.field(data, k.Columns[0])
			switch {
			case !ok:
				return v.end, ErrMissingField
			case clean:
				x.Key = rec[sp.start:sp.end]
			default:
				x.Key = csvField(rec, sp, &sc.Key)
			}
			return v.end, nil
		}
		v.spans(data, k.last(), &sc.spans)
		return v.end, k.extraction(rec, sc, x)
	}
	if end, ok := sc.csv.long(data, k.comma(), k.last(), &sc.spans); ok {
		rec := data[:end]
		if n := len(rec) - 1; n >= 0 && rec[n] == '\r' {
			rec = rec[:n]
		}
		return end, k.extraction(rec, sc, x)
	}
	mode := csvMore
	if atEOF {
		mode = csvEOF
	}
	end, err := frameCSV(data, k.comma(), mode, k.last(), &sc.spans)
	if end < 0 || err != nil {
		return end, err
	}
	rec := data[:end]
	if n := len(rec) - 1; n >= 0 && rec[n] == '\r' {
		rec = rec[:n]
	}
	return end, k.extraction(rec, sc, x)
}

func (k *CSVKey) comma() byte {
	if k.Comma == 0 {
		return ','
	}
	return k.Comma
}

// last is the last column the key or value needs.
func (k *CSVKey) last() int {
	last := k.ValueColumn
	for _, c := range k.Columns {
		last = max(last, c)
	}
	return last
}

// extraction sets x to the key and value of rec, a valid record whose
// fields up to k.last() frameCSV noted in sc.spans.
func (k *CSVKey) extraction(rec []byte, sc *Scratch, x *Extraction) error {
	spans := sc.spans
	switch len(k.Columns) {
	case 0:
		x.Key = rec
	case 1:
		c := k.Columns[0]
		if c > len(spans) {
			return ErrMissingField
		}
		x.Key = csvField(rec, spans[c-1], &sc.Key)
	default:
		key := sc.Key[:0]
		for _, c := range k.Columns {
			if c > len(spans) {
				sc.Key = key
				return ErrMissingField
			}
			key = AppendTuplePart(key, csvField(rec, spans[c-1], &sc.Tmp))
		}
		sc.Key, x.Key = key, key
	}
	if v := k.ValueColumn; v != 0 {
		if v <= len(spans) {
			x.Value, x.HasValue = parseValue(csvField(rec, spans[v-1], &sc.Tmp))
		}
		x.BadValue = !x.HasValue
	}
	return nil
}

// What lies past the data frameCSV reads.
const (
	// csvMore: more input may follow; a record that runs to the data's
	// end is not complete.
	csvMore = iota
	// csvEOF: the input ends with the data; its last record needs no
	// newline, and a CR at its very end is dropped (as before a newline).
	csvEOF
	// csvWhole: the data is one whole record, its newline and the CR
	// before it already dropped.
	csvWhole
)

// frameCSV reads the CSV record at the start of data in one pass: it
// returns the index of the newline that ends it (len(data) if the data
// ends it, with csvEOF or csvWhole), noting in *spans the fields up to
// the last-th (with a CR before the newline dropped from the last field),
// or -1 if the data holds no complete record (csvMore). Every field is
// checked: a record whose quoting is broken returns ErrBadCSV and the end
// quote-parity framing gives it (the first newline after an even number of
// quotes, which for a valid record is the newline the fields end at).
//
// Fields are found by the next quote, delimiter or newline, eight bytes
// at a time (fields are short: SWAR beats calls to the vectorized
// bytes.IndexByte); past the last field needed, by the next quote or
// newline only, since a delimiter there matters only before a quote.
func frameCSV(data []byte, comma byte, mode, last int, spans *[]csvSpan) (int, error) {
	*spans = (*spans)[:0]
	i := 0
	for f := 1; ; f++ {
		if i < len(data) && data[i] == '"' {
			// Most quoted fields close within eight bytes, with no
			// doubled quote: test that inline before calling closeQuote.
			var j int
			var esc bool
			if m := wordMask(data, i+1, '"'); m != 0 {
				j = i + 1 + bits.TrailingZeros64(m)>>3
				if j+1 >= len(data) || data[j+1] == '"' {
					j, esc = closeQuote(data, i+1)
				}
			} else {
				j, esc = closeQuote(data, i+1)
			}
			if j < 0 {
				return csvBadEnd(data, mode)
			}
			if f <= last {
				*spans = append(*spans, csvSpan{start: i + 1, end: j, quoted: true, esc: esc})
			}
			n := j + 1
			switch {
			case n < len(data) && data[n] == comma:
				i = n + 1
				continue
			case n < len(data) && data[n] == '\n':
				return n, nil
			case n == len(data) && mode == csvMore:
				return -1, nil // a doubled quote may be cut here
			case n == len(data):
				return n, nil
			case data[n] == '\r' && mode != csvWhole:
				switch {
				case n+1 < len(data) && data[n+1] == '\n':
					return n + 1, nil
				case n+1 == len(data) && mode == csvEOF:
					return n + 1, nil
				case n+1 == len(data):
					return -1, nil
				}
			}
			return csvBadEnd(data, mode) // "a"b
		}
		if f > last {
			// No field to note: look for the next quote or newline.
			k := indexEither(data[i:], '"', '\n')
			switch {
			case k < 0 && mode == csvMore:
				return -1, nil
			case k < 0:
				return len(data), nil
			case data[i+k] == '\n':
				return i + k, nil
			}
			q := i + k
			if data[q-1] != comma {
				return csvBadEnd(data, mode) // a"b
			}
			i = q // a quoted field starts at q
			continue
		}
		var k int
		if m := wordMask3(data, i, comma, '"', '\n'); m != 0 {
			k = bits.TrailingZeros64(m) >> 3
		} else {
			k = indexAny3(data[i:], comma, '"', '\n')
		}
		e := i + k
		switch {
		case k < 0 && mode == csvMore:
			return -1, nil
		case k < 0:
			e = len(data)
			fe := e
			if mode == csvEOF && fe > i && data[fe-1] == '\r' {
				fe--
			}
			*spans = append(*spans, csvSpan{start: i, end: fe})
			return e, nil
		case data[e] == comma:
			*spans = append(*spans, csvSpan{start: i, end: e})
			i = e + 1
		case data[e] == '\n':
			fe := e
			if fe > i && data[fe-1] == '\r' {
				fe--
			}
			*spans = append(*spans, csvSpan{start: i, end: fe})
			return e, nil
		default:
			return csvBadEnd(data, mode) // a"b
		}
	}
}

// closeQuote returns the index of the quote closing a quoted field whose
// text starts at data[i], and whether the text holds a doubled quote; or
// -1 if the data ends first (a quote at its very end may be the first of
// a doubled one: the caller decides).
func closeQuote(data []byte, i int) (int, bool) {
	esc := false
	for {
		k := indexQuote(data[i:])
		if k < 0 {
			return -1, esc
		}
		i += k
		if i+1 < len(data) && data[i+1] == '"' {
			esc = true
			i += 2
			continue
		}
		return i, esc
	}
}

// indexQuote is bytes.IndexByte(b, '"'), eight bytes at a time as
// indexEither: quoted fields are short.
func indexQuote(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:]) ^ (lo8 * '"')
		if m := (w - lo8) &^ w & hi8; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '"' {
			return i
		}
	}
	return -1
}

// csvBadEnd returns the end of a record whose quoting is broken: the
// first newline after an even number of quotes, as RecordEnds finds it,
// or the data's end (csvEOF, csvWhole) or -1 (csvMore) if there is none.
func csvBadEnd(data []byte, mode int) (int, error) {
	var e RecordEnds
	e.csv = true
	if i := e.Next(data); i >= 0 {
		return i - 1, ErrBadCSV
	}
	if mode == csvMore {
		return -1, nil
	}
	return len(data), ErrBadCSV
}

// wordMask marks (in the high bit of its byte) the first x in the eight
// bytes at data[i:], and may mark bytes after it; 0 if there is none or
// fewer than eight bytes.
func wordMask(data []byte, i int, x byte) uint64 {
	if i+8 > len(data) {
		return 0
	}
	w := binary.LittleEndian.Uint64(data[i:]) ^ (lo8 * uint64(x))
	return (w - lo8) &^ w & hi8
}

// wordMask3 is wordMask for the first x, y or z.
func wordMask3(data []byte, i int, x, y, z byte) uint64 {
	if i+8 > len(data) {
		return 0
	}
	w := binary.LittleEndian.Uint64(data[i:])
	wx, wy, wz := w^(lo8*uint64(x)), w^(lo8*uint64(y)), w^(lo8*uint64(z))
	return (((wx - lo8) &^ wx) | ((wy - lo8) &^ wy) | ((wz - lo8) &^ wz)) & hi8
}

// indexAny3 returns the index of the first x, y or z in b, or -1, as
// indexEither does for two bytes.
func indexAny3(b []byte, x, y, z byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		wx, wy, wz := w^(lo8*uint64(x)), w^(lo8*uint64(y)), w^(lo8*uint64(z))
		if m := ((wx - lo8) &^ wx) | ((wy - lo8) &^ wy) | ((wz - lo8) &^ wz); m&hi8 != 0 {
			return i + bits.TrailingZeros64(m&hi8)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == x || c == y || c == z {
			return i
		}
	}
	return -1
}

// indexEither returns the index of the first x or y in b, or -1. Eight
// bytes at a time, it tests for a zero byte in the word XORed with each
// (Anderson's "Bit Twiddling Hacks"): a borrow may mark bytes after the
// first zero, never one before it, so the lowest mark is exact.
func indexEither(b []byte, x, y byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		wx, wy := w^(lo8*uint64(x)), w^(lo8*uint64(y))
		if m := ((wx - lo8) &^ wx & hi8) | ((wy - lo8) &^ wy & hi8); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == x || b[i] == y {
			return i
		}
	}
	return -1
}

// csvFields calls field for each field of rec, a whole record, or
// returns ErrBadCSV.
func csvFields(rec []byte, comma byte, field func(csvSpan)) error {
	var spans []csvSpan
	end, err := frameCSV(rec, comma, csvWhole, math.MaxInt, &spans)
	if err == nil && end != len(rec) {
		err = ErrBadCSV
	}
	if err != nil {
		return err
	}
	for _, sp := range spans {
		field(sp)
	}
	return nil
}

// csvField returns a field's value: aliasing rec, or unescaped into *buf.
func csvField(rec []byte, sp csvSpan, buf *[]byte) []byte {
	v := rec[sp.start:sp.end]
	if !sp.quoted || !sp.esc && indexEither(v, '"', '\r') < 0 {
		return v // csvFrame leaves esc for this test
	}
	out := (*buf)[:0]
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '"':
			i++ // the first of a doubled quote
		case v[i] == '\r' && i+1 < len(v) && v[i+1] == '\n':
			continue // CRLF inside quotes reads as LF
		}
		out = append(out, v[i])
	}
	*buf = out
	return out
}

// ParseCSVRecord returns the fields of one CSV record (without its final
// newline), unescaped, or an error wrapping ErrBadCSV.
func ParseCSVRecord(rec []byte, comma byte) ([]string, error) {
	var out []string
	var buf []byte
	err := csvFields(rec, comma, func(sp csvSpan) {
		out = append(out, string(csvField(rec, sp, &buf)))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadCSVHeader reads the first record of r, a CSV input (framed by quote
// parity), and returns its fields: the column names. A blank first line is
// no header, as encoding/csv reads it: blank lines are skipped.
func ReadCSVHeader(r io.Reader, comma byte) ([]string, error) {
	br := bufio.NewReader(r)
	var rec []byte
	odd := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			rec = append(rec, line...)
			odd = odd != (bytes.Count(line, quote)&1 == 1)
			continue
		}
		rec = append(rec, line...)
		odd = odd != (bytes.Count(line, quote)&1 == 1)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("pipeline: CSV header: %w", err)
		}
		if odd && err == nil {
			continue
		}
		rec = bytes.TrimSuffix(rec, []byte{'\n'})
		rec = bytes.TrimSuffix(rec, []byte{'\r'})
		if len(rec) == 0 && err == nil {
			continue
		}
		if len(rec) == 0 {
			return nil, fmt.Errorf("pipeline: CSV header: input is empty: %w", io.ErrUnexpectedEOF)
		}
		h, perr := ParseCSVRecord(rec, comma)
		if perr != nil {
			return nil, fmt.Errorf("pipeline: CSV header: %w", perr)
		}
		return h, nil
	}
}

// CSVColumn returns the 1-based number of the column called name in
// header: the first column of that name, or with name "NAME[k]" the k-th
// column called NAME (a name that is itself in the header is taken as it
// is first). The error lists the columns there are.
func CSVColumn(header []string, name string) (int, error) {
	for i, h := range header {
		if h == name {
			return i + 1, nil
		}
	}
	if o := strings.LastIndexByte(name, '['); o > 0 && strings.HasSuffix(name, "]") {
		if k, err := strconv.Atoi(name[o+1 : len(name)-1]); err == nil && k >= 1 {
			base := name[:o]
			for i, h := range header {
				if h == base {
					if k--; k == 0 {
						return i + 1, nil
					}
				}
			}
		}
	}
	return 0, fmt.Errorf("pipeline: no CSV column %q; the header has %s: %w", name, quoteNames(header), ErrMissingField)
}

func quoteNames(h []string) string {
	q := make([]string, len(h))
	for i, n := range h {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
