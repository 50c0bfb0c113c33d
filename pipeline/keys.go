package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
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
