package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

// Delimiter says how a line splits into fields: at every occurrence of one
// byte (as cut(1) does, so "a,,b" has an empty second field), or at runs of
// ASCII whitespace (as awk(1) does by default, so leading and trailing
// blanks make no empty fields).
//
// The zero value is Whitespace. Delimiters are plain values, safe to copy
// and to use from any goroutine.
type Delimiter struct {
	c      byte
	single bool // false: runs of whitespace
}

// Whitespace splits at runs of space, tab, vertical tab, form feed, CR and
// LF. It is the zero Delimiter.
var Whitespace = Delimiter{}

// ByteDelimiter splits at every occurrence of c.
func ByteDelimiter(c byte) Delimiter { return Delimiter{c: c, single: true} }

// IsWhitespace reports whether d splits at runs of whitespace.
func (d Delimiter) IsWhitespace() bool { return !d.single }

// Byte returns the delimiter byte, and false for Whitespace.
func (d Delimiter) Byte() (byte, bool) { return d.c, d.single }

// String returns a form ParseDelimiter accepts: "ws", or the byte quoted
// as a Go character literal without its quotes (",", `\t`, `\x00`).
func (d Delimiter) String() string {
	if !d.single {
		return "ws"
	}
	if d.c >= 0x20 && d.c < 0x7f && d.c != '\\' {
		return string(rune(d.c))
	}
	if d.c >= 0x80 {
		return fmt.Sprintf(`\x%02x`, d.c)
	}
	q := strconv.QuoteRuneToASCII(rune(d.c))
	return q[1 : len(q)-1]
}

// ParseDelimiter reads a delimiter as a command line gives it: "ws" or
// "whitespace" for runs of whitespace, "tab" for a tab, a single byte (",",
// "|", " "), or a Go escape sequence for one byte (`\t`, `\x1f`, `\\`).
func ParseDelimiter(s string) (Delimiter, error) {
	switch s {
	case "ws", "whitespace":
		return Whitespace, nil
	case "tab":
		return ByteDelimiter('\t'), nil
	case "":
		return Delimiter{}, fmt.Errorf("pipeline: empty delimiter; use a single byte, an escape such as \\t, or ws for runs of whitespace: %w", sketch.ErrInvalidParameter)
	}
	c := s[0]
	if len(s) > 1 {
		v, multibyte, tail, err := strconv.UnquoteChar(s, 0)
		if err != nil || tail != "" || multibyte || v > 0xff {
			return Delimiter{}, fmt.Errorf("pipeline: delimiter %q is not one byte; use a single byte, an escape such as \\t or \\x1f, or ws for runs of whitespace: %w", s, sketch.ErrInvalidParameter)
		}
		c = byte(v)
	}
	if c == '\n' {
		return Delimiter{}, fmt.Errorf("pipeline: delimiter %q: newline ends lines and cannot split fields: %w", s, sketch.ErrInvalidParameter)
	}
	return ByteDelimiter(c), nil
}

// Errors a LineSource reports for lines it cannot use in full (see
// LineConfig.OnBadLine).
var (
	// ErrMissingField: the line has fewer fields than the key field
	// selects. The line is skipped and counted.
	ErrMissingField = errors.New("pipeline: line has no such field")
	// ErrBadValue: the value field is missing or not a finite number. The
	// record is kept without a value and counted.
	ErrBadValue = errors.New("pipeline: value field is not a finite number")
)

// asciiSpace marks the bytes Whitespace splits at.
var asciiSpace = [256]bool{' ': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true}

// Field returns field n (1-based) of line split by d, aliasing line, and
// whether the line has that many fields. Field 0 is the whole line. With a
// byte delimiter every line has at least one field (possibly empty); with
// Whitespace a blank line has none. Field never allocates.
func Field(line []byte, n int, d Delimiter) ([]byte, bool) {
	i, j, ok := fieldSpan(line, n, d)
	if !ok {
		return nil, false
	}
	return line[i:j:j], true
}

// fieldSpan returns the bounds of field n in line.
func fieldSpan(line []byte, n int, d Delimiter) (int, int, bool) {
	switch {
	case n == 0:
		return 0, len(line), true
	case n < 0:
		return 0, 0, false
	case !d.single:
		return wsField(line, n)
	}
	i := 0
	for ; n > 1; n-- {
		k := bytes.IndexByte(line[i:], d.c)
		if k < 0 {
			return 0, 0, false
		}
		i += k + 1
	}
	j := len(line)
	if k := bytes.IndexByte(line[i:], d.c); k >= 0 {
		j = i + k
	}
	return i, j, true
}

func wsField(line []byte, n int) (int, int, bool) {
	i := 0
	for {
		for i < len(line) && asciiSpace[line[i]] {
			i++
		}
		if i == len(line) {
			return 0, 0, false
		}
		j := i + 1
		for j < len(line) && !asciiSpace[line[j]] {
			j++
		}
		if n--; n == 0 {
			return i, j, true
		}
		i = j
	}
}
