package sketch

import (
	"math"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func FuzzUnmarshalBloom(f *testing.F) {
	for _, tc := range []struct {
		m     uint64
		k     int
		items uint64
	}{{1, 1, 0}, {1, 1, 1}, {64, 3, 5}, {100, 3, 20}, {130, 5, 0}, {1000, 7, 100}} {
		b := mustBloomMK(f, tc.m, tc.k)
		fillBloom(b, 41, 0, tc.items)
		enc := mustMarshal(f, b)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		f.Add(flip(enc, len(enc)-5))
		f.Add(envelope.Reseal(withByte(enc, 16, byte(tc.m+1))))      // m disagrees with the payload
		f.Add(envelope.Reseal(withByte(enc, 24, byte(MaxBloomK+1)))) // k out of range
		f.Add(envelope.Reseal(withByte(enc, len(enc)-5, 0xff)))      // bits beyond m
	}
	f.Add([]byte{})
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Bloom
		err := b.UnmarshalBinary(data)
		if err != nil {
			if !envelope.IsDecodeError(err) {
				t.Fatalf("error %v is not a documented sentinel", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same bytes and stays usable.
		again := mustMarshal(t, &b)
		if string(again) != string(data) {
			t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
		}
		if fill := b.Fill(); !(fill >= 0 && fill <= 1) {
			t.Fatalf("fill %v", fill)
		}
		e := b.Estimate()
		if !(e.Lower <= e.Value && e.Value <= e.Upper) || math.IsNaN(e.Value) {
			t.Fatalf("estimate outside its bounds: %v", e)
		}
		c := b.Clone()
		b.AddString("more")
		if !b.TestString("more") {
			t.Fatal("decoded filter lost an item")
		}
		if err := c.Merge(&b); err != nil || !c.Equal(&b) {
			t.Fatalf("merge into a clone: %v", err)
		}
	})
}
