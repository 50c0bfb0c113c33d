package sampling

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
)

// KLL encoding (inside the envelope, kind KLL):
//
//	shape[0] k
//	shape[1] number of levels H, in [1, 64]
//	shape[2] number of retained items R, at most the capacity of H levels
//	payload  NaNs (uint64); min, max (float64 bits); the coin's PCG state
//	         (two uint64, the halves math/rand/v2 marshals big-endian);
//	         H level sizes (uint32, level 0 first); the R items (float64
//	         bits), level 0 first, each level sorted ascending.
//
// The count is not stored: it is the total weight, sum of size_h * 2^h.
// Level 0 is written sorted although the sketch keeps it in arrival order:
// that order is never observable (compaction sorts all of level 0 first), so
// equal state gives equal bytes. An empty sketch has min = max = 0.
const kllFixedPayload = 8 + 8 + 8 + 16

// MarshalBinary implements encoding.BinaryMarshaler.
func (s *KLL) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, envelope.Overhead+kllFixedPayload+4*max(s.numLevels, 1)+8*s.Retained()))
}

// AppendBinary implements encoding.BinaryAppender. It sorts level 0 in place,
// which changes nothing observable.
func (s *KLL) AppendBinary(dst []byte) ([]byte, error) {
	s.init()
	slices.Sort(s.level(0))
	hdr := envelope.Header{Kind: envelope.KindKLL, HashID: envelope.HashXXH64}
	hdr.Shape = [4]uint64{uint64(s.k), uint64(s.numLevels), uint64(s.Retained())}
	dst, start := envelope.Begin(dst, hdr)
	dst = binary.LittleEndian.AppendUint64(dst, s.nans)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.min))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.max))
	state, err := s.rng.AppendBinary(s.pcgState[:0]) // in s: no allocation
	if err != nil || len(state) != 20 {
		return nil, fmt.Errorf("sampling: KLL: unexpected PCG state %q: %v", state, err)
	}
	dst = binary.LittleEndian.AppendUint64(dst, binary.BigEndian.Uint64(state[4:]))
	dst = binary.LittleEndian.AppendUint64(dst, binary.BigEndian.Uint64(state[12:]))
	for h := range s.numLevels {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(s.pop(h)))
	}
	for _, x := range s.items[s.levels[0]:s.levels[s.numLevels]] {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It checks the shape
// against the payload length before allocating, and accepts only encodings
// AppendBinary can write (sorted levels, values within [min, max], no NaN or
// -0, a count that fits in uint64). On error s is unchanged.
func (s *KLL) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindKLL)
	if err != nil {
		return fmt.Errorf("sampling: %w", err)
	}
	k, numLevels, retained := hdr.Shape[0], hdr.Shape[1], hdr.Shape[2]
	if k < MinKLLK || k > MaxKLLK || numLevels < 1 || numLevels > kllMaxLevels || hdr.Shape[3] != 0 {
		return fmt.Errorf("sampling: KLL shape %v (k in [%d, %d], 1 to %d levels): %w", hdr.Shape, MinKLLK, MaxKLLK, kllMaxLevels, ErrCorrupt)
	}
	v := new(KLL)
	v.setShape(int(k), int(numLevels))
	if retained > uint64(v.capacity) {
		return fmt.Errorf("sampling: KLL holds %d items, more than the capacity %d of %d levels: %w", retained, v.capacity, numLevels, ErrCorrupt)
	}
	if want := kllFixedPayload + 4*numLevels + 8*retained; uint64(len(payload)) != want {
		return fmt.Errorf("sampling: KLL payload of %d bytes, shape %v implies %d: %w", len(payload), hdr.Shape, want, ErrCorrupt)
	}
	r := envelope.NewReader(payload)
	v.nans = r.U64()
	minBits, maxBits := r.U64(), r.U64()
	var pcg [20]byte
	copy(pcg[:], "pcg:")
	binary.BigEndian.PutUint64(pcg[4:], r.U64())
	binary.BigEndian.PutUint64(pcg[12:], r.U64())
	if err := v.rng.UnmarshalBinary(pcg[:]); err != nil {
		return fmt.Errorf("sampling: KLL coin state: %v: %w", err, ErrCorrupt)
	}
	var total uint64
	for h := range int(numLevels) {
		size := uint64(r.U32())
		v.levels[h+1] = v.levels[h] + uint32(size) // retained < 2^32: no wrap
		total += size
		hi, w := bits.Mul64(size, uint64(1)<<h)
		var carry uint64
		v.n, carry = bits.Add64(v.n, w, 0)
		if hi != 0 || carry != 0 {
			return fmt.Errorf("sampling: KLL count overflows at level %d: %w", h, ErrCorrupt)
		}
	}
	if total != retained {
		return fmt.Errorf("sampling: KLL level sizes sum to %d, shape says %d: %w", total, retained, ErrCorrupt)
	}
	if numLevels > 1 && v.levels[numLevels] == v.levels[numLevels-1] {
		return fmt.Errorf("sampling: KLL top level of %d is empty: %w", numLevels, ErrCorrupt)
	}
	if err := v.setMinMax(minBits, maxBits); err != nil {
		return err
	}
	v.items = make([]float64, retained)
	for h := range int(numLevels) {
		prev := math.Inf(-1)
		for i := v.levels[h]; i < v.levels[h+1]; i++ {
			b := r.U64()
			x := math.Float64frombits(b)
			if x != x || b == 1<<63 || x < v.min || x > v.max || x < prev {
				return fmt.Errorf("sampling: KLL level %d item %v is NaN, -0, outside [min, max] or out of order: %w", h, x, ErrCorrupt)
			}
			v.items[i], prev = x, x
		}
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("sampling: KLL: %w", err)
	}
	// The buffer is shorter than v.capacity (no free space); the first Add
	// grows it.
	*s = *v
	return nil
}

// setMinMax checks and sets the extremes: both 0 for an empty sketch,
// otherwise ordered non-NaN values with no -0.
func (s *KLL) setMinMax(minBits, maxBits uint64) error {
	lo, hi := math.Float64frombits(minBits), math.Float64frombits(maxBits)
	if s.n == 0 {
		if minBits != 0 || maxBits != 0 || s.numLevels != 1 {
			return fmt.Errorf("sampling: KLL empty sketch with min %v, max %v, %d levels: %w", lo, hi, s.numLevels, ErrCorrupt)
		}
		return nil
	}
	if lo != lo || hi != hi || minBits == 1<<63 || maxBits == 1<<63 || lo > hi {
		return fmt.Errorf("sampling: KLL min %v, max %v: %w", lo, hi, ErrCorrupt)
	}
	s.min, s.max = lo, hi
	return nil
}
