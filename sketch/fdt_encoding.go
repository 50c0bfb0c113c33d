package sketch

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
)

// GroupDistinct encoding (inside the envelope, kind GroupDistinct):
//
//	shape[0] K, in [MinGroupDistinctK, MaxGroupDistinctK]
//	shape[1] theta·2^64 when more than K pairs were seen, else 0
//	shape[2] 1 if more than K pairs were seen, else 0
//	shape[3] G, the number of groups with a pair held
//	payload  G groups in increasing order of Hash(key), each:
//	         uvarint key length, the key, uvarint c >= 1, then its c pair
//	         hashes, uint64 each, strictly increasing
//
// The pairs number K exactly when theta is set (then all below it), at
// most K otherwise, and are distinct. Sorting makes the encoding
// canonical: slot and heap order are not state.

// MarshalBinary implements encoding.BinaryMarshaler.
func (g *GroupDistinct) MarshalBinary() ([]byte, error) { return g.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (g *GroupDistinct) AppendBinary(dst []byte) ([]byte, error) {
	hdr := envelope.Header{Kind: envelope.KindGroupDistinct, HashID: envelope.HashXXH64}
	hdr.Shape[0] = uint64(g.K())
	if g.cut {
		hdr.Shape[1], hdr.Shape[2] = g.theta, 1
	}
	hdr.Shape[3] = uint64(g.live)
	// Pairs by group, then by hash; groups by hash.
	type ref struct{ gh, pair uint64 }
	refs := make([]ref, 0, len(g.heap))
	for i, gi := range g.pgroup {
		if gi != 0 {
			refs = append(refs, ref{g.groups[gi-1].hash, g.pairs[i]})
		}
	}
	slices.SortFunc(refs, func(a, b ref) int {
		if c := cmp.Compare(a.gh, b.gh); c != 0 {
			return c
		}
		return cmp.Compare(a.pair, b.pair)
	})
	dst, start := envelope.Begin(dst, hdr)
	for i := 0; i < len(refs); {
		gi, _ := g.findGroup(refs[i].gh)
		e := &g.groups[gi]
		dst = binary.AppendUvarint(dst, uint64(len(e.key)))
		dst = append(dst, e.key...)
		dst = binary.AppendUvarint(dst, uint64(e.count))
		for _, r := range refs[i : i+int(e.count)] {
			dst = binary.LittleEndian.AppendUint64(dst, r.pair)
		}
		i += int(e.count)
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It allocates in
// proportion to the input, whatever K it names, and runs in linear time
// whatever the hashes: its tables take a salt drawn from the input, and
// a table the input crowds anyway (beyond a probe budget no real hashes
// reach) is an error. On error g is unchanged.
func (g *GroupDistinct) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindGroupDistinct)
	if err != nil {
		return fmt.Errorf("sketch: %w", err)
	}
	k, th, cut, ng := hdr.Shape[0], hdr.Shape[1], hdr.Shape[2], hdr.Shape[3]
	switch {
	case k < MinGroupDistinctK || k > MaxGroupDistinctK:
		return fmt.Errorf("sketch: GroupDistinct k %d outside [%d, %d]: %w", k, MinGroupDistinctK, MaxGroupDistinctK, ErrCorrupt)
	case cut > 1, cut == 1 && th == 0, cut == 0 && th != 0:
		return fmt.Errorf("sketch: GroupDistinct theta %#x with flag %d: %w", th, cut, ErrCorrupt)
	case ng > k || ng > uint64(len(payload))/10:
		// A group takes at least 10 bytes: key length, count, one pair.
		return fmt.Errorf("sketch: GroupDistinct %d groups in %d bytes for k %d: %w", ng, len(payload), k, ErrCorrupt)
	}
	n := GroupDistinct{k: int(k), theta: th, cut: cut == 1, salt: Hash(payload) | 1}
	n.groups = make([]gdGroup, 0, ng)
	r := envelope.NewReader(payload)
	var total uint64
	var prevGH uint64
	var pairs []uint64
	for i := uint64(0); i < ng; i++ {
		kl := r.Uvarint()
		key := r.Bytes(int(min(kl, uint64(r.Len()))))
		if r.Err == nil && uint64(len(key)) != kl {
			return fmt.Errorf("sketch: GroupDistinct key of %d bytes past the end: %w", kl, ErrCorrupt)
		}
		c := r.Uvarint()
		if r.Err != nil {
			break
		}
		gh := Hash(key)
		switch {
		case i > 0 && gh <= prevGH:
			return fmt.Errorf("sketch: GroupDistinct groups not in increasing hash order at %d: %w", i, ErrCorrupt)
		case c == 0 || c > k-total || c > uint64(r.Len())/8:
			return fmt.Errorf("sketch: GroupDistinct group %d holds %d pairs (%d held before, k %d, %d bytes left): %w", i, c, total, k, r.Len(), ErrCorrupt)
		}
		prevGH = gh
		var prev uint64
		for j := uint64(0); j < c; j++ {
			p := r.U64()
			switch {
			case j > 0 && p <= prev:
				return fmt.Errorf("sketch: GroupDistinct pairs of group %d not strictly increasing: %w", i, ErrCorrupt)
			case cut == 1 && p >= th:
				return fmt.Errorf("sketch: GroupDistinct pair %#x not below theta %#x: %w", p, th, ErrCorrupt)
			}
			prev = p
			pairs = append(pairs, p)
		}
		n.groups = append(n.groups, gdGroup{hash: gh, count: uint32(c), key: slices.Clone(key)})
		total += c
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("sketch: GroupDistinct: %w", err)
	}
	if cut == 1 && total != k {
		return fmt.Errorf("sketch: GroupDistinct holds %d pairs below theta, want k = %d: %w", total, k, ErrCorrupt)
	}
	if err := n.fill(pairs); err != nil {
		return err
	}
	*g = n
	return nil
}

// fill builds the tables and the heap of a decoded sketch from its groups
// and their pairs (in group order), within a probe budget.
func (g *GroupDistinct) fill(pairs []uint64) error {
	size := 16
	for size < 2*len(pairs) {
		size *= 2
	}
	g.pairs = make([]uint64, size)
	g.pgroup = make([]uint32, size)
	g.gtab = make([]uint32, size)
	g.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	budget := 16*len(pairs) + 4096
	mask := uint64(size - 1)
	p := 0
	for gi := range g.groups {
		e := &g.groups[gi]
		j := g.home(e.hash)
		for g.gtab[j] != 0 {
			if budget--; budget < 0 {
				return fmt.Errorf("sketch: GroupDistinct: group hashes crowd the table: %w", ErrCorrupt)
			}
			j = (j + 1) & mask
		}
		g.gtab[j] = uint32(gi) + 1
		for _, h := range pairs[p : p+int(e.count)] {
			s := g.home(h)
			for g.pgroup[s] != 0 {
				if g.pairs[s] == h {
					return fmt.Errorf("sketch: GroupDistinct: pair %#x held twice: %w", h, ErrCorrupt)
				}
				if budget--; budget < 0 {
					return fmt.Errorf("sketch: GroupDistinct: pair hashes crowd the table: %w", ErrCorrupt)
				}
				s = (s + 1) & mask
			}
			g.pairs[s], g.pgroup[s] = h, uint32(gi)+1
		}
		p += int(e.count)
	}
	g.live = len(g.groups)
	g.heap = pairs
	for i := len(pairs)/2 - 1; i >= 0; i-- {
		siftDownMax(pairs, i)
	}
	return nil
}
