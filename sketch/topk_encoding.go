package sketch

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
)

// TopK encoding (inside the envelope, kind TopK):
//
//	shape[0] capacity k, in [1, MaxTopKCapacity]
//	shape[1] number of entries n, at most k
//	shape[2] total N
//	shape[3] 0
//	payload  n entries: uvarint key length, key bytes, uvarint count,
//	         uvarint error (all uvarints minimal)
//
// Entries are listed by decreasing count and, within a count, in the order
// in which Space-Saving will replace them (see TopK). That order is state,
// the table layout and key storage are not: equal states give equal bytes,
// and a decoded sketch continues exactly like the original. Hashes are not
// stored: a key's hash is Hash(key).
//
// The decoder checks what every reachable state satisfies: counts positive
// and non-increasing, errors at most their counts, keys distinct, counts
// summing to at most N; while fewer than k keys are tracked, every error 0
// and counts summing to exactly N; once k are, every error at most the
// minimum count. An entry takes at least 3 bytes, so n is bounded by the
// payload before anything is allocated.

// MarshalBinary implements encoding.BinaryMarshaler.
func (t *TopK) MarshalBinary() ([]byte, error) { return t.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (t *TopK) AppendBinary(dst []byte) ([]byte, error) {
	t.init()
	hdr := envelope.Header{Kind: envelope.KindTopK, HashID: envelope.HashXXH64}
	hdr.Shape = [4]uint64{uint64(t.capacity), uint64(len(t.counters)), t.total, 0}
	dst, start := envelope.Begin(dst, hdr)
	for _, o := range t.order() {
		key, c := t.key(o.i), &t.counters[o.i]
		dst = binary.AppendUvarint(dst, uint64(len(key)))
		dst = append(dst, key...)
		dst = binary.AppendUvarint(dst, c.count)
		dst = binary.AppendUvarint(dst, c.err)
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. On error t is
// unchanged.
func (t *TopK) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindTopK)
	if err != nil {
		return fmt.Errorf("sketch: %w", err)
	}
	k, n, total := hdr.Shape[0], hdr.Shape[1], hdr.Shape[2]
	if k < 1 || k > MaxTopKCapacity {
		return fmt.Errorf("sketch: TopK capacity %d outside [1, %d]: %w", k, MaxTopKCapacity, ErrCorrupt)
	}
	if n > k || hdr.Shape[3] != 0 {
		return fmt.Errorf("sketch: TopK shape %v: %w", hdr.Shape, ErrCorrupt)
	}
	if n > uint64(len(payload))/3 {
		return fmt.Errorf("sketch: TopK of %d entries in %d payload bytes: %w", n, len(payload), ErrCorrupt)
	}
	var nt TopK
	// A key of l bytes takes a region of at most l+16 bytes.
	nt.setup(int(k), int(n), len(payload)+int(n)*tkKeyAlign)
	r := envelope.NewReader(payload)
	prev, sum, maxErr := uint64(math.MaxUint64), uint64(0), uint64(0)
	for range n {
		kl := tkUvarint(r)
		if r.Err == nil && kl > uint64(r.Len()) {
			return fmt.Errorf("sketch: TopK key of %d bytes, %d left: %w", kl, r.Len(), ErrCorrupt)
		}
		key := r.Bytes(int(kl))
		count, e := tkUvarint(r), tkUvarint(r)
		if r.Err != nil {
			return fmt.Errorf("sketch: TopK entry: %w", r.Err)
		}
		if count == 0 || count > prev || e > count {
			return fmt.Errorf("sketch: TopK entry count %d error %d after count %d: %w", count, e, prev, ErrCorrupt)
		}
		h := Hash(key)
		if nt.lookup(h, key) != tkNil {
			return fmt.Errorf("sketch: TopK key %q listed twice: %w", key, ErrCorrupt)
		}
		nt.appendEntry(h, key, count, e)
		prev, sum, maxErr = count, tkSatAdd(sum, count), max(maxErr, e)
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("sketch: TopK: %w", err)
	}
	switch {
	case sum > total:
		return fmt.Errorf("sketch: TopK counts sum to %d, more than the total %d: %w", sum, total, ErrCorrupt)
	case n < k && (maxErr != 0 || sum != total):
		return fmt.Errorf("sketch: TopK with free counters is inexact (error %d, counts %d of %d): %w", maxErr, sum, total, ErrCorrupt)
	case n == k && maxErr > prev:
		return fmt.Errorf("sketch: TopK error %d above the minimum count %d: %w", maxErr, prev, ErrCorrupt)
	}
	nt.total = total
	*t = nt
	return nil
}

// tkUvarint reads a uvarint and rejects non-minimal forms, which would make
// two encodings of one state.
func tkUvarint(r *envelope.Reader) uint64 {
	before := r.Len()
	v := r.Uvarint()
	if r.Err == nil && before-r.Len() != tkUvarintLen(v) {
		r.Err = fmt.Errorf("non-minimal varint: %w", ErrCorrupt)
	}
	return v
}

func tkUvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}
