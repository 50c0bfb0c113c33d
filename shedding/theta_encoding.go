package shedding

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// ThetaDistinct encoding (inside the envelope, kind Theta):
//
//	shape[0] k, a power of two in [MinThetaK, MaxThetaK]
//	shape[1] theta·2^64 when theta < 1, else 0
//	shape[2] 1 if theta < 1, else 0
//	shape[3] r, the number of hashes held, below 3k/2
//	payload  the r hashes, uint64 each, strictly increasing, all below
//	         theta·2^64 when theta < 1
//
// Sorting makes the encoding canonical: the table's slot order is not
// state.

// MarshalBinary implements encoding.BinaryMarshaler.
func (t *ThetaDistinct) MarshalBinary() ([]byte, error) { return t.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (t *ThetaDistinct) AppendBinary(dst []byte) ([]byte, error) {
	hs := t.sorted()
	hdr := envelope.Header{Kind: envelope.KindTheta, HashID: envelope.HashXXH64}
	hdr.Shape[0] = uint64(t.K())
	if t.cut {
		hdr.Shape[1], hdr.Shape[2] = t.theta, 1
	}
	hdr.Shape[3] = uint64(len(hs))
	dst, start := envelope.Begin(dst, hdr)
	for _, h := range hs {
		dst = binary.LittleEndian.AppendUint64(dst, h)
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It allocates in
// proportion to the hashes the input holds, whatever k it names, and runs
// in linear time whatever the hashes: a table they would crowd is rebuilt
// under a salt (see decodeProbeBudget). On error t is unchanged.
func (t *ThetaDistinct) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindTheta)
	if err != nil {
		return fmt.Errorf("shedding: %w", err)
	}
	k, th, cut, r := hdr.Shape[0], hdr.Shape[1], hdr.Shape[2], hdr.Shape[3]
	if err := checkThetaK(k); err != nil {
		return fmt.Errorf("shedding: ThetaDistinct: k %d: %w", k, ErrCorrupt)
	}
	switch {
	case cut > 1:
		return fmt.Errorf("shedding: ThetaDistinct: flag %d: %w", cut, ErrCorrupt)
	case cut == 1 && th == 0, cut == 0 && th != 0:
		return fmt.Errorf("shedding: ThetaDistinct: theta %#x with flag %d: %w", th, cut, ErrCorrupt)
	case r >= k*3/2:
		return fmt.Errorf("shedding: ThetaDistinct: %d hashes held, at most %d for k %d: %w", r, k*3/2-1, k, ErrCorrupt)
	case uint64(len(payload)) != 8*r:
		return fmt.Errorf("shedding: ThetaDistinct: %d payload bytes for %d hashes: %w", len(payload), r, ErrCorrupt)
	}
	hs := make([]uint64, r)
	for i := range hs {
		hs[i] = binary.LittleEndian.Uint64(payload[8*i:])
		switch {
		case i > 0 && hs[i] <= hs[i-1]:
			return fmt.Errorf("shedding: ThetaDistinct: hashes not strictly increasing at %d: %w", i, ErrCorrupt)
		case cut == 1 && hs[i] >= th:
			return fmt.Errorf("shedding: ThetaDistinct: hash %#x not below theta %#x: %w", hs[i], th, ErrCorrupt)
		}
	}
	n := ThetaDistinct{k: int(k), theta: th, cut: cut == 1, scratch: hs}
	size := 16
	if r > 0 {
		// The smallest power of two holding r at most 3/4 full.
		size = max(16, 1<<bits.Len64(r*4/3))
	}
	n.table = make([]uint64, size)
	n.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	if !n.fill(hs, decodeProbeBudget(len(hs))) {
		// The hashes crowd slots as no hashes of keys would: crafted.
		// Rebuild under a salt drawn from the input itself, which the
		// input cannot be made to collide under (each try at a colliding
		// input draws a new salt).
		n.salt = sketch.Hash(payload) | 1
		if !n.fill(hs, decodeProbeBudget(len(hs))) {
			return fmt.Errorf("shedding: ThetaDistinct: %d hashes crowd the table under two salts: %w", r, ErrCorrupt)
		}
	}
	*t = n
	return nil
}

// decodeProbeBudget bounds the slots a decoder may probe to place r
// hashes. Hashes of keys placed in a table at most 3/4 full take about
// 2.5 probes each on average, and their total exceeds 16 per hash with a
// probability far below 2^-64 for r in the thousands; a small table gets
// a constant's worth of slack. The bound makes decoding linear whatever
// the input.
func decodeProbeBudget(r int) int { return 16*r + 4096 }

// fill puts hs into t's empty table, giving up (false) after budget probes
// in all; t's table is left in an unspecified state then. Hash 0 sets zero.
func (t *ThetaDistinct) fill(hs []uint64, budget int) bool {
	clear(t.table)
	t.n, t.zero = 0, false
	mask := uint64(len(t.table) - 1)
	for _, h := range hs {
		if h == 0 {
			t.zero = true
			continue
		}
		i := t.home(h)
		for t.table[i] != 0 { // hs are distinct: no need to compare
			if budget--; budget < 0 {
				return false
			}
			i = (i + 1) & mask
		}
		t.table[i] = h
		t.n++
	}
	return true
}
