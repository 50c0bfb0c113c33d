package envelope

import (
	"errors"
	"testing"
)

func encode(kind Kind, shape [4]uint64, payload []byte) []byte {
	b, start := Begin([]byte("prefix"), Header{Kind: kind, HashID: HashXXH64, Shape: shape})
	return End(append(b, payload...), start)[len("prefix"):]
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		shape   [4]uint64
		payload []byte
	}{
		{"empty payload", [4]uint64{}, nil},
		{"shape and payload", [4]uint64{1, 2, 3, 1 << 63}, []byte("payload bytes")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := encode(KindTopK, tc.shape, tc.payload)
			if len(enc) != Overhead+len(tc.payload) {
				t.Fatalf("encoding of %d bytes, want %d", len(enc), Overhead+len(tc.payload))
			}
			h, p, err := Decode(enc, KindTopK)
			if err != nil {
				t.Fatal(err)
			}
			if h.Kind != KindTopK || h.Shape != tc.shape || string(p) != string(tc.payload) {
				t.Errorf("decoded %+v %q", h, p)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := encode(KindHLL, [4]uint64{14}, []byte{1, 2, 3})
	mod := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"nil", nil, ErrTruncated},
		{"short magic", []byte("SS"), ErrTruncated},
		{"bad magic", []byte("JSON{...}"), ErrNotEncoding},
		{"header only", good[:HeaderSize], ErrTruncated},
		{"payload cut", good[:len(good)-2], ErrTruncated},
		{"trailing", append(append([]byte(nil), good...), 0), ErrCorrupt},
		{"version", mod(4, 2), ErrVersion},
		{"kind", mod(5, byte(KindBloom)), ErrKind},
		{"payload flipped", mod(HeaderSize, 9), ErrChecksum},
		{"huge length", mod(55, 0xff), ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Decode(tc.data, KindHLL); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReader(t *testing.T) {
	r := NewReader([]byte{1, 2, 0, 0, 0, 0x80})
	if r.U8() != 1 || r.U32() != 2 || r.Err != nil {
		t.Fatal("bad reads")
	}
	r.Uvarint() // 0x80 is an unfinished varint
	if !errors.Is(r.Done(), ErrCorrupt) {
		t.Errorf("Done() = %v, want ErrCorrupt", r.Done())
	}
	r = NewReader([]byte{1})
	if r.U64() != 0 || !errors.Is(r.Err, ErrCorrupt) || r.U8() != 0 {
		t.Errorf("read past the end: %v", r.Err)
	}
	if err := NewReader([]byte{1}).Done(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unread bytes: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(KindHLL, [4]uint64{14}, []byte{1, 2, 3}))
	f.Add(encode(KindCountMin, [4]uint64{}, nil))
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, p, err := Decode(data, KindHLL)
		if err != nil {
			for _, s := range []error{ErrTruncated, ErrNotEncoding, ErrVersion, ErrKind, ErrHash, ErrChecksum, ErrCorrupt} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("undocumented error %v", err)
		}
		if again := encode(h.Kind, h.Shape, p); string(again) != string(data) {
			t.Fatalf("decode/encode not canonical")
		}
	})
}
