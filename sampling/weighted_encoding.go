package sampling

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
)

// WeightedReservoir encoding (inside the envelope, kind WeightedReservoir):
//
//	shape[0] k, the sampler size
//	shape[1] n, items seen
//	shape[2] m, items held (m <= k, m <= n)
//	shape[3] 0
//	payload  total   float64 bits: weight of the sampleable items seen
//	         x       float64 bits: weight left to skip (0 while m < k)
//	         pcg hi  uint64 \ the generator state, as math/rand/v2's
//	         pcg lo  uint64 / PCG.MarshalBinary holds it
//	         m entries in heap order, each:
//	           key   float64 bits, log(u)/w, sign bit set, never NaN
//	           item  minimal uvarint length and the Codec's bytes
//
// The heap layout is written as it is, because it is state: which of two
// equal keys is evicted first depends on it. The decoder checks the heap
// order, so a decoded sampler continues exactly as the encoded one would.
const weightedFixed = 32 // payload bytes before the entries

// MarshalBinary implements encoding.BinaryMarshaler. Items are encoded with
// the codec set by SetCodec, or T's ready-made one (see Codec).
func (r *WeightedReservoir[T]) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (r *WeightedReservoir[T]) AppendBinary(dst []byte) ([]byte, error) {
	c, err := codecFor(r.codec, "WeightedReservoir")
	if err != nil {
		return dst, err
	}
	hdr := envelope.Header{Kind: envelope.KindWeightedReservoir, HashID: envelope.HashXXH64,
		Shape: [4]uint64{uint64(r.k), r.n, uint64(len(r.heap)), 0}}
	dst, start := envelope.Begin(dst, hdr)
	hi, lo := pcgState(&r.rng)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.total))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.x))
	dst = binary.LittleEndian.AppendUint64(dst, hi)
	dst = binary.LittleEndian.AppendUint64(dst, lo)
	for _, e := range r.heap {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(e.key))
		dst = appendItem(dst, c, e.v)
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces r's
// whole state, generator included, keeping only its codec. On error r is
// unchanged.
func (r *WeightedReservoir[T]) UnmarshalBinary(data []byte) error {
	c, err := codecFor(r.codec, "WeightedReservoir")
	if err != nil {
		return err
	}
	hdr, payload, err := envelope.Decode(data, envelope.KindWeightedReservoir)
	if err != nil {
		return fmt.Errorf("sampling: %w", err)
	}
	k, n, m := hdr.Shape[0], hdr.Shape[1], hdr.Shape[2]
	switch {
	case k > math.MaxInt:
		return fmt.Errorf("sampling: WeightedReservoir size %d too large: %w", k, ErrCorrupt)
	case m > k || m > n || hdr.Shape[3] != 0:
		return fmt.Errorf("sampling: WeightedReservoir holds %d items, more than its size %d or count %d: %w", m, k, n, ErrCorrupt)
	case uint64(len(payload)) < weightedFixed+9*m: // a key and a length byte each
		return fmt.Errorf("sampling: WeightedReservoir of %d items in a %d-byte payload: %w", m, len(payload), ErrCorrupt)
	}
	rd := envelope.NewReader(payload)
	total, x := math.Float64frombits(rd.U64()), math.Float64frombits(rd.U64())
	hi, lo := rd.U64(), rd.U64()
	switch {
	case math.IsNaN(total) || math.Signbit(total):
		return fmt.Errorf("sampling: WeightedReservoir total weight %v: %w", total, ErrCorrupt)
	case (m < k || k == 0) && math.Float64bits(x) != 0:
		return fmt.Errorf("sampling: WeightedReservoir still filling with a jump of %v: %w", x, ErrCorrupt)
	case math.IsNaN(x) || math.Signbit(x):
		return fmt.Errorf("sampling: WeightedReservoir jump %v: %w", x, ErrCorrupt)
	}
	heap := make([]weighted[T], 0, max(m, min(k, uint64(rd.Len())/9)))
	for i := range int(m) {
		key := math.Float64frombits(rd.U64())
		if math.IsNaN(key) || !math.Signbit(key) {
			return fmt.Errorf("sampling: WeightedReservoir key %v: %w", key, ErrCorrupt)
		}
		if i > 0 && key < heap[(i-1)/2].key {
			return fmt.Errorf("sampling: WeightedReservoir keys out of heap order at %d: %w", i, ErrCorrupt)
		}
		v, err := readItem(rd, c)
		if err != nil {
			return fmt.Errorf("sampling: WeightedReservoir: %w", err)
		}
		heap = append(heap, weighted[T]{key, v})
	}
	if err := rd.Done(); err != nil {
		return fmt.Errorf("sampling: WeightedReservoir: %w", err)
	}
	r.heap, r.k, r.n, r.total, r.x = heap, int(k), n, total, x
	pcgRestore(&r.rng, hi, lo)
	return nil
}
