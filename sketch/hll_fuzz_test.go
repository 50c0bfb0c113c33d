package sketch

import (
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func FuzzUnmarshalHLL(f *testing.F) {
	for _, tc := range []struct{ p, n int }{{4, 0}, {4, 100}, {10, 50}, {10, 20000}, {14, 3}} {
		h := mustHLL(f, tc.p)
		for i := range tc.n {
			h.AddHash(itemHash(29, uint64(i)))
		}
		enc := mustMarshal(f, h)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		f.Add(envelope.Reseal(withByte(enc, 16, byte(tc.p+1))))
		if len(enc) > 70 {
			f.Add(envelope.Reseal(withByte(enc, 66, 0xff)))
		}
	}
	f.Add([]byte{})
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h HLL
		err := h.UnmarshalBinary(data)
		if err != nil {
			if !envelope.IsDecodeError(err) {
				t.Fatalf("error %v is not a documented sentinel", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same bytes and stays usable.
		again := mustMarshal(t, &h)
		if string(again) != string(data) {
			t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
		}
		e := h.Estimate()
		if !(e.Lower <= e.Value && e.Value <= e.Upper) {
			t.Fatalf("estimate outside its bounds: %v", e)
		}
		h.AddString("more")
		if err := h.Merge(&h); err != nil {
			t.Fatal(err)
		}
	})
}
