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
	"sync"
	"unsafe"

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
	if comma == '"' || comma == '\r' || comma == '\n' || comma >= 0x80 {
		return nil, fmt.Errorf("pipeline: CSV delimiter %q: use an ASCII byte other than a quote, CR or LF: %w", comma, sketch.ErrInvalidParameter)
	}
	if len(columns) > MaxKeyParts {
		return nil, fmt.Errorf("pipeline: %d key columns, more than %d: %w", len(columns), MaxKeyParts, sketch.ErrInvalidParameter)
	}
	for _, c := range columns {
		if c < 1 {
			return nil, fmt.Errorf("pipeline: CSV column %d: columns count from 1: %w", c, sketch.ErrInvalidParameter)
		}
	}
	if valueColumn < 0 {
		return nil, fmt.Errorf("pipeline: CSV value column %d: columns count from 1: %w", valueColumn, sketch.ErrInvalidParameter)
	}
	return &CSVKey{Comma: comma, Header: header, Columns: columns, ValueColumn: valueColumn}, nil
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

// SplitCSVFile is SplitFile for CSV (FrameCSV): it cuts the regular file
// at path into at most n ranges, each starting at a record start, so no
// range starts inside a quoted field. A record starts after a newline that
// follows an even number of quotes since the start of the file; to know
// the count at each cut, the bytes before the last cut are first read
// once, in n parts at once on n goroutines, counting quotes. Read the
// ranges with OpenCSVRange.
func SplitCSVFile(path string, n int) ([]FileRange, error) {
	return splitFile(path, n, SplitCSVReaderAt)
}

// SplitCSVReaderAt is SplitCSVFile for a file already open (or any
// io.ReaderAt) of size bytes.
func SplitCSVReaderAt(r io.ReaderAt, name string, size int64, n int) ([]FileRange, error) {
	if n < 1 || size < 0 {
		return nil, fmt.Errorf("pipeline: split %s of %d bytes into %d ranges: %w", name, size, n, sketch.ErrInvalidParameter)
	}
	if size == 0 || n == 1 {
		return []FileRange{{Path: name, End: size, Size: size}}, nil
	}
	cuts := make([]int64, n+1)
	for k := 1; k <= n; k++ {
		cuts[k] = size/int64(n)*int64(k) + size%int64(n)*int64(k)/int64(n)
	}
	// Only the parity before each cut matters, so the bytes past the
	// last cut are not counted (for two ranges, half the file): the
	// bytes before it are, in n parts of about equal size, so the count
	// takes no longer than before. bounds[k] are the parts' bounds;
	// odd[k]: the part [bounds[k], bounds[k+1]) holds an odd number of
	// quotes.
	bounds := make([]int64, 0, 2*n)
	for k := range n - 1 {
		for j := range n {
			bounds = append(bounds, cuts[k]+(cuts[k+1]-cuts[k])*int64(j)/int64(n))
		}
	}
	bounds = append(bounds, cuts[n-1])
	parts := len(bounds) - 1
	odd := make([]bool, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			var buf []byte
			for k := g; k < parts; k += n {
				odd[k], errs[k] = countQuotesOdd(r, bounds[k], bounds[k+1], size, &buf)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pipeline: split %s: %w", name, err)
	}
	// par[k]: the quotes before cuts[k] are odd; cuts[k] is bounds[n*k].
	par := make([]bool, n)
	o := false
	for k := range parts {
		if k%n == 0 {
			par[k/n] = o
		}
		o = o != odd[k]
	}
	par[n-1] = o
	buf := make([]byte, splitScan)
	return cutRanges(name, size, n, func(k int, cut int64) (int64, error) {
		return recordStartAtOrAfter(r, cut, size, par[k], buf)
	})
}

// countQuotesOdd reports whether r[from:to] holds an odd number of
// quotes, reading into *buf (grown to at most 256 KiB: the count reads
// what was just copied, and at 1 MiB that was past the cache, 15% slower).
func countQuotesOdd(r io.ReaderAt, from, to, size int64, bp *[]byte) (bool, error) {
	if odd, ok, err := quotesOddMapped(r, from, to, size); ok {
		return odd, err
	}
	return countQuotesOddRead(r, from, to, size, bp)
}

func countQuotesOddRead(r io.ReaderAt, from, to, size int64, bp *[]byte) (bool, error) {
	if n := int(min(256<<10, to-from)); len(*bp) < n {
		*bp = make([]byte, n)
	}
	buf := *bp
	odd := false
	for pos := from; pos < to; {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), to-pos)], pos)
		odd = odd != (bytes.Count(buf[:n], quote)&1 == 1)
		pos += int64(n)
		if err == io.EOF && pos < to || err == nil && n == 0 {
			return false, fmt.Errorf("ended at byte %d of %d: %w", pos, size, ErrFileChanged)
		}
		if err != nil && err != io.EOF {
			return false, err
		}
	}
	return odd, nil
}

// recordStartAtOrAfter returns the first record start at or after off
// (size if none), given whether the quotes before off are odd: off itself
// if the byte before it is a newline and they are even.
func recordStartAtOrAfter(r io.ReaderAt, off, size int64, odd bool, buf []byte) (int64, error) {
	pos := off - 1
	n, err := r.ReadAt(buf[:1], pos)
	if n < 1 {
		return 0, fmt.Errorf("read at %d: %w", pos, errors.Join(err, ErrFileChanged))
	}
	if buf[0] == '\n' && !odd {
		return off, nil
	}
	ends := RecordEnds{csv: true, odd: odd}
	for pos = off; pos < size; {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		if i := ends.Next(buf[:n]); i >= 0 {
			return pos + int64(i), nil
		}
		pos += int64(n)
		if err == io.EOF && pos < size || err == nil && n == 0 {
			return 0, fmt.Errorf("ended at byte %d of %d: %w", pos, size, ErrFileChanged)
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
	}
	return size, nil
}

// OpenCSVRange opens the file of fr, a range SplitCSVFile made, and
// returns a LineSource reading the records that start in [fr.Start,
// fr.End): unlike OpenRange it starts at fr.Start exactly, a record start,
// and does not look for a newline. cfg.Extract frames the records (a
// CSVKey). Close closes the file.
func OpenCSVRange(fr FileRange, cfg LineConfig) (*LineSource, error) {
	return openRange(fr, cfg, NewCSVRangeSource)
}

// NewCSVRangeSource is OpenCSVRange on a file already open (or any
// io.ReaderAt), read with ReadAt only (see NewRangeSource). Close does not
// close r.
func NewCSVRangeSource(r io.ReaderAt, fr FileRange, cfg LineConfig) (*LineSource, error) {
	s, err := rangeSource(r, fr, cfg)
	if err != nil {
		return nil, err
	}
	if fr.Start > 0 {
		if err := s.SetPosition(fr.Start); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// RecordEnds finds record ends in a stream read piece by piece, for
// cutting a stream into chunks of whole records that several sources read
// (a source's chunks must not start inside a CSV record): with FrameLines
// a record ends at every newline; with CSV framing, at a newline after an
// even number of quotes since the start of the stream.
//
// The zero value finds line ends. A RecordEnds is not safe for concurrent
// use.
type RecordEnds struct {
	csv bool
	odd bool // the bytes seen hold an odd number of quotes
}

// NewRecordEnds returns a RecordEnds for records framed by f.
func NewRecordEnds(f Framing) *RecordEnds { return &RecordEnds{csv: f != FrameLines} }

// Pass notes p, the next bytes of the stream, as seen without a cut.
func (e *RecordEnds) Pass(p []byte) {
	if e.csv && bytes.Count(p, quote)&1 == 1 {
		e.odd = !e.odd
	}
}

// Next returns the index just past the first record end in p, the next
// bytes of the stream, and notes the bytes up to it as seen; or -1 if p
// holds no record end, noting all of p.
func (e *RecordEnds) Next(p []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			e.Pass(p[i:])
			return -1
		}
		e.Pass(p[i : i+j])
		if !e.odd {
			return i + j + 1
		}
		i += j + 1
	}
}

// csvMasksGo is csvMasks a byte at a time: the reference the assembly is
// tested against, and csvMasks where there is none.
func csvMasksGo(dst []uint64, src []byte, comma byte) {
	for b := 0; b+4 <= len(dst); b += 4 {
		var q, c, n, r uint64
		for j, x := range src[64*(b/4) : 64*(b/4)+64] {
			switch x {
			case '"':
				q |= 1 << j
			case comma:
				c |= 1 << j
			case '\n':
				n |= 1 << j
			case '\r':
				r |= 1 << j
			}
		}
		dst[b], dst[b+1], dst[b+2], dst[b+3] = q, c, n, r
	}
}

// prefixXor64 returns x with each bit j the XOR of x's bits 0 to j.
func prefixXor64(x uint64) uint64 {
	x ^= x << 1
	x ^= x << 2
	x ^= x << 4
	x ^= x << 8
	x ^= x << 16
	x ^= x << 32
	return x
}

// The ring of blocks csvFrame keeps, and how many it makes at a time (a
// call of csvMasks for several blocks costs less than one per block): a
// record it reads spans at most csvRing-csvChunk blocks, so that all of
// them are still in the ring when its last is made.
const (
	csvRing  = 16
	csvChunk = 8
)

// csvBlock is what csvFrame knows of a 64-byte block of the data, bit j
// for its byte j, with the quotes' parity carried from the blocks before.
type csvBlock struct {
	sep uint64 // delimiters outside quotes: field separators
	end uint64 // newlines outside quotes: record ends
	bad uint64 // quotes where RFC 4180 allows none
	qn  uint64 // quotes and newlines: a quoted field without one inside reads as it stands
}

// csvFrame is CSVKey's fast path for reading the records of one buffer of
// data in turn (LineSource.takeExtract calls extractFramed at each
// record's start; Scratch.newData says the buffer changed). From bitmaps
// of the quotes, delimiters, newlines and CRs of each 64-byte block
// (csvMasks: AVX-512 or SSE2 on amd64), made once per block, not once per
// record, it derives without a branch per byte the quotes' parity by
// prefix XOR, the record ends (newlines outside quotes), the field
// separators (delimiters outside quotes) and the quotes RFC 4180 does not
// allow: an opening quote (one that leaves the parity odd) must start a
// field (follow a separator, a closing quote, a record end, or be the
// first byte), and a closing one must precede a separator, a quote (a
// doubled quote), a record end or a CR before one. So a record is framed
// and checked by a few mask operations per block, and its fields are the
// separators' bits: a record of up to 128 bytes through view (three
// blocks as two words from its start), a longer one through long.
// Records it does not read (ending more than 8 blocks on, not ended
// within the data, or with a quote out of place) go to frameCSV, which
// reports the error.
//
// A csvFrame is a LineSource's (in its Scratch): not safe for concurrent
// use. The zero value is ready, with no data.
//
// Parity is counted from origin, a record start: every record start the
// source reaches after it lies at even parity, as quote-parity framing
// makes them; a record start that does not follow a record end in the
// bitmaps (a new buffer, a jump past a long record) starts over there.
type csvFrame struct {
	data   []byte // the data the blocks describe; calls pass data[r:]
	origin int    // offset in data of block 0
	next   int    // blocks made: 0 to next-1, the last csvRing in ring
	inq    uint64 // all ones if block next starts inside quotes
	carry  uint64 // 1 if block next starts a field (see prev in chunk)
	ring   [csvRing]csvBlock
	raw    [4 * (csvChunk + 1)]uint64
	tail   [64]byte
}

// newData tells the extractors' state that the data of the next
// extractFramed calls is new: bytes seen before may have changed.
func (sc *Scratch) newData() {
	if sc.csv != nil {
		sc.csv.data = nil
	}
}

// locate returns the offset of d in f.data, d being f.data[r:] for
// some r past the origin; otherwise it makes d the data, with its first
// byte a record start, and returns 0.
func (f *csvFrame) locate(d []byte) int {
	if f.data != nil {
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(d))) - uintptr(unsafe.Pointer(unsafe.SliceData(f.data))))
		if off >= f.origin && off <= len(f.data) && len(f.data)-off == len(d) {
			return off
		}
	}
	f.data = d
	f.restart(0)
	return 0
}

// restart makes the record start at offset r of the data block 0's start.
func (f *csvFrame) restart(r int) {
	f.origin, f.next, f.inq, f.carry = r, 0, 0, 1
}

// chunk makes the blocks next to next+csvChunk-1 (past the data's end,
// empty), or returns false if block next starts 128 bytes or more past
// the data's end.
func (f *csvFrame) chunk(comma byte) bool {
	base := f.origin + 64*f.next
	rest := len(f.data) - base
	if rest <= -128 {
		return false // view needs no block so far past the data
	}
	// The bitmaps of csvChunk blocks and one more, looked ahead to: a
	// closing quote at a block's last byte is checked against the next.
	raw := f.raw[:]
	full := max(0, min(csvChunk+1, rest/64))
	if full > 0 {
		csvMasks(raw[:4*full], f.data[base:base+64*full], comma)
	}
	if i := full; i < csvChunk+1 {
		if r := rest - 64*i; r > 0 {
			f.tail = [64]byte{}
			copy(f.tail[:], f.data[base+64*i:])
			csvMasks(raw[4*i:4*i+4], f.tail[:], comma)
			i++
		}
		clear(raw[4*i:])
	}
	inq, carry := f.inq, f.carry
	q, c, n, cr := raw[0], raw[1], raw[2], raw[3]
	p := prefixXor64(q) ^ inq // inside quotes, the opening quote included
	s, e := c&^p, n&^p
	for b := range csvChunk {
		w := raw[4*b+4 : 4*b+8]
		q2, c2, n2, cr2 := w[0], w[1], w[2], w[3]
		inq = -(p >> 63)
		p2 := prefixXor64(q2) ^ inq
		s2, e2 := c2&^p2, n2&^p2
		o, x := q&p, q&^p // opening and closing quotes
		// prev: the byte before starts a field's text (is a separator, a
		// closing quote or a record end); next: the byte after ends it.
		a := s | x | e
		prev := a<<1 | carry
		carry = a >> 63
		z := s | q | e | cr&(e>>1|e2<<63)
		z2 := s2 | q2 | e2 | cr2&(e2>>1)
		next := z>>1 | z2<<63
		f.ring[uint(f.next+b)%csvRing] = csvBlock{sep: s, end: e, bad: o&^prev | x&^next, qn: q | n}
		q, n, cr, p, s, e = q2, n2, cr2, p2, s2, e2
	}
	f.inq, f.carry = inq, carry
	f.next += csvChunk
	return true
}

// csvView is a record as csvFrame sees it, its bytes 0 to 63 in word 0
// of each pair of bitmaps and bytes 64 to 127 in word 1.
type csvView struct {
	s0, s1   uint64 // field separators before the record's end
	qn0, qn1 uint64 // quotes and newlines
	end, fin int    // the newline ending the record; the last field's end (before a CR)
}

// view sets *v to the record at the start of d, d being f.data[r:] if the
// record is the next one (see locate), if it ends with a newline within
// 128 bytes and every quote in it is in place; otherwise it returns false,
// leaving the record to frameCSV. (A pointer, not a result: the copy of
// the result stalled on its stores, 40% of the call.)
func (f *csvFrame) view(d []byte, comma byte, v *csvView) bool {
	rel, ok := f.start(d, comma)
	if !ok {
		return false
	}
	bi, sh := rel>>6, uint(rel&63)
	b0, b1, b2 := &f.ring[uint(bi)%csvRing], &f.ring[uint(bi+1)%csvRing], &f.ring[uint(bi+2)%csvRing]
	// The record's bits: x>>sh of one block, y<<1<<(63-sh) of the next
	// (a shift by 64 - sh, written so that no count can reach 64).
	hi := 63 - sh
	e0, e1 := b0.end>>sh|b1.end<<1<<hi, b1.end>>sh|b2.end<<1<<hi
	var k0, k1 uint64 // the bytes before the end
	switch {
	case e0 != 0:
		v.end = bits.TrailingZeros64(e0)
		k0 = 1<<v.end - 1
	case e1 != 0:
		v.end = 64 + bits.TrailingZeros64(e1)
		k0, k1 = ^uint64(0), 1<<(v.end-64)-1
	default:
		return false
	}
	if (b0.bad>>sh|b1.bad<<1<<hi)&k0|(b1.bad>>sh|b2.bad<<1<<hi)&k1 != 0 {
		return false
	}
	v.s0, v.s1 = (b0.sep>>sh|b1.sep<<1<<hi)&k0, (b1.sep>>sh|b2.sep<<1<<hi)&k1
	v.qn0, v.qn1 = b0.qn>>sh|b1.qn<<1<<hi, b1.qn>>sh|b2.qn<<1<<hi
	v.fin = v.end
	if v.end > 0 && d[v.end-1] == '\r' {
		v.fin--
	}
	return true
}

// start returns the offset from the origin of the record at the start of
// d, with its first three blocks made; false if d runs past the data.
func (f *csvFrame) start(d []byte, comma byte) (int, bool) {
	r := f.locate(d)
	rel := r - f.origin
	if rel > 0 {
		// A record start follows a record end, unless the source went
		// past records this frame did not read.
		pb := (rel - 1) >> 6
		if pb >= f.next || pb < f.next-csvRing || f.ring[uint(pb)%csvRing].end>>((rel-1)&63)&1 == 0 {
			f.restart(r)
			rel = 0
		}
	}
	for rel>>6+2 >= f.next {
		if !f.chunk(comma) {
			return 0, false
		}
	}
	return rel, true
}

// long is view for a record of more than 128 bytes, ending within the
// blocks the ring holds (at least 449 bytes from its start): it notes the
// fields up to the last-th in *spans, as frameCSV does, and returns the
// record's end; or false, leaving the record to frameCSV.
func (f *csvFrame) long(d []byte, comma byte, last int, spans *[]csvSpan) (int, bool) {
	rel, ok := f.start(d, comma)
	if !ok {
		return 0, false
	}
	bi, sh := rel>>6, uint(rel&63)
	from := ^uint64(0) << sh // the record's bits of block bi
	blk := &f.ring[uint(bi)%csvRing]
	m, jbad := blk.end&from, blk.bad&from
	bad := uint64(0) // of the blocks before j
	j := bi
	for m == 0 {
		// Blocks bi to j stay in the ring: chunk makes csvChunk at a
		// time, and j-bi < csvRing-csvChunk.
		if j++; j-bi >= csvRing-csvChunk || j >= f.next && !f.chunk(comma) {
			return 0, false
		}
		b := &f.ring[uint(j)%csvRing]
		bad |= jbad
		m, jbad = b.end, b.bad
	}
	eb := uint(bits.TrailingZeros64(m))
	upto := uint64(1)<<eb - 1 // the record's bits of block j, before its end
	if bad|jbad&upto != 0 {
		return 0, false
	}
	end := 64*j + int(eb) - rel
	fin := end
	if end > 0 && d[end-1] == '\r' {
		fin = end - 1
	}
	// The fields, up to the last-th: between separators.
	sp := (*spans)[:0]
	start := 0
	b := bi
	sm := blk.sep & from
	if j == bi {
		sm &= upto
	}
	for fl := 1; fl <= last; fl++ {
		for sm == 0 && b < j {
			b++
			sm = f.ring[uint(b)%csvRing].sep
			if b == j {
				sm &= upto
			}
		}
		e := fin
		if sm != 0 {
			e = 64*b + bits.TrailingZeros64(sm) - rel
			sm &= sm - 1
		}
		span := csvSpan{start: start, end: e}
		if start < e && d[start] == '"' {
			// Checked: the field ends with its closing quote.
			span = csvSpan{start: start + 1, end: e - 1, quoted: true}
		}
		sp = append(sp, span)
		if e == fin {
			break
		}
		start = e + 1
	}
	*spans = sp
	return end, true
}

// field returns the bounds of the record's c-th field (c >= 1) as a
// span of d, or false if the record has fewer fields. A quoted field
// without a quote or newline inside (no doubled quote, no CRLF) is clean:
// its text needs no rewriting.
func (v *csvView) field(d []byte, c int) (sp csvSpan, clean, ok bool) {
	s0, s1 := v.s0, v.s1
	start := 0
	for range c - 1 {
		switch {
		case s0 != 0:
			start = bits.TrailingZeros64(s0) + 1
			s0 &= s0 - 1
		case s1 != 0:
			start = 64 + bits.TrailingZeros64(s1) + 1
			s1 &= s1 - 1
		default:
			return sp, false, false
		}
	}
	e := v.fin
	switch {
	case s0 != 0:
		e = bits.TrailingZeros64(s0)
	case s1 != 0:
		e = 64 + bits.TrailingZeros64(s1)
	}
	if start >= e || d[start] != '"' {
		return csvSpan{start: start, end: e}, true, true
	}
	// Checked: the field ends with its closing quote.
	sp = csvSpan{start: start + 1, end: e - 1, quoted: true}
	var w uint64 // the bits from the field's text on
	if sp.start < 64 {
		w = v.qn0>>uint(sp.start) | v.qn1<<uint(64-sp.start)
	} else {
		w = v.qn1 >> uint(sp.start-64)
	}
	n := sp.end - sp.start
	return sp, n < 64 && w&(1<<n-1) == 0, true
}

// spans notes the record's fields up to the last-th in *spans, as
// frameCSV does.
func (v *csvView) spans(d []byte, last int, spans *[]csvSpan) {
	s0, s1 := v.s0, v.s1
	sp := (*spans)[:0]
	start := 0
	for f := 1; f <= last; f++ {
		e := v.fin
		switch {
		case s0 != 0:
			e = bits.TrailingZeros64(s0)
			s0 &= s0 - 1
		case s1 != 0:
			e = 64 + bits.TrailingZeros64(s1)
			s1 &= s1 - 1
		}
		span := csvSpan{start: start, end: e}
		if start < e && d[start] == '"' {
			// Checked: the field ends with its closing quote. Whether it
			// holds a doubled quote is left to csvField (a key field).
			span = csvSpan{start: start + 1, end: e - 1, quoted: true}
		}
		sp = append(sp, span)
		if e == v.fin {
			break
		}
		start = e + 1
	}
	*spans = sp
}
