package sketch

import (
	"encoding/binary"
	"fmt"

	"github.com/axiomhq/hyperloglog"
	"github.com/streamstat/streamstat/internal/envelope"
)

// HLL encoding (inside the envelope, kind HLL):
//
//	shape[0] precision p
//	shape[1] representation: 0 sparse, 1 dense
//	shape[2] sparse: number of keys; dense: 0
//	shape[3] sparse: the last (largest) key; dense: 0
//	payload  sparse: the sorted keys as minimal uvarint deltas
//	         dense:  2^p register bytes
//
// Sparse keys are axiomhq's 25-bit bucket encodings. The sketch is compacted
// before it is written, and a sparse form is written only while it is no
// longer than the dense one (axiomhq's own rule), so equal state gives equal
// bytes.
const (
	hllSparse = 0
	hllDense  = 1
)

// MarshalBinary implements encoding.BinaryMarshaler.
func (h *HLL) MarshalBinary() ([]byte, error) { return h.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (h *HLL) AppendBinary(dst []byte) ([]byte, error) {
	regs, keys, stream, last := h.state()
	hdr := envelope.Header{Kind: envelope.KindHLL, HashID: envelope.HashXXH64}
	hdr.Shape[0] = uint64(h.p)
	payload := regs
	if regs == nil {
		hdr.Shape[2], hdr.Shape[3] = uint64(keys), uint64(last)
		payload = stream
	} else {
		hdr.Shape[1] = hllDense
	}
	dst, start := envelope.Begin(dst, hdr)
	dst = append(dst, payload...)
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. On error h is
// unchanged.
func (h *HLL) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindHLL)
	if err != nil {
		return fmt.Errorf("sketch: %w", err)
	}
	p, repr := hdr.Shape[0], hdr.Shape[1]
	if p < MinPrecision || p > MaxPrecision {
		return fmt.Errorf("sketch: HLL precision %d outside [%d, %d]: %w", p, MinPrecision, MaxPrecision, ErrCorrupt)
	}
	m := uint64(1) << p
	// Rebuild axiomhq's version 2 encoding and let its validating decoder
	// check keys and registers.
	var blob []byte
	switch repr {
	case hllDense:
		if uint64(len(payload)) != m || hdr.Shape[2] != 0 || hdr.Shape[3] != 0 {
			return fmt.Errorf("sketch: HLL dense payload of %d bytes, want %d: %w", len(payload), m, ErrCorrupt)
		}
		blob = make([]byte, 8, 8+m)
		blob[0], blob[1] = 2, byte(p)
		binary.BigEndian.PutUint32(blob[4:], uint32(m))
		blob = append(blob, payload...)
	case hllSparse:
		if uint64(len(payload)) > m {
			return fmt.Errorf("sketch: HLL sparse payload of %d bytes exceeds the dense size %d: %w", len(payload), m, ErrCorrupt)
		}
		if hdr.Shape[2] >= 1<<sparsePrecision || hdr.Shape[3] >= 1<<32 {
			return fmt.Errorf("sketch: HLL sparse key count %d or last key %d out of range: %w", hdr.Shape[2], hdr.Shape[3], ErrCorrupt)
		}
		blob = make([]byte, 20, 20+len(payload))
		blob[0], blob[1], blob[3] = 2, byte(p), 1
		binary.BigEndian.PutUint32(blob[8:], uint32(hdr.Shape[2]))
		binary.BigEndian.PutUint32(blob[12:], uint32(hdr.Shape[3]))
		binary.BigEndian.PutUint32(blob[16:], uint32(len(payload)))
		blob = append(blob, payload...)
	default:
		return fmt.Errorf("sketch: HLL representation %d: %w", repr, ErrCorrupt)
	}
	sk := new(hyperloglog.Sketch)
	if err := sk.UnmarshalBinary(blob); err != nil {
		return fmt.Errorf("sketch: HLL payload: %v: %w", err, ErrCorrupt)
	}
	h.sk, h.p = sk, uint8(p)
	return nil
}
