package sketch

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// topkDecodeErrors are the sentinels UnmarshalBinary may return.
var topkDecodeErrors = []error{ErrTruncated, ErrNotEncoding, ErrVersion, ErrKind, ErrHash, ErrChecksum, ErrCorrupt}

func FuzzUnmarshalTopK(f *testing.F) {
	for _, tc := range []struct{ k, n, u int }{{1, 0, 1}, {1, 5, 3}, {3, 2, 10}, {4, 40, 9}, {8, 200, 50}, {16, 100, 10}} {
		s := topkNew(f, tc.k)
		for i := range tc.n {
			key := topkKey(i * i % tc.u)
			s.AddHash(HashString(key), []byte(key), 1+uint64(i%3))
		}
		enc := topkMarshal(f, s)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		f.Add(envelope.Reseal(topkFlip(enc, 16)))
		if len(enc) > 62 {
			f.Add(envelope.Reseal(topkFlip(enc, len(enc)-6)))
			f.Add(envelope.Reseal(topkFlip(enc, 58)))
		}
	}
	f.Add([]byte{})
	f.Add([]byte("SSTK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topkFuzzDecode(t, data)
		// The checksum stops almost every mutation at the door: try the
		// input again with a valid one, so that mutations reach the parser.
		if len(data) >= envelope.Overhead {
			topkFuzzDecode(t, envelope.Reseal(bytes.Clone(data)))
		}
	})
}

func topkFuzzDecode(t *testing.T, data []byte) {
	var s TopK
	err := s.UnmarshalBinary(data)
	if err != nil {
		for _, e := range topkDecodeErrors {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("error %v is not a documented sentinel", err)
	}
	// Whatever decodes re-encodes to the same bytes, holds the invariants,
	// and stays usable.
	if again := topkMarshal(t, &s); !bytes.Equal(again, data) {
		t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
	}
	if err := topkCheck(&s); err != nil {
		t.Fatal(err)
	}
	for _, it := range s.Top(s.Len() + 1) {
		if it.Lower > it.Upper || it.Error > s.MinCount() && s.Len() == s.Capacity() {
			t.Fatalf("item %+v, MinCount %d", it, s.MinCount())
		}
	}
	c := s.Clone()
	for i := range 5 {
		s.AddString(strconv.Itoa(i))
	}
	if err := s.Merge(c); err != nil {
		t.Fatal(err)
	}
	if err := topkCheck(&s); err != nil {
		t.Fatal(err)
	}
}
