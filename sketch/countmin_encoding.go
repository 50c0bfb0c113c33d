package sketch

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
)

// CountMin encoding (inside the envelope, kind CountMin):
//
//	shape[0] width, a power of two
//	shape[1] depth
//	shape[2] flags: bit 0 set = conservative update; other bits 0
//	shape[3] total N
//	payload  width*depth counters, row-major, each a minimal uvarint
//
// Most counters of a sketch are small (the default shape spreads a stream of
// ten million events over 4096 columns: a few thousand each, two bytes), so
// uvarints make a snapshot four to seven times smaller than fixed uint64s,
// which matters for checkpoints shipped through Kafka. Every counter takes one to ten bytes, so
// a decoder checks width*depth <= payload length before it allocates: at most
// eight bytes of counters per input byte. Minimal uvarints keep the encoding
// canonical.
const countMinConservative = 1

// MarshalBinary implements encoding.BinaryMarshaler.
func (c *CountMin) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (c *CountMin) AppendBinary(dst []byte) ([]byte, error) {
	c.shaped()
	hdr := envelope.Header{Kind: envelope.KindCountMin, HashID: envelope.HashXXH64}
	hdr.Shape = [4]uint64{uint64(c.width), uint64(c.depth), 0, c.total}
	if !c.plain {
		hdr.Shape[2] = countMinConservative
	}
	n := c.width * c.depth // a zero value has no counters yet: all zero
	if c.counts != nil {
		for _, x := range c.counts {
			// uvarint length: ceil(bits/7), at least 1.
			n += (bits.Len64(x) - 1) / 7
		}
	}
	dst = slices.Grow(dst, envelope.Overhead+n)
	dst, start := envelope.Begin(dst, hdr)
	if c.counts == nil {
		dst = append(dst, make([]byte, c.width*c.depth)...)
	} else {
		for _, x := range c.counts {
			// Inline the one- and two-byte cases: nearly all counters.
			switch {
			case x < 1<<7:
				dst = append(dst, byte(x))
			case x < 1<<14:
				dst = append(dst, byte(x)|0x80, byte(x>>7))
			default:
				dst = binary.AppendUvarint(dst, x)
			}
		}
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. On error c is
// unchanged.
func (c *CountMin) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindCountMin)
	if err != nil {
		return fmt.Errorf("sketch: %w", err)
	}
	w, d, flags, total := hdr.Shape[0], hdr.Shape[1], hdr.Shape[2], hdr.Shape[3]
	if err := checkCountMinShape(w, d); err != nil {
		return fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	if flags&^countMinConservative != 0 {
		return fmt.Errorf("sketch: CountMin flags %#x: %w", flags, ErrCorrupt)
	}
	// Shape checks bound w*d by 2^30, so none of this overflows.
	if cells := w * d; uint64(len(payload)) < cells || uint64(len(payload)) > binary.MaxVarintLen64*cells {
		return fmt.Errorf("sketch: CountMin payload of %d bytes cannot hold %d counters: %w", len(payload), cells, ErrCorrupt)
	}
	counts := make([]uint64, w*d)
	p := payload
	for row := range int(d) {
		var sum uint64
		for i := row * int(w); i < (row+1)*int(w); i++ {
			if len(p) > 0 && p[0] < 0x80 {
				counts[i], p = uint64(p[0]), p[1:]
			} else if len(p) > 1 && p[1] < 0x80 && p[1] != 0 {
				counts[i], p = uint64(p[0]&0x7f)|uint64(p[1])<<7, p[2:]
			} else {
				x, n := binary.Uvarint(p)
				if n <= 0 || p[n-1] == 0 {
					return fmt.Errorf("sketch: CountMin counter %d at payload byte %d: bad or non-minimal uvarint: %w", i, len(payload)-len(p), ErrCorrupt)
				}
				counts[i], p = x, p[n:]
			}
			sum = satAdd(sum, counts[i])
		}
		// Every add puts its weight into at most one counter of each row
		// (exactly one under plain update), and merges add rows and totals
		// alike, so no row can sum to more than N.
		if sum > total {
			return fmt.Errorf("sketch: CountMin row %d sums to %d, more than the total %d: %w", row, sum, total, ErrCorrupt)
		}
	}
	if len(p) != 0 {
		return fmt.Errorf("sketch: CountMin: %d bytes after the counters: %w", len(p), ErrCorrupt)
	}
	*c = CountMin{counts: counts, total: total, plain: flags&countMinConservative == 0}
	c.setShape(int(w), int(d))
	return nil
}
