package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// A Window of Distincts keeps its slots in distinctSlots, which hold the
// state a fresh Distinct fed the slot's records would hold, byte for byte,
// at a fraction of its cost. A fresh HLL starts sparse: until it holds
// about 7000 distinct keys (at precision 14) every record goes through
// axiomhq/hyperloglog's sparse set, which merges into a sorted list every
// m/100 new keys, several times the cost of a dense update; a sliding
// window starts a fresh sketch every slide, so at 100k records a second
// and 10 s slides the sparse phase cost more than half again what the
// records cost in a warm dense sketch (BenchmarkGroupedWindowedVsDistinct).
//
// The sketch's encoding depends only on the set of its sparse keys
// (axiomhq's 25-bit bucket encodings, encodeHash) while it is sparse, and
// on its registers (the largest rank seen per index, getPosVal) once
// dense; and it is dense exactly when the sorted keys, as uvarint deltas,
// take more than m bytes (axiomhq turns dense past that, and the encoding
// writes a sparse form only within it). So a slot keeps the dense
// registers from the first record (one compare per record) and, until
// that list is proved longer than m bytes, the set of sparse keys in an
// open-addressing table (one probe per record); MarshalBinary writes
// whichever form the fresh sketch would have. TestDistinctSlotEqualsFresh
// checks the bytes against sketch.HLL on streams on both sides of the
// turn.

// sparsePrecision is axiomhq's sparse index width (pp), as in sketch.
const sparsePrecision = 25

// distinctSlot is a Window's slot operator for a *Distinct (see above).
type distinctSlot struct {
	p      uint8
	regs   []uint8  // 2^p registers, the largest rank per index
	keys   []uint32 // open-addressing set of sparse keys; 0 is empty
	list   []uint32 // the same keys in the order they came
	n      int      // keys held
	check  int      // n at which to measure the keys' list again
	dense  bool     // the list is longer than m bytes: keys dropped
	empty  []byte   // a fresh sketch's encoding
	sort   []uint32 // scratch for measuring and writing the list
	counts []int    // scratch for sorted
}

func newDistinctSlot(p uint8) *distinctSlot {
	h, _ := sketch.NewHLL(int(p))
	empty, _ := h.MarshalBinary()
	s := &distinctSlot{p: p, regs: make([]uint8, 1<<p), empty: empty}
	s.reset()
	return s
}

func (s *distinctSlot) m() int { return 1 << s.p }

func (s *distinctSlot) reset() {
	clear(s.regs)
	if s.n > 0 || s.dense {
		clear(s.keys)
	}
	s.n, s.dense, s.list = 0, false, s.list[:0]
	// The list takes at most 5 bytes a key: no turn before m/5 keys.
	s.check = s.m()/5 + 1
	if len(s.keys) == 0 {
		s.keys = make([]uint32, 1024)
	}
}

// sparseKey is axiomhq's encodeHash(x, p, pp).
func sparseKey(x uint64, p uint8) uint32 {
	idx := uint32(x >> (64 - sparsePrecision))
	if idx&(1<<(sparsePrecision-p)-1) == 0 {
		zeros := bits.LeadingZeros64(x<<sparsePrecision|(1<<sparsePrecision-1)) + 1
		return idx<<7 | uint32(zeros<<1) | 1
	}
	return idx << 1
}

// sparseDecode is axiomhq's decodeHash(k, p, pp): the key's register
// index and rank.
func sparseDecode(k uint32, p uint8) (uint32, uint8) {
	if k&1 == 1 {
		return (k >> (32 - p)) & (1<<p - 1), uint8((k>>1)&63) + sparsePrecision - p
	}
	r := uint8(bits.LeadingZeros64(uint64(k<<(32-sparsePrecision+p-1))) - 31)
	return (k >> (sparsePrecision - p + 1)) & (1<<p - 1), r
}

// Process implements Operator, as Distinct does.
func (s *distinctSlot) Process(in, _ *Batch) error {
	if p := shedRecord(in); p != 0 {
		return shedError("Distinct", p, "count each window's distinct keys under key-hash shedding in a Window of shedding.DistinctHLL, read with shedding.HLLDistinct")
	}
	recs := in.Records
	if s.dense {
		MaxRegisters(s.regs, s.p, recs)
		return nil
	}
	p := s.p
	shift := 64 - p
	guard := uint64(1) << (p - 1)
	regs := s.regs
	for i := range recs {
		x := recs[i].Hash
		r := uint8(bits.LeadingZeros64(x<<p|guard)) + 1
		if j := x >> shift; r > regs[j] {
			regs[j] = r
		}
		s.add(sparseKey(x, p))
		if s.n >= s.check {
			s.measure()
			if s.dense {
				MaxRegisters(s.regs, s.p, recs[i+1:]) // the rest of the batch
				return nil
			}
		}
	}
	return nil
}

// add puts k in the key set.
func (s *distinctSlot) add(k uint32) {
	mask := uint32(len(s.keys) - 1)
	i := (k * 0x9E3779B1) >> 7 & mask
	for {
		switch s.keys[i] {
		case k:
			return
		case 0:
			s.keys[i] = k
			s.list = append(s.list, k)
			if s.n++; 2*s.n > len(s.keys) {
				s.grow()
			}
			return
		}
		i = (i + 1) & mask
	}
}

func (s *distinctSlot) grow() {
	s.keys = make([]uint32, 2*len(s.keys))
	mask := uint32(len(s.keys) - 1)
	for _, k := range s.list {
		i := (k * 0x9E3779B1) >> 7 & mask
		for s.keys[i] != 0 {
			i = (i + 1) & mask
		}
		s.keys[i] = k
	}
}

// sortBuckets is the number of buckets sorted places the keys in first.
const sortBuckets = 1 << 12

// sorted returns the keys in order, in s.sort: a counting sort by their
// top bits (most keys are an index shifted by one, below 2^26; the rest,
// an index shifted by seven, mostly go to the last bucket), then the
// buckets of more than a few keys sorted by slices.Sort, so that hashes
// crafted to share a bucket cost n log n, not n², and an insertion sort,
// which only moves keys within their bucket of a few (linear time in
// all for random hashes). measure sorts every slot's keys a few times:
// slices.Sort of all of them cost more than the slot's records at 100k a
// slot.
func (s *distinctSlot) sorted() []uint32 {
	if s.counts == nil {
		s.counts = make([]int, sortBuckets+1)
	}
	counts := s.counts
	clear(counts)
	bucket := func(k uint32) int { return int(min(k>>(sparsePrecision+1-12), sortBuckets-1)) }
	for _, k := range s.list {
		counts[bucket(k)+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	s.sort = slices.Grow(s.sort[:0], counts[sortBuckets])[:counts[sortBuckets]]
	for _, k := range s.list {
		b := bucket(k)
		s.sort[counts[b]] = k
		counts[b]++
	}
	out := s.sort
	start := 0
	for _, end := range counts[:sortBuckets] { // each bucket's end, now
		if end-start > 32 {
			slices.Sort(out[start:end])
		}
		start = end
	}
	for i := 1; i < len(out); i++ {
		k, j := out[i], i
		for j > 0 && out[j-1] > k {
			out[j] = out[j-1]
			j--
		}
		out[j] = k
	}
	return out
}

// measure finds whether the keys' list is longer than m bytes: then the
// slot is dense, as the fresh sketch would be. Else it measures again
// when, at the bytes per key so far, the list would reach m (more keys
// make the deltas shorter, so it is not there yet then), and after an
// eighth more keys at least: each measure sorts the keys, which a slot
// of 100k records would otherwise pay for several times.
func (s *distinctSlot) measure() {
	size, last := 0, uint32(0)
	for _, k := range s.sorted() {
		size += uvarintLen(k - last)
		last = k
	}
	if size > s.m() {
		s.dense = true
		clear(s.keys)
		s.n, s.list = 0, s.list[:0]
		return
	}
	s.check = max(s.n+s.n/8+1, s.m()*s.n/max(size, 1))
}

func uvarintLen(x uint32) int { return (bits.Len32(x|1) + 6) / 7 }

// MarshalBinary implements Stateful: the encoding of the sketch.HLL a
// fresh Distinct fed the slot's records would hold.
func (s *distinctSlot) MarshalBinary() ([]byte, error) {
	hdr := envelope.Header{Kind: envelope.KindHLL, HashID: envelope.HashXXH64}
	hdr.Shape[0] = uint64(s.p)
	if !s.dense && s.n > 0 {
		// The list, measured now (it may have passed m since the last
		// check).
		keys := s.sorted()
		var stream []byte
		last := uint32(0)
		for _, k := range keys {
			stream = binary.AppendUvarint(stream, uint64(k-last))
			last = k
		}
		if len(stream) <= s.m() {
			hdr.Shape[2], hdr.Shape[3] = uint64(len(keys)), uint64(last)
			dst, start := envelope.Begin(nil, hdr)
			return envelope.End(append(dst, stream...), start), nil
		}
	} else if !s.dense {
		return slices.Clone(s.empty), nil
	}
	hdr.Shape[1] = 1 // dense
	dst, start := envelope.Begin(nil, hdr)
	return envelope.End(append(dst, s.regs...), start), nil
}

// UnmarshalBinary implements Stateful: it takes an HLL encoding of the
// slot's precision (a Distinct's state).
func (s *distinctSlot) UnmarshalBinary(data []byte) error {
	if bytes.Equal(data, s.empty) {
		s.reset()
		return nil
	}
	h := new(sketch.HLL)
	if err := h.UnmarshalBinary(data); err != nil {
		return err
	}
	if h.Precision() != int(s.p) {
		return fmt.Errorf("pipeline: window slot of precision %d given a state of precision %d: %w", s.p, h.Precision(), sketch.ErrIncompatible)
	}
	hdr, payload, err := envelope.Decode(data, envelope.KindHLL)
	if err != nil {
		return err
	}
	s.reset()
	if hdr.Shape[1] == 1 {
		copy(s.regs, payload)
		s.dense = true
		return nil
	}
	// Sparse: sketch.HLL checked the stream; read the keys back.
	last := uint32(0)
	for len(payload) > 0 {
		d, n := binary.Uvarint(payload)
		if n <= 0 || d > 1<<32-1 {
			return fmt.Errorf("pipeline: window slot: HLL sparse stream: %w", sketch.ErrCorrupt)
		}
		payload = payload[n:]
		last += uint32(d)
		s.add(last)
		i, r := sparseDecode(last, s.p)
		s.regs[i] = max(s.regs[i], r)
	}
	s.check = min(s.check, s.n+1)
	return nil
}

// MergeBinary implements Mergeable (a Window merges into its own scratch
// operator, not into slots; this is for completeness).
func (s *distinctSlot) MergeBinary(data []byte) error {
	o := newDistinctSlot(s.p)
	if err := o.UnmarshalBinary(data); err != nil {
		return err
	}
	for i, r := range o.regs {
		s.regs[i] = max(s.regs[i], r)
	}
	switch {
	case o.dense && !s.dense:
		s.dense = true
		clear(s.keys)
		s.n, s.list = 0, s.list[:0]
	case !s.dense:
		for _, k := range o.list {
			s.add(k)
		}
		s.measure()
	}
	return nil
}

// slotFor returns the fast slot for op, a Window's operator, or nil: a
// *Distinct that passes nothing on and holds nothing yet.
func slotFor(op Mergeable) Mergeable {
	d, ok := op.(*Distinct)
	if !ok || d.Pass {
		return nil
	}
	st, err := d.MarshalBinary()
	if err != nil {
		return nil
	}
	s := newDistinctSlot(uint8(d.sketch().Precision()))
	if !bytes.Equal(st, s.empty) {
		return nil
	}
	return s
}

// mergeDistinct merges the distinctSlots of the window that ends with
// slot n into one (the union of their registers and keys: the state a
// fresh sketch fed the window's records holds) and gives the scratch
// operator its bytes: one decode per window instead of one per slot.
func (w *Window) mergeDistinct(n int64) error {
	acc := w.acc
	first := w.ring[0].(*distinctSlot)
	if acc == nil {
		acc = newDistinctSlot(first.p)
		w.acc = acc
	}
	acc.reset()
	for s := n - w.per + 1; s <= n; s++ {
		i := w.slot(s)
		if w.counts[i] == 0 {
			continue
		}
		o := w.ring[i].(*distinctSlot)
		for j, r := range o.regs {
			acc.regs[j] = max(acc.regs[j], r)
		}
		switch {
		case acc.dense:
		case o.dense:
			acc.dense = true
			clear(acc.keys)
			acc.n, acc.list = 0, acc.list[:0]
		default:
			for _, k := range o.list {
				acc.add(k)
			}
		}
	}
	if !acc.dense && acc.n > 0 {
		acc.measure()
	}
	data, err := acc.MarshalBinary()
	if err != nil {
		return err
	}
	return w.scratch.UnmarshalBinary(data)
}
