package pipeline

import (
	"bytes"
	"errors"
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
