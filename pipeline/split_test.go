package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

func TestField(t *testing.T) {
	comma, tab := ByteDelimiter(','), ByteDelimiter('\t')
	tests := []struct {
		line string
		n    int
		d    Delimiter
		want string
		ok   bool
	}{
		{"a,b,c", 0, comma, "a,b,c", true},
		{"a,b,c", 1, comma, "a", true},
		{"a,b,c", 2, comma, "b", true},
		{"a,b,c", 3, comma, "c", true},
		{"a,b,c", 4, comma, "", false},
		{"a,b,c", -1, comma, "", false},
		{"", 1, comma, "", true},
		{"", 2, comma, "", false},
		{"abc", 1, comma, "abc", true},
		{"abc", 2, comma, "", false},
		{"a,,c", 2, comma, "", true},
		{",a", 1, comma, "", true},
		{",a", 2, comma, "a", true},
		{"a,", 2, comma, "", true},
		{"a,", 3, comma, "", false},
		{",,", 3, comma, "", true},
		{"a b\tc", 2, tab, "c", true},
		{"a b\tc", 1, tab, "a b", true},
		{"x\x00y", 2, ByteDelimiter(0), "y", true},
		{"a b c", 2, Whitespace, "b", true},
		{"  a \t b  ", 1, Whitespace, "a", true},
		{"  a \t b  ", 2, Whitespace, "b", true},
		{"  a \t b  ", 3, Whitespace, "", false},
		{"", 1, Whitespace, "", false},
		{" \t ", 1, Whitespace, "", false},
		{"a\v\fb\rc", 3, Whitespace, "c", true},
		{"é\xffb c", 1, Whitespace, "é\xffb", true},
		{"a b", 0, Whitespace, "a b", true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("line=%q,n=%d,delim=%v", tc.line, tc.n, tc.d), func(t *testing.T) {
			got, ok := Field([]byte(tc.line), tc.n, tc.d)
			if ok != tc.ok || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
			if ok && tc.n > 0 && cap(got) != len(got) {
				t.Errorf("cap %d > len %d: an append would overwrite the line", cap(got), len(got))
			}
		})
	}
}

func TestParseDelimiter(t *testing.T) {
	tests := []struct {
		in   string
		want Delimiter
		err  bool
	}{
		{"ws", Whitespace, false},
		{"whitespace", Whitespace, false},
		{"tab", ByteDelimiter('\t'), false},
		{`\t`, ByteDelimiter('\t'), false},
		{"\t", ByteDelimiter('\t'), false},
		{",", ByteDelimiter(','), false},
		{" ", ByteDelimiter(' '), false},
		{`\x1f`, ByteDelimiter(0x1f), false},
		{`\x00`, ByteDelimiter(0), false},
		{`\xff`, ByteDelimiter(0xff), false},
		{`\\`, ByteDelimiter('\\'), false},
		{"\xff", ByteDelimiter(0xff), false},
		{"", Delimiter{}, true},
		{",,", Delimiter{}, true},
		{"é", Delimiter{}, true},
		{`\u00e9`, Delimiter{}, true},
		{`\n`, Delimiter{}, true},
		{"\n", Delimiter{}, true},
		{`\q`, Delimiter{}, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("in=%q", tc.in), func(t *testing.T) {
			got, err := ParseDelimiter(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("got %v, %v; want %v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestDelimiterStringRoundTrips(t *testing.T) {
	ds := []Delimiter{Whitespace}
	for c := range 256 {
		if c != '\n' {
			ds = append(ds, ByteDelimiter(byte(c)))
		}
	}
	for _, d := range ds {
		got, err := ParseDelimiter(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDelimiter(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
	}
	if c, ok := ByteDelimiter(',').Byte(); !ok || c != ',' || ByteDelimiter(',').IsWhitespace() {
		t.Errorf("ByteDelimiter(',') accessors wrong")
	}
	if _, ok := Whitespace.Byte(); ok || !Whitespace.IsWhitespace() {
		t.Errorf("Whitespace accessors wrong")
	}
}

func TestFieldAllocs(t *testing.T) {
	line := []byte("2024-01-01 GET /index.html 200 0.25")
	n := testing.AllocsPerRun(100, func() {
		Field(line, 3, Whitespace)
		Field(line, 2, ByteDelimiter(' '))
	})
	if n != 0 {
		t.Errorf("Field: got %v allocation(s) (want zero)", n)
	}
}

// refField is the obvious definition Field must agree with.
func refField(line string, n int, d Delimiter) (string, bool) {
	if n == 0 {
		return line, true
	}
	var fields []string
	if c, ok := d.Byte(); ok {
		fields = strings.Split(line, string([]byte{c}))
	} else {
		fields = strings.FieldsFunc(line, func(r rune) bool { return r < 0x80 && asciiSpace[r] })
	}
	if n < 0 || n > len(fields) {
		return "", false
	}
	return fields[n-1], true
}

// FuzzField compares Field with strings.Split (byte delimiters) and
// strings.FieldsFunc (whitespace).
func FuzzField(f *testing.F) {
	for _, s := range []string{"", "a", "a,b", ",,", "a,,b,", " a  b\t", "\x00,\xff", "é,ü"} {
		for _, d := range []byte{',', ' ', 0, 0xff} {
			f.Add([]byte(s), 2, d, false)
		}
		f.Add([]byte(s), 1, byte(0), true)
		f.Add([]byte(s), 3, byte(0), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, n int, c byte, ws bool) {
		n %= 64
		d := ByteDelimiter(c)
		if ws {
			d = Whitespace
		}
		got, ok := Field(line, n, d)
		want, wantOK := refField(string(line), n, d)
		if ok != wantOK || string(got) != want {
			t.Fatalf("Field(%q, %d, %v) = %q, %v; want %q, %v", line, n, d, got, ok, want, wantOK)
		}
		if ok && len(got) > 0 && !bytes.Contains(line, got) {
			t.Fatalf("field %q not from line %q", got, line)
		}
	})
}

func TestParseDelimiterErrors(t *testing.T) {
	for _, in := range []string{"", "ab", "\n"} {
		_, err := ParseDelimiter(in)
		if !errors.Is(err, sketch.ErrInvalidParameter) {
			t.Errorf("ParseDelimiter(%q): error %v does not wrap ErrInvalidParameter", in, err)
		}
		if err != nil && in != "\n" && !strings.Contains(err.Error(), "ws") {
			t.Errorf("ParseDelimiter(%q): error %v does not say what to use", in, err)
		}
	}
}
