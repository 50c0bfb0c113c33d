package sampling

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
)

// Reservoir encoding (inside the envelope, kind Reservoir):
//
//	shape[0] k, the reservoir size
//	shape[1] n, items seen
//	shape[2] m, items held: min(n, k)
//	shape[3] 0
//	payload  next    uint64: index of the next item to keep (0 while filling)
//	         W       float64 bits (0 while filling, else in (0, 1])
//	         pcg hi  uint64 \ the generator state, as math/rand/v2's
//	         pcg lo  uint64 / PCG.MarshalBinary holds it
//	         m items, each a minimal uvarint length and the Codec's bytes,
//	         in slot order (the order is state: replacements pick a slot)
//
// Every field is state, so equal state gives equal bytes, and a decoded
// reservoir continues exactly as the encoded one would have.
const reservoirFixed = 32 // payload bytes before the items

// MarshalBinary implements encoding.BinaryMarshaler. Items are encoded with
// the codec set by SetCodec, or T's ready-made one (see Codec).
func (r *Reservoir[T]) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (r *Reservoir[T]) AppendBinary(dst []byte) ([]byte, error) {
	c, err := codecFor(r.codec, "Reservoir")
	if err != nil {
		return dst, err
	}
	hdr := envelope.Header{Kind: envelope.KindReservoir, HashID: envelope.HashXXH64,
		Shape: [4]uint64{uint64(r.k), r.n, uint64(len(r.items)), 0}}
	dst, start := envelope.Begin(dst, hdr)
	hi, lo := pcgState(&r.rng)
	dst = binary.LittleEndian.AppendUint64(dst, r.next)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.w))
	dst = binary.LittleEndian.AppendUint64(dst, hi)
	dst = binary.LittleEndian.AppendUint64(dst, lo)
	dst = appendItems(dst, c, r.items)
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces r's
// whole state, generator included, keeping only its codec. On error r is
// unchanged.
func (r *Reservoir[T]) UnmarshalBinary(data []byte) error {
	c, err := codecFor(r.codec, "Reservoir")
	if err != nil {
		return err
	}
	hdr, payload, err := envelope.Decode(data, envelope.KindReservoir)
	if err != nil {
		return fmt.Errorf("sampling: %w", err)
	}
	k, n, m := hdr.Shape[0], hdr.Shape[1], hdr.Shape[2]
	switch {
	case k > math.MaxInt:
		return fmt.Errorf("sampling: Reservoir size %d too large: %w", k, ErrCorrupt)
	case m != min(n, k) || hdr.Shape[3] != 0:
		return fmt.Errorf("sampling: Reservoir holds %d items, want min(count %d, size %d): %w", m, n, k, ErrCorrupt)
	case uint64(len(payload)) < reservoirFixed+m: // every item has at least its length byte
		return fmt.Errorf("sampling: Reservoir of %d items in a %d-byte payload: %w", m, len(payload), ErrCorrupt)
	}
	rd := envelope.NewReader(payload)
	next, wbits, hi, lo := rd.U64(), rd.U64(), rd.U64(), rd.U64()
	w := math.Float64frombits(wbits)
	if k == 0 || n < k {
		if next != 0 || wbits != 0 {
			return fmt.Errorf("sampling: Reservoir still filling with next %d, W %v: %w", next, w, ErrCorrupt)
		}
	} else if !(w > 0 && w <= 1) || (next <= n && next != math.MaxUint64) {
		return fmt.Errorf("sampling: Reservoir W %v or next %d (count %d) out of range: %w", w, next, n, ErrCorrupt)
	}
	items, err := readItems(rd, c, int(m), int(k))
	if err != nil {
		return fmt.Errorf("sampling: Reservoir: %w", err)
	}
	r.k, r.n, r.next, r.w, r.items = int(k), n, next, w, items
	pcgRestore(&r.rng, hi, lo)
	return nil
}

// readItems reads m length-prefixed items, then checks that the payload is
// used up. The slice has room for k items when that costs no more than what
// the payload already justifies, so a restored sampler fills without
// reallocating; otherwise append grows it.
func readItems[T any](rd *envelope.Reader, c Codec[T], m, k int) ([]T, error) {
	items := make([]T, 0, max(m, min(k, rd.Len())))
	for range m {
		v, err := readItem(rd, c)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	if err := rd.Done(); err != nil {
		return nil, err
	}
	return items, nil
}

func readItem[T any](rd *envelope.Reader, c Codec[T]) (T, error) {
	var zero T
	before := rd.Len()
	l := rd.Uvarint()
	if rd.Err != nil {
		return zero, rd.Err
	}
	var lb [binary.MaxVarintLen64]byte
	if before-rd.Len() != binary.PutUvarint(lb[:], l) {
		return zero, fmt.Errorf("item length %d not minimally encoded: %w", l, ErrCorrupt)
	}
	if l > uint64(rd.Len()) {
		return zero, fmt.Errorf("item of %d bytes, %d left: %w", l, rd.Len(), ErrCorrupt)
	}
	b := rd.Bytes(int(l))
	v, err := c.DecodeItem(b)
	if err != nil {
		return zero, fmt.Errorf("item: %v: %w", err, ErrCorrupt)
	}
	return v, nil
}
