package sampling

import (
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
)

// KeySampler encoding (inside the envelope, kind KeySampler, no payload):
//
//	shape[0] threshold t (math.MaxUint64 when every hash is kept)
//	shape[1] 1 if every hash is kept (p = 1), else 0
//	shape[2] 0
//	shape[3] 0
//
// A threshold below p = 1 is one SetP can produce: a float64 integer below
// 2^64 - 2^11.

// MarshalBinary implements encoding.BinaryMarshaler.
func (s KeySampler) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (s KeySampler) AppendBinary(dst []byte) ([]byte, error) {
	hdr := envelope.Header{Kind: envelope.KindKeySampler, HashID: envelope.HashXXH64}
	hdr.Shape[0] = s.t
	if s.all {
		hdr.Shape[1] = 1
	}
	dst, start := envelope.Begin(dst, hdr)
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. On error s is
// unchanged.
func (s *KeySampler) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindKeySampler)
	if err != nil {
		return fmt.Errorf("sampling: %w", err)
	}
	t, all := hdr.Shape[0], hdr.Shape[1]
	switch {
	case len(payload) != 0 || hdr.Shape[2] != 0 || hdr.Shape[3] != 0:
		return fmt.Errorf("sampling: KeySampler with a payload or extra shape: %w", ErrCorrupt)
	case all == 1:
		if t != math.MaxUint64 {
			return fmt.Errorf("sampling: KeySampler keeping all with threshold %d: %w", t, ErrCorrupt)
		}
	case all != 0:
		return fmt.Errorf("sampling: KeySampler flag %d: %w", all, ErrCorrupt)
	case !(float64(t) < 0x1p64) || uint64(float64(t)) != t:
		return fmt.Errorf("sampling: KeySampler threshold %d is no p·2^64: %w", t, ErrCorrupt)
	}
	s.t, s.all = t, all == 1
	return nil
}
