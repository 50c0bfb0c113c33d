package pipeline

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestExtractMaxKeyLen: an extracted key over LineConfig.MaxKeyLen becomes
// its capped form, as a field's would.
func TestExtractMaxKeyLen(t *testing.T) {
	long := strings.Repeat("x", 40)
	data := `{"k":"short"}` + "\n" + `{"k":"` + long + `"}` + "\n"
	k, err := NewJSONKey("", "k")
	if err != nil {
		t.Fatal(err)
	}
	s := mustLineSource(t, strings.NewReader(data), LineConfig{Extract: k, MaxKeyLen: 8})
	got := lsKeys(lsDrain(t, s, 10))
	want := []string{"short", string(AppendCappedKey(nil, []byte(long), 8))}
	if !lsEqual(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
}

// TestExtractConsumedAndResume: with an extractor, Consumed gets every
// byte moved past, and a source resumed at an Offset taken mid-stream (a
// record start, even inside CSV records spanning lines) yields the
// records the first one had not.
func TestExtractConsumedAndResume(t *testing.T) {
	data := "a,\"1\n2\"\n\nb,\"x\"\"y\"\r\n\"c\nc\",3\nbad\"q\nd,4"
	k, err := NewCSVKey(',', false, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var seen bytes.Buffer
	s := mustLineSource(t, strings.NewReader(data), LineConfig{Extract: k, Consumed: &seen, BufferSize: 3})
	all := lsKeys(lsDrain(t, s, 1))
	if seen.String() != data {
		t.Errorf("Consumed saw %q, want the whole input", seen.String())
	}
	if want := []string{"a", "b", "c\nc"}; !lsEqual(all, want) || s.Skipped() != 1 {
		t.Fatalf("records %q (skipped %d), want %q and 1 skipped", all, s.Skipped(), want)
	}
	for cut := 1; cut < len(all); cut++ {
		first := mustLineSource(t, strings.NewReader(data), LineConfig{Extract: k})
		var b Batch
		if err := first.Fill(t.Context(), &b, cut); err != nil {
			t.Fatal(err)
		}
		off := first.Offset()
		again := mustLineSource(t, strings.NewReader(data), LineConfig{Extract: k})
		if err := again.SetPosition(off); err != nil {
			t.Fatal(err)
		}
		rest := lsKeys(lsDrain(t, again, 10))
		if !lsEqual(rest, all[cut:]) {
			t.Errorf("resumed at %d after %d records: %q, want %q", off, cut, rest, all[cut:])
		}
	}
}

func TestParseKeyColumns(t *testing.T) {
	header := []string{"id", "name", "name", "a,b"}
	for _, tc := range []struct {
		spec   string
		header []string
		want   []int
		err    error
	}{
		{"3", nil, []int{3}, nil},
		{"1,3", nil, []int{1, 3}, nil},
		{"name,name[2]", header, []int{2, 3}, nil},
		{"id,4", header, []int{1, 4}, nil},
		{"name", nil, nil, sketch.ErrInvalidParameter},
		{"0", nil, nil, sketch.ErrInvalidParameter},
		{"1,,2", nil, nil, sketch.ErrInvalidParameter},
		{"nope", header, nil, ErrMissingField},
	} {
		got, err := ParseKeyColumns(tc.spec, tc.header)
		if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("spec=%q header=%q: %v, %v; want %v, %v", tc.spec, tc.header, got, err, tc.want, tc.err)
		}
	}
}
