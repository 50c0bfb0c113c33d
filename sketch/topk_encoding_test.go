package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// TestTopKRoundTrip checks that decode(encode(x)) re-encodes to the same
// bytes and then evolves exactly like x: the same further updates (with
// replacements, weights, merges) give the same bytes at every step. Clone
// must do the same.
func TestTopKRoundTrip(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 19))
		k, u := 1+r.IntN(40), 1+r.IntN(200)
		x := topkNew(t, k)
		other := topkNew(t, k)
		step := func(s *TopK, r *rand.Rand) {
			key := topkKey(int(r.ExpFloat64() * float64(u) / 5))
			w := uint64(1)
			if r.IntN(10) == 0 {
				w = uint64(r.IntN(30))
			}
			s.AddHash(HashString(key), []byte(key), w)
		}
		for range 1000 {
			step(x, r)
			step(other, r)
		}
		enc := topkMarshal(t, x)
		var y TopK
		if err := y.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if err := topkCheck(&y); err != nil {
			t.Fatal(err)
		}
		if again := topkMarshal(t, &y); !bytes.Equal(again, enc) {
			t.Fatal("decode/encode is not the identity")
		}
		c := x.Clone()
		for _, s := range []*TopK{x, &y, c} {
			if s.Len() != x.Len() || s.Total() != x.Total() || s.Capacity() != x.Capacity() || s.MinCount() != x.MinCount() {
				t.Fatal("Len, Total, Capacity or MinCount differ after the round trip")
			}
		}
		for round := range uint64(10) {
			for _, s := range []*TopK{x, &y, c} {
				r := rand.New(rand.NewPCG(seed, 1000+round))
				for range 200 {
					step(s, r)
				}
				if round%3 == 2 {
					if err := s.Merge(other); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := topkMarshal(t, x)
			if !bytes.Equal(topkMarshal(t, &y), want) || !bytes.Equal(topkMarshal(t, c), want) {
				t.Fatalf("seed %d round %d: decoded or cloned sketch diverged from the original", seed, round)
			}
		}
	}
}

// TestTopKEncodingCanonical: states built differently (different table
// layouts, key storage and counter slots) but equal encode equally, and the
// layout follows the documented order.
func TestTopKEncodingCanonical(t *testing.T) {
	s := topkNew(t, 3)
	for _, k := range []string{"bb", "a", "ccc", "a", "dd"} { // dd replaces bb
		s.AddString(k)
	}
	enc := topkMarshal(t, s)
	want := envelopeOf(t, uint8(envelope.KindTopK), [4]uint64{3, 3, 5, 0}, []byte{
		1, 'a', 2, 0,
		2, 'd', 'd', 2, 1, // replaced bb: error 1
		3, 'c', 'c', 'c', 1, 0,
	})
	if !bytes.Equal(enc, want) {
		t.Fatalf("encoding\n got %x\nwant %x", enc, want)
	}
	var z TopK
	if got, want := topkMarshal(t, &z), envelopeOf(t, uint8(envelope.KindTopK), [4]uint64{DefaultTopKCapacity, 0, 0, 0}, nil); !bytes.Equal(got, want) {
		t.Fatalf("zero value encodes as %x", got)
	}
}

// topkPayload builds a TopK payload from (key, count, error) triples.
func topkPayload(entries ...any) []byte {
	var p []byte
	for i := 0; i < len(entries); i += 3 {
		key := entries[i].(string)
		p = binary.AppendUvarint(p, uint64(len(key)))
		p = append(p, key...)
		p = binary.AppendUvarint(p, uint64(entries[i+1].(int)))
		p = binary.AppendUvarint(p, uint64(entries[i+2].(int)))
	}
	return p
}

func TestTopKUnmarshalErrors(t *testing.T) {
	kind := uint8(envelope.KindTopK)
	good := topkNew(t, 4)
	for i := range 30 {
		good.AddString(strconv.Itoa(i % 7))
	}
	enc := topkMarshal(t, good)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty input", nil, ErrTruncated},
		{"truncated", enc[:len(enc)-5], ErrTruncated},
		{"bit flipped", topkFlip(enc, 70), ErrChecksum},
		{"HLL encoding", envelopeOf(t, uint8(envelope.KindHLL), [4]uint64{4}, nil), ErrKind},
		{"capacity 0", envelopeOf(t, kind, [4]uint64{0, 0, 0, 0}, nil), ErrCorrupt},
		{"capacity above the maximum", envelopeOf(t, kind, [4]uint64{MaxTopKCapacity + 1, 0, 0, 0}, nil), ErrCorrupt},
		{"huge capacity, no entries", envelopeOf(t, kind, [4]uint64{1 << 62, 0, 0, 0}, nil), ErrCorrupt},
		{"more entries than capacity", envelopeOf(t, kind, [4]uint64{1, 2, 2, 0}, topkPayload("a", 1, 0, "b", 1, 0)), ErrCorrupt},
		{"shape[3] set", envelopeOf(t, kind, [4]uint64{2, 0, 0, 1}, nil), ErrCorrupt},
		{"entry count beyond the payload", envelopeOf(t, kind, [4]uint64{MaxTopKCapacity, 1 << 20, 1, 0}, topkPayload("a", 1, 0)), ErrCorrupt},
		{"key beyond the payload", envelopeOf(t, kind, [4]uint64{2, 1, 1, 0}, []byte{9, 'a', 1}), ErrCorrupt},
		{"entry cut short", envelopeOf(t, kind, [4]uint64{2, 1, 1, 0}, []byte{1, 'a', 1}), ErrCorrupt},
		{"zero count", envelopeOf(t, kind, [4]uint64{2, 1, 0, 0}, topkPayload("a", 0, 0)), ErrCorrupt},
		{"increasing counts", envelopeOf(t, kind, [4]uint64{2, 2, 3, 0}, topkPayload("a", 1, 0, "b", 2, 0)), ErrCorrupt},
		{"error above count", envelopeOf(t, kind, [4]uint64{1, 1, 5, 0}, topkPayload("a", 2, 3)), ErrCorrupt},
		{"duplicate key", envelopeOf(t, kind, [4]uint64{2, 2, 2, 0}, topkPayload("a", 1, 0, "a", 1, 0)), ErrCorrupt},
		{"counts above the total", envelopeOf(t, kind, [4]uint64{2, 2, 2, 0}, topkPayload("a", 2, 0, "b", 1, 0)), ErrCorrupt},
		{"not full with an error", envelopeOf(t, kind, [4]uint64{3, 2, 3, 0}, topkPayload("a", 2, 1, "b", 1, 0)), ErrCorrupt},
		{"not full, counts below the total", envelopeOf(t, kind, [4]uint64{3, 2, 4, 0}, topkPayload("a", 2, 0, "b", 1, 0)), ErrCorrupt},
		{"full, error above the minimum", envelopeOf(t, kind, [4]uint64{2, 2, 9, 0}, topkPayload("a", 5, 3, "b", 2, 0)), ErrCorrupt},
		{"non-minimal varint", envelopeOf(t, kind, [4]uint64{2, 1, 1, 0}, []byte{1, 'a', 0x81, 0x00, 0}), ErrCorrupt},
		{"trailing payload", envelopeOf(t, kind, [4]uint64{2, 1, 1, 0}, append(topkPayload("a", 1, 0), 0)), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good.Clone()
			err := s.UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !bytes.Equal(topkMarshal(t, s), enc) {
				t.Fatal("failed decode changed the sketch")
			}
		})
	}
	// Accepted edge cases: a full sketch whose errors reach the minimum,
	// and the empty key.
	for name, data := range map[string][]byte{
		"full, error at the minimum": envelopeOf(t, kind, [4]uint64{2, 2, 9, 0}, topkPayload("a", 5, 2, "b", 2, 2)),
		"empty key":                  envelopeOf(t, kind, [4]uint64{2, 1, 3, 0}, topkPayload("", 3, 0)),
	} {
		var s TopK
		if err := s.UnmarshalBinary(data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(topkMarshal(t, &s), data) {
			t.Fatalf("%s: not re-encoded identically", name)
		}
	}
}

func topkFlip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x10
	return c
}
