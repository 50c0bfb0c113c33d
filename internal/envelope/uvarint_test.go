package envelope

import (
	"errors"
	"testing"
)

// TestMinimalUvarint: the shortest encoding reads; a longer one of the
// same value (0x81 0x00 for 1) and an unfinished one are ErrCorrupt.
func TestMinimalUvarint(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want uint64
		err  bool
	}{
		{"one byte", []byte{0x05}, 5, false},
		{"two bytes", []byte{0x80, 0x01}, 128, false},
		{"padded 1", []byte{0x81, 0x00}, 0, true},
		{"padded 0", []byte{0x80, 0x80, 0x00}, 0, true},
		{"unfinished", []byte{0x80}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in)
			got := r.MinimalUvarint()
			if tc.err {
				if !errors.Is(r.Err, ErrCorrupt) {
					t.Errorf("error %v, want ErrCorrupt", r.Err)
				}
				return
			}
			if r.Err != nil || got != tc.want || r.Len() != 0 {
				t.Errorf("got %d, error %v, %d bytes left; want %d", got, r.Err, r.Len(), tc.want)
			}
		})
	}
}
