package sampling

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
)

// Moments encoding (inside the envelope, kind Moments; the shape is all zero):
//
//	payload 64 bytes: count, NaNs, Infs (uint64), then the float64 bits of
//	        weight, mean hi, mean lo, M2, min, max
//
// Floats are written canonically: +0 for -0 and one NaN bit pattern, so equal
// state gives equal bytes; an empty Moments has every float 0.
const momentsPayload = 3*8 + 6*8

// canonicalNaNBits is the one NaN bit pattern written (math.NaN()'s).
var canonicalNaNBits = math.Float64bits(math.NaN())

func canonicalFloatBits(f float64) uint64 {
	if f != f {
		return canonicalNaNBits
	}
	return math.Float64bits(f + 0) // -0 -> +0
}

// isCanonicalFloatBits reports whether b is what canonicalFloatBits writes for some
// float64.
func isCanonicalFloatBits(b uint64) bool {
	f := math.Float64frombits(b)
	if f != f {
		return b == canonicalNaNBits
	}
	return b != 1<<63 // -0
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *Moments) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, envelope.Overhead+momentsPayload))
}

// AppendBinary implements encoding.BinaryAppender.
func (m *Moments) AppendBinary(dst []byte) ([]byte, error) {
	dst, start := envelope.Begin(dst, envelope.Header{Kind: envelope.KindMoments, HashID: envelope.HashXXH64})
	dst = binary.LittleEndian.AppendUint64(dst, m.n)
	dst = binary.LittleEndian.AppendUint64(dst, m.nans)
	dst = binary.LittleEndian.AppendUint64(dst, m.infs)
	for _, f := range [...]float64{m.w, m.meanHi, m.meanLo, m.m2, m.min, m.max} {
		dst = binary.LittleEndian.AppendUint64(dst, canonicalFloatBits(f))
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It accepts exactly
// the encodings AppendBinary writes; on error m is unchanged.
func (m *Moments) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindMoments)
	if err != nil {
		return fmt.Errorf("sampling: %w", err)
	}
	if hdr.Shape != [4]uint64{} {
		return fmt.Errorf("sampling: Moments shape %v, want all zero: %w", hdr.Shape, ErrCorrupt)
	}
	if len(payload) != momentsPayload {
		return fmt.Errorf("sampling: Moments payload of %d bytes, want %d: %w", len(payload), momentsPayload, ErrCorrupt)
	}
	r := envelope.NewReader(payload)
	var v Moments
	v.n, v.nans, v.infs = r.U64(), r.U64(), r.U64()
	fs := [...]*float64{&v.w, &v.meanHi, &v.meanLo, &v.m2, &v.min, &v.max}
	for i, f := range fs {
		b := r.U64()
		if !isCanonicalFloatBits(b) {
			return fmt.Errorf("sampling: Moments float %d has non-canonical bits %#x: %w", i, b, ErrCorrupt)
		}
		*f = math.Float64frombits(b)
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("sampling: Moments: %w", err)
	}
	if err := v.check(); err != nil {
		return fmt.Errorf("sampling: Moments: %w", err)
	}
	*m = v
	return nil
}

// check rejects states no sequence of updates can reach. It is lenient where
// float overflow can legitimately leave Inf or NaN behind (mean, M2, weight).
func (m *Moments) check() error {
	if m.n == 0 {
		if m.w != 0 || m.meanHi != 0 || m.meanLo != 0 || m.m2 != 0 || m.min != 0 || m.max != 0 {
			return fmt.Errorf("no observations but non-zero statistics: %w", ErrCorrupt)
		}
		return nil
	}
	switch {
	case !(m.w > 0):
		return fmt.Errorf("weight %v with %d observations: %w", m.w, m.n, ErrCorrupt)
	case m.m2 < 0:
		return fmt.Errorf("negative sum of squares %v: %w", m.m2, ErrCorrupt)
	case math.IsNaN(m.min) || math.IsInf(m.min, 0) || math.IsNaN(m.max) || math.IsInf(m.max, 0) || m.min > m.max:
		return fmt.Errorf("min %v, max %v: %w", m.min, m.max, ErrCorrupt)
	}
	return nil
}
