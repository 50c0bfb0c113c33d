package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestTupleKeysUnambiguous: different tuples never give the same key, even
// when joining the parts with any one separator would (a,b + c against
// a + b,c), and SplitTuple gives the parts back.
func TestTupleKeysUnambiguous(t *testing.T) {
	alphabet := []string{"", "a", ",", "\x00", "\x01", "\x02a", "é", strings.Repeat("x", 130)}
	seen := map[string][]string{}
	var tuples func(prefix []string, n int)
	tuples = func(prefix []string, n int) {
		if n == 0 {
			var key []byte
			for _, p := range prefix {
				key = AppendTuplePart(key, []byte(p))
			}
			if old, ok := seen[string(key)]; ok {
				t.Fatalf("tuples %q and %q give the same key %q", old, prefix, key)
			}
			seen[string(key)] = append([]string(nil), prefix...)
			parts, ok := SplitTuple(key)
			if !ok || len(parts) != len(prefix) {
				t.Fatalf("SplitTuple(%q) = %q, %v; want %q", key, parts, ok, prefix)
			}
			for i := range parts {
				if string(parts[i]) != prefix[i] {
					t.Fatalf("SplitTuple(%q) = %q, want %q", key, parts, prefix)
				}
			}
			return
		}
		for _, a := range alphabet {
			tuples(append(prefix, a), n-1)
		}
	}
	for n := 1; n <= 3; n++ {
		tuples(nil, n)
	}
	if _, ok := SplitTuple([]byte{5, 'a'}); ok {
		t.Error("SplitTuple accepted a part running past the end")
	}
}

func TestFormatTuple(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"u-1", "/index.html"}, "(u-1, /index.html)"},
		{[]string{"Smith, J", ""}, `("Smith, J", "")`},
		{[]string{"a b", "x\x00", "é"}, `("a b", "x\x00", é)`},
		{[]string{"(x)"}, `("(x)")`},
	} {
		var key []byte
		for _, p := range tc.parts {
			key = AppendTuplePart(key, []byte(p))
		}
		if got := FormatTuple(key); got != tc.want {
			t.Errorf("parts=%q: FormatTuple = %s, want %s", tc.parts, got, tc.want)
		}
	}
	if got := FormatTuple([]byte{9, 'a'}); got != `"\ta"` {
		t.Errorf("not a tuple: %s", got)
	}
}

// TestFieldsKey: one field aliases the line, several make a tuple, a
// missing field skips, values as LineConfig.ValueField.
func TestFieldsKey(t *testing.T) {
	k, err := NewFieldsKey(ByteDelimiter('\t'), 4, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	var sc Scratch
	x, err := k.Extract([]byte("a\tb\tc\t2.5"), &sc)
	want := AppendTuplePart(AppendTuplePart(nil, []byte("c")), []byte("a"))
	if err != nil || !bytes.Equal(x.Key, want) || !x.HasValue || x.Value != 2.5 {
		t.Errorf("got %+v, %v", x, err)
	}
	if _, err := k.Extract([]byte("a\tb"), &sc); !errors.Is(err, ErrMissingField) {
		t.Errorf("missing field: %v", err)
	}
	one := &FieldsKey{Fields: []int{2}, Delimiter: Whitespace}
	line := []byte("  x  yy z")
	if x, err := one.Extract(line, &sc); err != nil || string(x.Key) != "yy" || &x.Key[0] != &line[5] {
		t.Errorf("one field: %q, %v (want an alias of the line)", x.Key, err)
	}
	if _, err := NewFieldsKey(Whitespace, 0, -1); err == nil {
		t.Error("field -1 accepted")
	}
}

// TestFieldsKeyMatchesLineConfig: a FieldsKey of one field gives the same
// records as LineConfig.Field, on random lines.
func TestFieldsKeyMatchesLineConfig(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 14))
	var data []byte
	for range 2000 {
		for range r.IntN(5) {
			data = append(data, " ,\tab\r"[r.IntN(6)])
		}
		data = append(data, '\n')
	}
	for _, d := range []Delimiter{Whitespace, ByteDelimiter(',')} {
		for f := 0; f <= 3; f++ {
			a := mustLineSource(t, bytes.NewReader(data), LineConfig{Field: f, ValueField: 2, Delimiter: d})
			k, err := NewFieldsKey(d, 2, f)
			if err != nil {
				t.Fatal(err)
			}
			b := mustLineSource(t, bytes.NewReader(data), LineConfig{Extract: k, BufferSize: 9})
			ra, rb := lsDrain(t, a, 33), lsDrain(t, b, 17)
			if !reflect.DeepEqual(ra, rb) || a.Skipped() != b.Skipped() || a.BadValues() != b.BadValues() || a.Offset() != b.Offset() {
				t.Errorf("delimiter %v field %d: %d records (skipped %d) against %d (skipped %d)", d, f, len(rb), b.Skipped(), len(ra), a.Skipped())
			}
		}
	}
}

// TestFieldsKeyOnePassMatchesFieldSpans: the one-pass composite key of
// several fields (any order, repeated, field 0) is the key made field by
// field with Field and AppendTuplePart, on random lines, delimiters and
// field lists, and a line lacking a field is ErrMissingField either way;
// extractAppend (the arena path) gives the same key as Extract.
func TestFieldsKeyOnePassMatchesFieldSpans(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	long := strings.Repeat("w", 200) // a part whose length takes 2 uvarint bytes
	for range 20000 {
		var line []byte
		for range r.IntN(30) {
			switch r.IntN(40) {
			case 0:
				line = append(line, long...)
			default:
				const alphabet = " ,\t\vab\xff\x89\xa0\r\f\x0e\x08\n"
				line = append(line, alphabet[r.IntN(len(alphabet))])
			}
		}
		if r.IntN(2) == 0 {
			line = line[:len(line):len(line)] // no bytes past the line to read
		}
		fields := make([]int, 2+r.IntN(3))
		for i := range fields {
			fields[i] = r.IntN(6)
		}
		if r.IntN(50) == 0 {
			fields = make([]int, MaxKeyParts+1+r.IntN(3)) // over MaxKeyParts: field by field
			for i := range fields {
				fields[i] = r.IntN(3)
			}
		}
		d := []Delimiter{Whitespace, ByteDelimiter(','), ByteDelimiter('a')}[r.IntN(3)]
		var want []byte
		ok := true
		for _, f := range fields {
			v, has := Field(line, f, d)
			if !has {
				ok = false
				break
			}
			want = AppendTuplePart(want, v)
		}
		k := &FieldsKey{Fields: fields, Delimiter: d, ValueField: 1 + r.IntN(3)}
		var sc Scratch
		x, err := k.Extract(line, &sc)
		if !ok {
			if !errors.Is(err, ErrMissingField) {
				t.Fatalf("line %q fields %v delimiter %v: err %v, want ErrMissingField", line, fields, d, err)
			}
		} else if err != nil || !bytes.Equal(x.Key, want) {
			t.Fatalf("line %q fields %v delimiter %v: key %q, %v; want %q", line, fields, d, x.Key, err, want)
		}
		// dst with spare capacity holding other bytes: only the key's
		// bytes may show.
		prefix := bytes.Repeat([]byte{'Z'}, 5+r.IntN(100))[:5]
		copy(prefix, "arena")
		var y Extraction
		got, err2 := k.extractAppend(prefix, line, &y)
		if !errors.Is(err2, err) || string(got[:5]) != "arena" {
			t.Fatalf("line %q fields %v: extractAppend err %v, Extract %v", line, fields, err2, err)
		}
		if err == nil && (!bytes.Equal(got[5:], x.Key) || y.Value != x.Value || y.HasValue != x.HasValue || y.BadValue != x.BadValue) {
			t.Fatalf("line %q fields %v: extractAppend %q %+v, Extract %q %+v", line, fields, got[5:], y, x.Key, x)
		}
		if err != nil && len(got) != 5 {
			t.Fatalf("line %q fields %v: extractAppend left %q on an error", line, fields, got)
		}
	}
}

// TestFieldsKeySourceAllocs: a warmed LineSource keying whitespace lines by
// a (group, value) pair of fields, as --by does, allocates nothing per
// record: the composite key goes straight into the batch's arena.
func TestFieldsKeySourceAllocs(t *testing.T) {
	var data []byte
	for i := range 50000 {
		data = fmt.Appendf(data, "/p/%d u%d\n", i%97, i%1009)
	}
	k, err := NewFieldsKey(Whitespace, 0, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := mustLineSource(t, bytes.NewReader(data), LineConfig{Extract: k})
	var b Batch
	if n := fillAllocs(t, s, &b, 256, 1); n != 0 {
		t.Errorf("%v allocation(s) a Fill of 256 records, want 0", n)
	}
	want := AppendTuplePart(AppendTuplePart(nil, []byte("/p/1")), []byte("u1"))
	b.Reset()
	s2 := mustLineSource(t, bytes.NewReader(data[len("/p/0 u0\n"):]), LineConfig{Extract: k})
	if err := s2.Fill(context.Background(), &b, 1); err != nil || !bytes.Equal(b.Key(0), want) {
		t.Errorf("first key %q, %v; want %q", b.Key(0), err, want)
	}
}
