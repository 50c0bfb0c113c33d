package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestLineSourceMaxKeyLen: with a key length cap, every record is the
// record of the uncapped source with its key replaced by its capped form
// (and hashed as such), whatever the buffer and batch sizes, line endings,
// key field and value field, and whether the reader returns its last bytes
// with io.EOF (lsEOFWithData: the source then holds lines after a capped
// one with the input all read, where it used to stop).
func TestLineSourceMaxKeyLen(t *testing.T) {
	long := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	var in bytes.Buffer
	for i := range 400 {
		switch i % 9 {
		case 0:
			fmt.Fprintf(&in, "%s %d\n", long('a'+byte(i%3), 50+i), i)
		case 1:
			fmt.Fprintf(&in, "x%d %s %d\r\n", i, long('q', 10+i*7), i)
		case 2:
			in.WriteString("lonely\n")
		case 3:
			fmt.Fprintf(&in, "%s\n", long('z', 3000))
		default:
			fmt.Fprintf(&in, "k%d %d\n", i%5, i)
		}
	}
	in.WriteString(long('e', 700)) // last line, no newline
	data := in.Bytes()
	for _, cfg := range []LineConfig{
		{MaxKeyLen: 40, BufferSize: 16},
		{MaxKeyLen: 40, BufferSize: 4096},
		{MaxKeyLen: 40, BufferSize: 1 << 20}, // all in one read
		{MaxKeyLen: 1, BufferSize: 64, MaxBatchBytes: 100},
		{MaxKeyLen: 40, Field: 2, BufferSize: 32},
		{MaxKeyLen: 8, Field: 1, ValueField: 3, BufferSize: 128},
		{MaxKeyLen: 8, ValueField: 2, BufferSize: 128},
		{MaxKeyLen: 5000, BufferSize: 16}, // over every key
	} {
		for _, tc := range []struct {
			batch   int
			dataEOF bool
		}{{1, false}, {7, false}, {1000, false}, {7, true}, {1000, true}} {
			batch := tc.batch
			t.Run(fmt.Sprintf("cap=%d,field=%d,value=%d,buffer=%d,batch=%d,dataEOF=%t", cfg.MaxKeyLen, cfg.Field, cfg.ValueField, cfg.BufferSize, batch, tc.dataEOF), func(t *testing.T) {
				plain := cfg
				plain.MaxKeyLen = 0
				ref, err := NewLineSource(bytes.NewReader(data), plain)
				if err != nil {
					t.Fatal(err)
				}
				want := lsDrain(t, ref, batch)
				for i := range want {
					want[i].Key = string(AppendCappedKey(nil, []byte(want[i].Key), cfg.MaxKeyLen))
				}
				var r io.Reader = bytes.NewReader(data)
				if tc.dataEOF {
					r = &lsEOFWithData{data: data}
				}
				s, err := NewLineSource(r, cfg)
				if err != nil {
					t.Fatal(err)
				}
				got := lsDrain(t, s, batch) // checks each hash is the key's
				if len(got) != len(want) {
					t.Fatalf("got %d records, want %d", len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("record %d: got %.60q (value %v %v), want %.60q (value %v %v)", i,
							got[i].Key, got[i].Value, got[i].HasValue, want[i].Key, want[i].Value, want[i].HasValue)
					}
				}
				if s.Lines() != ref.Lines() || s.Skipped() != ref.Skipped() || s.BadValues() != ref.BadValues() || s.Offset() != int64(len(data)) {
					t.Fatalf("lines %d skipped %d bad %d offset %d; uncapped %d %d %d, %d bytes",
						s.Lines(), s.Skipped(), s.BadValues(), s.Offset(), ref.Lines(), ref.Skipped(), ref.BadValues(), len(data))
				}
			})
		}
	}
}

// TestCappedKey: the capped form keeps max bytes and names the whole key;
// ParseCappedKey reads it back and refuses every short key.
func TestCappedKey(t *testing.T) {
	key := []byte(strings.Repeat("0123456789", 10))
	form := AppendCappedKey(nil, key, 30)
	prefix, n, h, ok := ParseCappedKey(form, 30)
	if !ok || !bytes.Equal(prefix, key[:30]) || n != 100 || h != sketch.Hash(key) || len(form) != 30+CappedKeySuffix {
		t.Fatalf("form %q: %q %d %x %v", form, prefix, n, h, ok)
	}
	for _, k := range [][]byte{nil, key[:30], key[:46], key[:47]} {
		if f := AppendCappedKey(nil, k, 30); !bytes.Equal(f, k) && len(k) <= 30 {
			t.Errorf("key of %d bytes capped at 30: %q", len(k), f)
		}
		if _, _, _, ok := ParseCappedKey(k, 30); ok && len(k) <= 30 {
			t.Errorf("short key %q parsed as capped", k)
		}
	}
	// Another long key with the same first bytes has another form.
	other := bytes.Clone(key)
	other[99] = 'x'
	if bytes.Equal(AppendCappedKey(nil, other, 30), form) {
		t.Error("two keys share a capped form")
	}
	if _, err := NewLineSource(bytes.NewReader(nil), LineConfig{MaxKeyLen: -1}); !errors.Is(err, sketch.ErrInvalidParameter) {
		t.Errorf("negative cap: %v", err)
	}
}

// lsEOFWithData reads data as bytes.Reader does, but returns io.EOF with
// the last bytes rather than on the next call, as io.Reader allows.
type lsEOFWithData struct{ data []byte }

func (r *lsEOFWithData) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}
