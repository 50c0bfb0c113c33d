package sketch

import (
	"bytes"
	"errors"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// cmDecodeErrors are the sentinels CountMin.UnmarshalBinary may return.
var cmDecodeErrors = []error{ErrTruncated, ErrNotEncoding, ErrVersion, ErrKind, ErrHash, ErrChecksum, ErrCorrupt}

func FuzzUnmarshalCountMin(f *testing.F) {
	for _, tc := range []struct {
		w, d, n      int
		conservative bool
	}{{1, 1, 0, true}, {1, 3, 5, false}, {8, 2, 40, true}, {16, 3, 1000, false}, {64, 4, 300, true}, {4, 20, 50, true}} {
		c := mustCountMinWD(f, tc.w, tc.d)
		c.SetConservative(tc.conservative)
		for i := range tc.n {
			c.AddHash(cmKeyHash(uint64(i%37)), uint64(1+i%200))
		}
		enc := cmMarshal(f, c)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		for _, i := range []int{16, 24, 32, 40, 56, len(enc) - 6} {
			b := bytes.Clone(enc)
			b[i] ^= 0x81
			f.Add(envelope.Reseal(b))
		}
	}
	f.Add([]byte{})
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCountMinDecode(t, data)
		// Random mutations almost always break the checksum; fix it up so
		// that the fuzzer also reaches the shape and payload checks.
		if len(data) >= 60 {
			checkCountMinDecode(t, envelope.Reseal(bytes.Clone(data)))
		}
	})
}

func checkCountMinDecode(t *testing.T, data []byte) {
	var c CountMin
	err := c.UnmarshalBinary(data)
	if err != nil {
		for _, s := range cmDecodeErrors {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error %v is not a documented sentinel", err)
	}
	// Whatever decodes re-encodes to the same bytes and stays usable.
	if again := cmMarshal(t, &c); !bytes.Equal(again, data) {
		t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
	}
	for _, h := range []uint64{0, 1, 0x9e3779b97f4a7c15, ^uint64(0)} {
		e := c.EstimateHash(h)
		if !(e.Lower <= e.Value && e.Value <= e.Upper) || e.Value > float64(c.Total()) {
			t.Fatalf("estimate %v outside its bounds or above the total %d", e, c.Total())
		}
	}
	c.AddString("more", 3)
	if err := c.Merge(&c); err != nil {
		t.Fatal(err)
	}
	if e := c.EstimateString("more"); e.Value < 6 {
		t.Fatalf("after add and self-merge: %v, want >= 6", e)
	}
}
