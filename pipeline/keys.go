package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/streamstat/streamstat/sketch"
)

// Composite keys. A key made of several parts (fields, JSON values, CSV
// columns) is each part's length as a uvarint followed by its bytes, in
// order. The encoding is prefix-free part by part, so two different tuples
// never give the same key, whatever bytes the parts hold (delimiters,
// quotes, NULs), and a tuple of parts equal to another's in order gives
// the same key. FormatTuple shows it as a tuple.

// AppendTuplePart appends one part of a composite key to dst.
func AppendTuplePart(dst, part []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(part)))
	return append(dst, part...)
}

// SplitTuple returns the parts of the composite key, aliasing key, and
// false if key is not one AppendTuplePart made (a length that runs past
// the end).
func SplitTuple(key []byte) ([][]byte, bool) {
	var parts [][]byte
	for len(key) > 0 {
		n, k := binary.Uvarint(key)
		if k <= 0 || n > uint64(len(key)-k) {
			return nil, false
		}
		parts = append(parts, key[k:k+int(n):k+int(n)])
		key = key[k+int(n):]
	}
	return parts, true
}

// FormatTuple shows a composite key as (a, b, c): a part that is empty,
// not printable UTF-8, or holds a space, comma, parenthesis, quote or
// backslash is shown as a Go string literal ("a b", "", "\x00"), so the
// text reads back unambiguously. A key that is not a composite key is
// shown as a Go string literal.
func FormatTuple(key []byte) string {
	parts, ok := SplitTuple(key)
	if !ok {
		return strconv.Quote(string(key))
	}
	var b strings.Builder
	b.WriteByte('(')
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		if plainPart(p) {
			b.Write(p)
		} else {
			b.WriteString(strconv.Quote(string(p)))
		}
	}
	b.WriteByte(')')
	return b.String()
}

func plainPart(p []byte) bool {
	if len(p) == 0 || !utf8.Valid(p) {
		return false
	}
	for _, r := range string(p) {
		if !unicode.IsPrint(r) || r == ' ' || strings.ContainsRune(`,()"\`, r) {
			return false
		}
	}
	return true
}

// FieldsKey is an Extractor for delimited lines: the key is field Fields[0]
// (1-based; 0 is the whole line) of the line split by Delimiter, or, with
// several fields, those fields joined into a composite key; ValueField, if
// not 0, selects the value as LineConfig.ValueField does. A line lacking a
// key field has no key (ErrMissingField).
//
// The zero value keys each whole line. A FieldsKey is not changed by
// Extract: one serves any number of goroutines.
type FieldsKey struct {
	Fields     []int
	Delimiter  Delimiter
	ValueField int
}

// NewFieldsKey checks the field numbers and returns a FieldsKey.
func NewFieldsKey(d Delimiter, valueField int, fields ...int) (*FieldsKey, error) {
	for _, f := range append([]int{valueField}, fields...) {
		if f < 0 {
			return nil, fmt.Errorf("pipeline: field %d: fields count from 1 (0 is the whole line): %w", f, sketch.ErrInvalidParameter)
		}
	}
	return &FieldsKey{Fields: fields, Delimiter: d, ValueField: valueField}, nil
}

// Framing is FrameLines.
func (k *FieldsKey) Framing() Framing { return FrameLines }

// Extract implements Extractor.
func (k *FieldsKey) Extract(rec []byte, sc *Scratch) (Extraction, error) {
	var x Extraction
	switch len(k.Fields) {
	case 0:
		x.Key = rec
	case 1:
		i, j, ok := fieldSpan(rec, k.Fields[0], k.Delimiter)
		if !ok {
			return x, ErrMissingField
		}
		x.Key = rec[i:j]
	default:
		key, ok := k.appendTuple(sc.Key[:0], rec)
		if !ok {
			return x, ErrMissingField
		}
		sc.Key, x.Key = key, key
	}
	k.value(rec, &x)
	return x, nil
}

// extractAppend implements appendExtractor: the key goes straight to dst
// (a batch's arena), a composite one built there in one pass over rec.
func (k *FieldsKey) extractAppend(dst, rec []byte, x *Extraction) ([]byte, error) {
	switch len(k.Fields) {
	case 0:
		dst = append(dst, rec...)
	case 1:
		i, j, ok := fieldSpan(rec, k.Fields[0], k.Delimiter)
		if !ok {
			return dst, ErrMissingField
		}
		dst = append(dst, rec[i:j]...)
	default:
		n := len(dst)
		var ok bool
		if dst, ok = k.appendTuple(dst, rec); !ok {
			return dst[:n], ErrMissingField
		}
	}
	k.value(rec, x)
	return dst, nil
}

// value sets x's value from ValueField, if any.
func (k *FieldsKey) value(rec []byte, x *Extraction) {
	if k.ValueField == 0 {
		return
	}
	if i, j, ok := fieldSpan(rec, k.ValueField, k.Delimiter); ok {
		x.Value, x.HasValue = parseValue(rec[i:j])
	}
	x.BadValue = !x.HasValue
}

// appendTuple appends to dst the composite key of k.Fields in rec
// (AppendTuplePart of each), and false if rec lacks one of them. It finds
// the fields in one pass over rec, stopping after the last one wanted,
// and copies each part once, straight into dst.
func (k *FieldsKey) appendTuple(dst, rec []byte) ([]byte, bool) {
	fields := k.Fields
	if len(rec) <= 64 {
		// A short line: find the fields in a bitmap of its delimiters,
		// without a branch per byte.
		return appendShortTuple(dst, rec, fields, k.Delimiter)
	}
	if len(fields) > MaxKeyParts {
		for _, f := range fields {
			i, j, ok := fieldSpan(rec, f, k.Delimiter)
			if !ok {
				return dst, false
			}
			dst = AppendTuplePart(dst, rec[i:j])
		}
		return dst, true
	}
	var start, end [MaxKeyParts]int
	need := 0 // fields not found yet
	for p, f := range fields {
		switch {
		case f < 0:
			return dst, false
		case f == 0:
			start[p], end[p] = 0, len(rec)
		default:
			need++
		}
	}
	c, single := k.Delimiter.c, k.Delimiter.single
	for i, f := 0, 1; need > 0; f++ {
		var j int
		if single {
			j = len(rec)
			if d := bytes.IndexByte(rec[i:], c); d >= 0 {
				j = i + d
			}
		} else {
			for i < len(rec) && asciiSpace[rec[i]] {
				i++
			}
			if i == len(rec) {
				return dst, false
			}
			j = i + 1
			for j < len(rec) && !asciiSpace[rec[j]] {
				j++
			}
		}
		for p, want := range fields {
			if want == f {
				start[p], end[p] = i, j
				need--
			}
		}
		if need == 0 {
			break
		}
		if single && j == len(rec) {
			return dst, false
		}
		i = j + 1
		if !single {
			i = j
		}
	}
	size := 0
	for p := range fields {
		size += end[p] - start[p] + binary.MaxVarintLen64
	}
	dst = slices.Grow(dst, size)
	for p := range fields {
		part := rec[start[p]:end[p]]
		if len(part) < 0x80 {
			dst = append(dst, byte(len(part)))
		} else {
			dst = binary.AppendUvarint(dst, uint64(len(part)))
		}
		dst = append(dst, part...)
	}
	return dst, true
}

// ParseKeyColumns reads a key's columns as a command line gives them:
// numbers from 1 or, with a header, column names (NAME, or NAME[k] for the
// k-th column of that name; see CSVColumn), separated by commas: "3",
// "1,3", "user,page". A part that is not a number is a name, which needs a
// header.
func ParseKeyColumns(spec string, header []string) ([]int, error) {
	parts := strings.Split(spec, ",")
	if len(parts) > MaxKeyParts {
		return nil, fmt.Errorf("pipeline: key %q has %d parts, more than %d: %w", spec, len(parts), MaxKeyParts, sketch.ErrInvalidParameter)
	}
	cols := make([]int, 0, len(parts))
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err == nil {
			if n < 1 {
				return nil, fmt.Errorf("pipeline: key column %d in %q: columns count from 1: %w", n, spec, sketch.ErrInvalidParameter)
			}
			cols = append(cols, n)
			continue
		}
		if p == "" {
			return nil, fmt.Errorf("pipeline: key %q has an empty part: %w", spec, sketch.ErrInvalidParameter)
		}
		if header == nil {
			return nil, fmt.Errorf("pipeline: key column %q is a name: the input needs a header line naming its columns: %w", p, sketch.ErrInvalidParameter)
		}
		c, err := CSVColumn(header, p)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// appendShortTuple is appendTuple for a line of at most 64 bytes: it
// reads rec 8 bytes at a time into a bitmap of the bytes that delimit,
// then finds each field with bit operations and appends it.
func appendShortTuple(dst, rec []byte, fields []int, d Delimiter) ([]byte, bool) {
	n := len(rec)
	var m uint64 // bit i: rec[i] delimits
	for i := 0; i < n; i += 8 {
		var w uint64
		if i+8 <= cap(rec) {
			// Past len(rec) but within its capacity: the bits of those
			// bytes are dropped below.
			w = binary.LittleEndian.Uint64(rec[i : i+8 : i+8])
		} else {
			for k := n - 1; k >= i; k-- {
				w = w<<8 | uint64(rec[k])
			}
		}
		if d.single {
			m |= byteMask8(w, d.c) << i
		} else {
			m |= spaceMask8(w) << i
		}
	}
	valid := ^uint64(0)
	if n < 64 {
		valid = 1<<n - 1
	}
	m &= valid
	word := ^m & valid            // Whitespace: the bytes of fields
	starts := word &^ (word << 1) // their first bytes
	lasts := word &^ (word >> 1)  // their last bytes
	n0 := len(dst)
	for _, f := range fields {
		st, en := 0, n
		switch {
		case f < 0:
			return dst[:n0], false
		case f == 0:
		case d.single:
			// Field f starts after delimiter f-1 and ends at delimiter f
			// (or the line's end).
			b := m
			for range f - 1 {
				if b == 0 {
					return dst[:n0], false
				}
				st = bits.TrailingZeros64(b) + 1
				b &= b - 1
			}
			if b != 0 {
				en = bits.TrailingZeros64(b)
			}
		default:
			b := starts
			for range f - 1 {
				b &= b - 1
			}
			if b == 0 {
				return dst[:n0], false
			}
			st = bits.TrailingZeros64(b)
			en = bits.TrailingZeros64(lasts>>st<<st) + 1
		}
		l := len(dst)
		if en-st <= 16 && cap(dst)-l > 16 && cap(rec)-st >= 16 {
			// A short part: copy 16 bytes, with no call, and keep those
			// of the part (those past it are in dst's spare capacity).
			dst = dst[:l+17]
			*(*[16]byte)(dst[l+1:]) = *(*[16]byte)(rec[st : st+16])
		} else {
			dst = append(append(dst, 0), rec[st:en]...)
		}
		dst[l] = byte(en - st) // under 0x80: one uvarint byte
		dst = dst[:l+1+en-st]
	}
	return dst, true
}

const (
	lo7s = 0x7f7f7f7f7f7f7f7f
	hi1s = 0x8080808080808080
	ones = 0x0101010101010101
)

// gather8 packs the high bits of w's bytes (each 0x80 or 0) into the low
// 8 bits, byte i's to bit i.
func gather8(w uint64) uint64 { return (w >> 7) * 0x0102040810204080 >> 56 }

// zeroBytes8 marks with 0x80 the bytes of w that are 0, exactly (no
// borrow runs from one byte into the next).
func zeroBytes8(w uint64) uint64 { return ^(((w & lo7s) + lo7s) | w) & hi1s }

// spaceMask8 returns a bit for each of w's 8 bytes (byte i: bit i) that is
// one of Whitespace's (space, or 9 to 13: tab, LF, VT, FF, CR).
func spaceMask8(w uint64) uint64 {
	y := w & lo7s
	// 9 <= byte <= 13 (and below 0x80): y+0x77 reaches the high bit, y+0x72 does not.
	in := (y + 0x77*ones) &^ (y + 0x72*ones) &^ w & hi1s
	return gather8(in | zeroBytes8(w^0x20*ones))
}

// byteMask8 returns a bit for each of w's 8 bytes equal to c.
func byteMask8(w uint64, c byte) uint64 { return gather8(zeroBytes8(w ^ uint64(c)*ones)) }
