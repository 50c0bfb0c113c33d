package sketch

import (
	"bytes"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func FuzzUnmarshalGroupDistinct(f *testing.F) {
	for _, tc := range []struct{ k, groups, n int }{{16, 1, 0}, {16, 3, 10}, {16, 5, 200}, {64, 20, 1000}} {
		gd := gdFeed(f, tc.k, gdStream(11, zipfSizes(tc.groups, tc.n, 1))[:tc.n])
		enc := mustMarshal(f, gd)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		f.Add(envelope.Reseal(withByte(enc, 40, byte(tc.groups+1))))
		if len(enc) > 70 {
			f.Add(envelope.Reseal(withByte(enc, 66, 0xff)))
		}
	}
	f.Add([]byte{})
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var gd GroupDistinct
		err := gd.UnmarshalBinary(data)
		if err != nil {
			if !envelope.IsDecodeError(err) {
				t.Fatalf("error %v is not a documented sentinel", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same bytes and stays usable.
		if again := mustMarshal(t, &gd); !bytes.Equal(again, data) {
			t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
		}
		for _, c := range gd.Top(3) {
			if e := c.Estimate; !(e.Lower <= e.Value && e.Value <= e.Upper) {
				t.Fatalf("estimate outside its bounds: %v", e)
			}
		}
		c := gd.Clone()
		for i := range 50 {
			gd.AddString("more", string(rune('a'+i%26)))
		}
		if err := gd.Merge(c); err != nil {
			t.Fatal(err)
		}
	})
}
