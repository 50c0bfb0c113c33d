package sketch

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
)

// GroupHLL precision: the registers of each group's HLL once it turns
// dense.
const (
	DefaultGroupHLLPrecision = 12
)

// groupHLLOverhead is the bytes a group costs besides its key and its
// values: its entry, its map slot, slice headers (an estimate of Go's
// layout, used by Bytes).
const groupHLLOverhead = 128

// GroupHLL counts the distinct values of every group, each group in its
// own sketch: a sorted set of value hashes while the group is small
// (exact), then, past 2^p/8 values (when the set would take more bytes
// than the registers), HyperLogLog registers at precision p, whose
// estimate and bounds are HLL's (see HLL.EstimateAt). Unlike
// GroupDistinct, it lists every group, and its memory grows with them:
// Bytes says how much, for a caller that caps it.
//
// A value's hash is any 64-bit hash that tells the group's values apart:
// the pair hash (PairHash) of a composite key serves, since within one
// group distinct pairs are distinct values. The registers are those
// HLL would hold for the same hashes (index: the top p bits; rank: the
// leading zeros of the rest, plus one), so merges are exact: a merge of
// the sketches of the parts of a stream equals, byte for byte, the
// sketch of the whole.
//
// The zero value is an empty sketch at DefaultGroupHLLPrecision, ready
// to use. A GroupHLL is not safe for concurrent use.
type GroupHLL struct {
	p     uint8 // 0 in the zero value: DefaultGroupHLLPrecision
	idx   map[string]int32
	ents  []ghEntry
	bytes int64
}

type ghEntry struct {
	key  string
	set  []uint64 // sorted value hashes while exact; nil once dense
	regs []uint8  // 2^p registers once dense
}

// NewGroupHLL returns an empty sketch whose groups turn into HLLs of
// 2^precision registers, precision in [MinPrecision, MaxPrecision].
func NewGroupHLL(precision int) (*GroupHLL, error) {
	if precision < MinPrecision || precision > MaxPrecision {
		return nil, fmt.Errorf("sketch: GroupHLL precision %d outside [%d, %d]: %w", precision, MinPrecision, MaxPrecision, ErrInvalidParameter)
	}
	return &GroupHLL{p: uint8(precision)}, nil
}

// Precision returns p: a dense group has 2^p registers.
func (g *GroupHLL) Precision() int {
	if g.p == 0 {
		return DefaultGroupHLLPrecision
	}
	return int(g.p)
}

// exactMax is the most values a group holds exactly: 2^p/8 hashes take
// the 2^p bytes of the registers.
func (g *GroupHLL) exactMax() int { return max(1, 1<<g.Precision()>>3) }

// Groups returns the number of groups seen.
func (g *GroupHLL) Groups() int { return len(g.ents) }

// Bytes returns about how many bytes the sketch holds: its values, sets
// and registers at their capacity, keys, and a fixed overhead per group.
func (g *GroupHLL) Bytes() int64 { return g.bytes }

// AddHash adds the value with hash h to group, copying group the first
// time it is seen. It does not allocate for a group seen before, but to
// grow its set.
func (g *GroupHLL) AddHash(group []byte, h uint64) {
	i, ok := g.idx[string(group)]
	if !ok {
		i = g.newGroup(string(group))
	}
	g.add(&g.ents[i], h)
}

// AddString adds the value v to group.
func (g *GroupHLL) AddString(group, v string) {
	g.AddHash([]byte(group), HashString(v))
}

func (g *GroupHLL) newGroup(key string) int32 {
	if g.idx == nil {
		g.idx = make(map[string]int32)
		if g.p == 0 {
			g.p = DefaultGroupHLLPrecision
		}
	}
	i := int32(len(g.ents))
	g.ents = append(g.ents, ghEntry{key: key})
	g.idx[key] = i
	g.bytes += int64(len(key)) + groupHLLOverhead
	return i
}

func (g *GroupHLL) add(e *ghEntry, h uint64) {
	if e.regs != nil {
		g.setReg(e.regs, h)
		return
	}
	j, found := slices.BinarySearch(e.set, h)
	if found {
		return
	}
	if len(e.set) == g.exactMax() {
		g.densify(e)
		g.setReg(e.regs, h)
		return
	}
	c := cap(e.set)
	e.set = slices.Insert(e.set, j, h)
	g.bytes += 8 * int64(cap(e.set)-c)
}

// densify turns e's set into registers.
func (g *GroupHLL) densify(e *ghEntry) {
	e.regs = make([]uint8, 1<<g.p)
	for _, h := range e.set {
		g.setReg(e.regs, h)
	}
	g.bytes += int64(len(e.regs)) - 8*int64(cap(e.set))
	e.set = nil
}

// setReg is HLL's register update (axiomhq's getPosVal): index = top p
// bits, rank = leading zeros of (x<<p | 1<<(p-1)) + 1.
func (g *GroupHLL) setReg(regs []uint8, x uint64) {
	p := g.p
	r := uint8(bits.LeadingZeros64(x<<p|1<<(p-1))) + 1
	if j := x >> (64 - p); r > regs[j] {
		regs[j] = r
	}
}

// GroupDistinctCount is one group of GroupHLL.Groups: its key and its
// number of distinct values. Plain data, safe to keep.
type GroupDistinctCount struct {
	Key      []byte
	Estimate Estimate
}

// Estimate returns the number of distinct values of group at
// DefaultConfidence: exact while the group holds its values, HLL's
// estimate and bounds once dense, an exact 0 for a group not seen.
func (g *GroupHLL) Estimate(group []byte) Estimate {
	i, ok := g.idx[string(group)]
	if !ok {
		return Estimate{Confidence: DefaultConfidence, Exact: true}
	}
	return g.estimate(&g.ents[i], DefaultConfidence)
}

func (g *GroupHLL) estimate(e *ghEntry, confidence float64) Estimate {
	if e.regs == nil {
		n := float64(len(e.set))
		return Estimate{Value: n, Lower: n, Upper: n, Confidence: confidence, Exact: true}
	}
	var c [66]uint32
	histogram(e.regs, &c)
	return denseEstimate(&c, g.p, confidence)
}

// Top returns up to n groups with the most distinct values (by
// estimate; ties by key), each with its estimate at DefaultConfidence;
// n <= 0 returns every group.
func (g *GroupHLL) Top(n int) []GroupDistinctCount {
	out := make([]GroupDistinctCount, len(g.ents))
	for i := range g.ents {
		e := &g.ents[i]
		out[i] = GroupDistinctCount{Key: []byte(e.key), Estimate: g.estimate(e, DefaultConfidence)}
	}
	slices.SortFunc(out, func(a, b GroupDistinctCount) int {
		if c := cmp.Compare(b.Estimate.Value, a.Estimate.Value); c != 0 {
			return c
		}
		return bytes.Compare(a.Key, b.Key)
	})
	if n > 0 && n < len(out) {
		out = out[:n]
	}
	return out
}

// Merge adds o's groups to g; the sketches must have the same precision
// (ErrIncompatible otherwise). o is not modified; a nil o is empty.
func (g *GroupHLL) Merge(o *GroupHLL) error {
	if o == nil || o == g {
		return nil
	}
	if o.Precision() != g.Precision() {
		return fmt.Errorf("sketch: GroupHLL of precision %d merged into one of %d: %w", o.Precision(), g.Precision(), ErrIncompatible)
	}
	for i := range o.ents {
		oe := &o.ents[i]
		j, ok := g.idx[oe.key]
		if !ok {
			j = g.newGroup(oe.key)
		}
		e := &g.ents[j]
		if oe.regs == nil {
			for _, h := range oe.set {
				g.add(e, h)
			}
			continue
		}
		if e.regs == nil {
			g.densify(e)
		}
		for k, r := range oe.regs {
			e.regs[k] = max(e.regs[k], r)
		}
	}
	return nil
}

// Reset empties g, keeping its precision.
func (g *GroupHLL) Reset() {
	*g = GroupHLL{p: g.p}
}

// GroupHLL encoding (inside the envelope, kind GroupHLL):
//
//	shape[0] p, in [MinPrecision, MaxPrecision]
//	shape[1] G, the number of groups
//	payload  G groups in increasing byte order of their keys, each:
//	         uvarint key length, the key, then uvarint n: n in
//	         [1, 2^p/8], n value hashes, uint64 each, strictly
//	         increasing (an exact group); or n = 0 and 2^p registers,
//	         each at most 65-p, not all 0 (a dense group)

// MarshalBinary implements encoding.BinaryMarshaler.
func (g *GroupHLL) MarshalBinary() ([]byte, error) { return g.AppendBinary(nil) }

// AppendBinary implements encoding.BinaryAppender.
func (g *GroupHLL) AppendBinary(dst []byte) ([]byte, error) {
	hdr := envelope.Header{Kind: envelope.KindGroupHLL, HashID: envelope.HashXXH64}
	hdr.Shape[0], hdr.Shape[1] = uint64(g.Precision()), uint64(len(g.ents))
	order := make([]int32, len(g.ents))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(g.ents[a].key, g.ents[b].key) })
	dst, start := envelope.Begin(dst, hdr)
	for _, i := range order {
		e := &g.ents[i]
		dst = binary.AppendUvarint(dst, uint64(len(e.key)))
		dst = append(dst, e.key...)
		if e.regs != nil {
			dst = binary.AppendUvarint(dst, 0)
			dst = append(dst, e.regs...)
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(e.set)))
		for _, h := range e.set {
			dst = binary.LittleEndian.AppendUint64(dst, h)
		}
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It allocates in
// proportion to the input and runs in linear time. On error g is
// unchanged.
func (g *GroupHLL) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindGroupHLL)
	if err != nil {
		return fmt.Errorf("sketch: %w", err)
	}
	p, ng := hdr.Shape[0], hdr.Shape[1]
	switch {
	case p < MinPrecision || p > MaxPrecision:
		return fmt.Errorf("sketch: GroupHLL precision %d outside [%d, %d]: %w", p, MinPrecision, MaxPrecision, ErrCorrupt)
	case hdr.Shape[2] != 0 || hdr.Shape[3] != 0:
		return fmt.Errorf("sketch: GroupHLL shape %v: %w", hdr.Shape, ErrCorrupt)
	case ng > uint64(len(payload))/10:
		// A group takes at least 10 bytes: key length, n, one hash.
		return fmt.Errorf("sketch: GroupHLL %d groups in %d bytes: %w", ng, len(payload), ErrCorrupt)
	}
	n := GroupHLL{p: uint8(p), idx: make(map[string]int32, ng), ents: make([]ghEntry, 0, ng)}
	m := 1 << p
	top := uint8(65 - p)
	r := envelope.NewReader(payload)
	var prev string
	for i := uint64(0); i < ng && r.Err == nil; i++ {
		kl := r.Uvarint()
		key := r.Bytes(int(min(kl, uint64(r.Len()))))
		if r.Err == nil && uint64(len(key)) != kl {
			return fmt.Errorf("sketch: GroupHLL key of %d bytes past the end: %w", kl, ErrCorrupt)
		}
		c := r.Uvarint()
		if r.Err != nil {
			break
		}
		if i > 0 && string(key) <= prev {
			return fmt.Errorf("sketch: GroupHLL groups not in increasing key order at %d: %w", i, ErrCorrupt)
		}
		prev = string(key)
		e := ghEntry{key: prev}
		if c == 0 {
			regs := r.Bytes(m)
			if r.Err != nil {
				break
			}
			nonzero := false
			for _, v := range regs {
				if v > top {
					return fmt.Errorf("sketch: GroupHLL register %d above %d: %w", v, top, ErrCorrupt)
				}
				nonzero = nonzero || v != 0
			}
			if !nonzero {
				return fmt.Errorf("sketch: GroupHLL group %d has empty registers: %w", i, ErrCorrupt)
			}
			e.regs = slices.Clone(regs)
		} else {
			if c > uint64(n.exactMax()) || c > uint64(r.Len())/8 {
				return fmt.Errorf("sketch: GroupHLL group %d holds %d values (at most %d exactly, %d bytes left): %w", i, c, n.exactMax(), r.Len(), ErrCorrupt)
			}
			e.set = make([]uint64, c)
			for j := range e.set {
				e.set[j] = r.U64()
				if j > 0 && e.set[j] <= e.set[j-1] {
					return fmt.Errorf("sketch: GroupHLL values of group %d not strictly increasing: %w", i, ErrCorrupt)
				}
			}
		}
		n.idx[e.key] = int32(len(n.ents))
		n.ents = append(n.ents, e)
		n.bytes += int64(len(e.key)) + groupHLLOverhead + int64(len(e.regs)) + 8*int64(cap(e.set))
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("sketch: GroupHLL: %w", err)
	}
	if uint64(len(n.ents)) != ng {
		return fmt.Errorf("sketch: GroupHLL: %w", ErrCorrupt)
	}
	*g = n
	return nil
}
