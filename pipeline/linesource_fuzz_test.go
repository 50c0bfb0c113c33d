package pipeline

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
)

// FuzzLineSource feeds arbitrary bytes through a LineSource with small,
// varying buffers, read sizes and batch sizes, and compares its records
// with the reference split (lsRef: split on '\n', strip one '\r') and, when
// a field is selected, with refField on each reference line; and the same
// bytes lent (Lender) in pieces of random sizes.
func FuzzLineSource(f *testing.F) {
	for _, s := range []string{
		"", "\n", "\r\n", "a", "a\n", "a\r", "a\r\n", "\n\n\n", "a\nb", "x\r\r\n",
		"\x00\xff\n\xfe", "a,b\n,c\r\n\nd", "  k  v \n\tk2 1.5\n",
	} {
		f.Add([]byte(s), uint8(1), uint8(1), uint8(1), uint8(0), byte(','), false)
		f.Add([]byte(s), uint8(3), uint8(5), uint8(2), uint8(2), byte(','), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, buf, chunk, max, field uint8, delim byte, ws bool) {
		d := ByteDelimiter(delim)
		if ws || delim == '\n' {
			d = Whitespace
		}
		cfg := LineConfig{BufferSize: 1 + int(buf%64), Field: int(field % 4), Delimiter: d}
		s, err := NewLineSource(&lsChunkReader{data: data, k: 1 + int(chunk%32)}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lsDrainErr(s, 1+int(max%16))
		if err != nil {
			t.Fatal(err)
		}
		lines := lsRef(data)
		var want []string
		for _, l := range lines {
			if k, ok := refField(l, cfg.Field, d); ok {
				want = append(want, k)
			}
		}
		if keys := lsKeys(got); !lsEqual(keys, want) {
			t.Fatalf("%+v on %q: got %q, want %q", cfg, data, keys, want)
		}
		// The same bytes lent in pieces of 0 to 32 bytes (Lender).
		l := &lsLender{data: data, r: rand.New(rand.NewPCG(uint64(chunk), uint64(max))), maxPiece: 1 + int(chunk%32), dataEOF: ws}
		ls, err := NewLineSource(l, cfg)
		if err != nil {
			t.Fatal(err)
		}
		lent, err := lsDrainErr(ls, 1+int(max%16))
		if err != nil {
			t.Fatal(err)
		}
		if keys := lsKeys(lent); !lsEqual(keys, want) {
			t.Fatalf("%+v on %q lent in pieces of up to %d: got %q, want %q", cfg, data, 1+chunk%32, keys, want)
		}
		// Resume after the first stop records from Position: the rest
		// must follow, so records are neither lost nor repeated.
		stop := int(chunk) % (len(want) + 1)
		first, err := NewLineSource(bytes.NewReader(data), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		for b.Len() < stop {
			err := first.Fill(context.Background(), &b, stop-b.Len())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Fill: %v", err)
			}
		}
		second, err := NewLineSource(lsNoSeek{bytes.NewReader(data)}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := second.SetPosition(first.Position()); err != nil {
			t.Fatal(err)
		}
		rest, err := lsDrainErr(second, 3)
		if err != nil {
			t.Fatal(err)
		}
		if keys := lsKeys(rest); !lsEqual(keys, want[stop:]) {
			t.Fatalf("%q resumed at %d after %d records: got %q, want %q", data, first.Position(), stop, keys, want[stop:])
		}
		if s.Lines() != int64(len(lines)) || s.Skipped() != int64(len(lines)-len(want)) ||
			s.Offset() != int64(len(data)) || s.Bytes() != int64(len(data)) {
			t.Fatalf("%q: Lines %d Skipped %d Offset %d Bytes %d; want %d, %d, %d, %d",
				data, s.Lines(), s.Skipped(), s.Offset(), s.Bytes(), len(lines), len(lines)-len(want), len(data), len(data))
		}
	})
}
