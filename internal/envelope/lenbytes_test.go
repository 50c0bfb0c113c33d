package envelope

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestReaderLenBytes(t *testing.T) {
	b := append(binary.AppendUvarint(nil, 3), "abc"...)
	b = append(binary.AppendUvarint(b, 0), 7)
	r := NewReader(b)
	if got := string(r.LenBytes()); got != "abc" {
		t.Fatalf("first field %q, want %q", got, "abc")
	}
	if got := r.LenBytes(); len(got) != 0 || r.Err != nil {
		t.Fatalf("empty field %q, err %v", got, r.Err)
	}
	if r.U8() != 7 || r.Done() != nil {
		t.Fatalf("bytes after the fields misread: %v", r.Err)
	}

	// A length past the payload, even one that overflows int, is
	// ErrCorrupt, not a panic.
	for _, n := range []uint64{4, math.MaxUint64} {
		r := NewReader(append(binary.AppendUvarint(nil, n), "abc"...))
		if got := r.LenBytes(); got != nil || !errors.Is(r.Err, ErrCorrupt) {
			t.Errorf("length %d over 3 bytes: got %q, err %v; want ErrCorrupt", n, got, r.Err)
		}
	}
}
