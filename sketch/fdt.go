package sketch

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
	"github.com/streamstat/streamstat/internal/hashmix"
)

// GroupDistinct limits and defaults. Memory is about 64 bytes per retained
// pair plus the keys of the groups they belong to: 256 KiB and up for the
// default K.
const (
	DefaultGroupDistinctK = 4096
	MinGroupDistinctK     = 16
	MaxGroupDistinctK     = 1 << 24
)

// GroupDistinct counts distinct values per group in fixed memory, and
// finds the groups with the most distinct values (heavy distinct hitters:
// the pages with the most distinct users, the clients that reach the most
// distinct addresses). It is one theta sample of (group, value) pair
// hashes, as the Frequent Distinct Tuples sketch of Apache DataSketches
// (after Dasgupta, Lang, Rhodes and Thaler, "A framework for estimating
// stream expression cardinalities", ICDT 2016):
//
//   - it keeps the K smallest distinct pair hashes seen, each with its
//     group, and theta, the (K+1)-th smallest (once more than K distinct
//     pairs were seen);
//   - a group's estimate is its retained pairs divided by theta (as a
//     fraction of the hash space): exact while every pair is held;
//   - Merge takes the union and keeps the K smallest, which is the state
//     a sketch of both streams would hold.
//
// The state is a function of the set of pairs seen, not of their order:
// equal sets give equal bytes, and a merge of sketches of the parts of a
// stream equals a sketch of the whole.
//
// # Bounds
//
// Given theta, each of a group's n distinct pairs is retained with
// probability theta, independently, to first order (exactly, the K
// retained pairs are a uniform draw from those below theta, a
// hypergeometric sample with less variance), so the retained count is
// Binomial(n, theta) and the bounds are the n for which the observed
// count is not in either alpha/2 tail: the exact binomial tails up to 256
// retained pairs, Wilson's interval with a continuity correction above
// (see groupBounds). TestGroupDistinctCoverage checks them over a grid of
// K, group counts and skews.
//
// Groups are told apart by their 64-bit hash: two group keys with equal
// hashes (about one chance in 2^64 per pair of keys) count as one.
//
// The zero value is an empty sketch with DefaultGroupDistinctK, ready to
// use. A GroupDistinct is not safe for concurrent use.
type GroupDistinct struct {
	k     int    // 0 in the zero value: DefaultGroupDistinctK
	theta uint64 // when cut: the (K+1)-th smallest pair hash seen
	cut   bool   // more than K distinct pairs were seen

	// Retained pairs: an open-addressing table (linear probing, backward
	// shift deletion) of pair hashes, each with its group's index + 1
	// (0 marks an empty slot), and a max-heap of the same hashes.
	pairs  []uint64
	pgroup []uint32
	heap   []uint64

	// Groups with at least one retained pair: entries (free ones on a
	// free list, their key buffers kept for reuse) and a table of entry
	// index + 1 by group hash.
	groups []gdGroup
	free   []uint32
	gtab   []uint32
	live   int

	shift uint8  // 64 - log2(table size), for both tables
	salt  uint64 // slots are fmix64(h ^ salt): see home
}

type gdGroup struct {
	hash  uint64
	count uint32 // retained pairs; 0 for a free entry
	key   []byte
}

// NewGroupDistinct returns an empty sketch that retains k pair hashes,
// k in [MinGroupDistinctK, MaxGroupDistinctK]. A group with n distinct
// values is estimated within about 1/sqrt(n·K/N) relative standard error,
// where N is the number of distinct pairs.
func NewGroupDistinct(k int) (*GroupDistinct, error) {
	if k < MinGroupDistinctK || k > MaxGroupDistinctK {
		return nil, fmt.Errorf("sketch: GroupDistinct k %d outside [%d, %d]: %w", k, MinGroupDistinctK, MaxGroupDistinctK, ErrInvalidParameter)
	}
	return &GroupDistinct{k: k}, nil
}

// K returns the number of pair hashes retained once more distinct pairs
// than that were seen.
func (g *GroupDistinct) K() int {
	if g.k == 0 {
		return DefaultGroupDistinctK
	}
	return g.k
}

// Retained returns the number of pair hashes held.
func (g *GroupDistinct) Retained() int { return len(g.heap) }

// Groups returns the number of groups with at least one pair held.
func (g *GroupDistinct) Groups() int { return g.live }

// Theta returns the sampling rate of the pairs held, as a fraction of the
// hash space: 1 while every distinct pair seen is held.
func (g *GroupDistinct) Theta() float64 {
	if !g.cut {
		return 1
	}
	// A theta within 2^-53 of the top would round to 1, which the bounds
	// cannot take (a sample at rate 1 is exact): keep it below.
	return min(float64(g.theta)*0x1p-64, 1-0x1p-53)
}

// Exact reports whether every distinct pair seen is held, so that every
// estimate is exact.
func (g *GroupDistinct) Exact() bool { return !g.cut }

// PairHash returns the hash of the pair (group, value): the xxhash of the
// two parts, each preceded by its length as a uvarint, which is the hash
// of the two-part composite key pipeline.AppendTuplePart makes. It does
// not allocate.
func PairHash(group, value []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	var n [binary.MaxVarintLen64]byte
	d.Write(n[:binary.PutUvarint(n[:], uint64(len(group)))])
	d.Write(group)
	d.Write(n[:binary.PutUvarint(n[:], uint64(len(value)))])
	d.Write(value)
	return d.Sum64()
}

// AddString adds the pair (group, value).
func (g *GroupDistinct) AddString(group, value string) {
	g.AddPair(PairHash(tkBytes(group), tkBytes(value)), tkBytes(group))
}

// AddPair adds the pair with hash pair (see PairHash) of group. A pair at
// or above theta costs one comparison; the group key is read, hashed and
// copied only when the pair enters the sample. It does not allocate once
// the sketch holds K pairs, but to copy a group key longer than the one
// whose entry it reuses.
func (g *GroupDistinct) AddPair(pair uint64, group []byte) {
	if g.cut && pair >= g.theta {
		return
	}
	g.addPair(pair, 0, group, false)
}

// AddPairGroupHash is AddPair for a caller that has the group's hash too
// (it must be Hash(group)).
func (g *GroupDistinct) AddPairGroupHash(pair, groupHash uint64, group []byte) {
	if g.cut && pair >= g.theta {
		return
	}
	g.addPair(pair, groupHash, group, true)
}

func (g *GroupDistinct) addPair(pair, gh uint64, group []byte, hashed bool) {
	if len(g.heap) < g.K() && 2*(len(g.heap)+1) > len(g.pairs) {
		g.grow()
	}
	slot, found := g.findPair(pair)
	if found {
		return
	}
	if len(g.heap) == g.K() {
		top := g.heap[0]
		if pair > top {
			// The new pair is the (K+1)-th smallest: it becomes theta.
			g.theta, g.cut = pair, true
			return
		}
		g.removePair(top)
		g.popHeap()
		g.theta, g.cut = top, true
		slot, _ = g.findPair(pair) // deletion may have moved the free slot
	}
	if !hashed {
		gh = Hash(group)
	}
	gi := g.group(gh, group)
	g.pairs[slot], g.pgroup[slot] = pair, gi+1
	g.groups[gi].count++
	g.pushHeap(pair)
}

// observe takes note of a pair hash seen elsewhere (a merged sketch's
// theta) that is not held: it only lowers theta.
func (g *GroupDistinct) observe(h uint64) {
	if g.cut && h >= g.theta {
		return
	}
	if len(g.heap) < g.K() {
		// Cannot happen for a theta of a valid sketch merged after its
		// pairs (see Merge): it has K pairs below it.
		return
	}
	if h > g.heap[0] {
		g.theta, g.cut = h, true
	}
}

// grow doubles both tables (16 slots at first), which stay at most half
// full: they grow with the pairs held, up to 2K slots, never sized from K
// alone (a decoder must not allocate from a header).
func (g *GroupDistinct) grow() {
	size := max(16, 2*len(g.pairs))
	pairs, pgroup := g.pairs, g.pgroup
	g.pairs = make([]uint64, size)
	g.pgroup = make([]uint32, size)
	g.gtab = make([]uint32, size)
	g.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	if g.salt == 0 {
		g.salt = 0x9e3779b97f4a7c15
	}
	for i, gi := range pgroup {
		if gi != 0 {
			j, _ := g.findPair(pairs[i])
			g.pairs[j], g.pgroup[j] = pairs[i], gi
		}
	}
	mask := uint64(size - 1)
	for gi := range g.groups {
		if g.groups[gi].count == 0 {
			continue
		}
		j := g.home(g.groups[gi].hash)
		for g.gtab[j] != 0 {
			j = (j + 1) & mask
		}
		g.gtab[j] = uint32(gi) + 1
	}
}

// home returns the slot where the search for h starts. Slots come from
// fmix64 under a salt: hashes read from an encoding may have been crafted
// to share a slot, so a decoded sketch takes a salt drawn from its own
// input (see UnmarshalBinary), which the input cannot foresee.
func (g *GroupDistinct) home(h uint64) uint64 { return hashmix.Fmix64(h^g.salt) >> g.shift }

// findPair returns the slot holding pair, or the empty slot where it
// would go.
func (g *GroupDistinct) findPair(pair uint64) (uint64, bool) {
	mask := uint64(len(g.pairs) - 1)
	for i := g.home(pair); ; i = (i + 1) & mask {
		if g.pgroup[i] == 0 {
			return i, false
		}
		if g.pairs[i] == pair {
			return i, true
		}
	}
}

// removePair deletes a held pair (backward shift deletion, Knuth 6.4
// Algorithm R) and releases its group's entry if it was the last.
func (g *GroupDistinct) removePair(pair uint64) {
	i, _ := g.findPair(pair)
	gi := g.pgroup[i] - 1
	mask := uint64(len(g.pairs) - 1)
	for j := (i + 1) & mask; g.pgroup[j] != 0; j = (j + 1) & mask {
		h := g.home(g.pairs[j])
		// Move j into the hole at i unless its home lies cyclically in
		// (i, j].
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			g.pairs[i], g.pgroup[i] = g.pairs[j], g.pgroup[j]
			i = j
		}
	}
	g.pairs[i], g.pgroup[i] = 0, 0
	e := &g.groups[gi]
	if e.count--; e.count == 0 {
		g.removeGroup(e.hash)
		g.free = append(g.free, gi)
		g.live--
	}
}

// group returns the entry index of the group with hash gh, making one
// (with a copy of key) if there is none.
func (g *GroupDistinct) group(gh uint64, key []byte) uint32 {
	mask := uint64(len(g.gtab) - 1)
	i := g.home(gh)
	for ; g.gtab[i] != 0; i = (i + 1) & mask {
		if gi := g.gtab[i] - 1; g.groups[gi].hash == gh {
			return gi
		}
	}
	var gi uint32
	if n := len(g.free); n > 0 {
		gi = g.free[n-1]
		g.free = g.free[:n-1]
	} else {
		gi = uint32(len(g.groups))
		g.groups = append(g.groups, gdGroup{})
	}
	e := &g.groups[gi]
	e.hash, e.count, e.key = gh, 0, append(e.key[:0], key...)
	g.gtab[i] = gi + 1
	g.live++
	return gi
}

// findGroup returns the entry index of the group with hash gh.
func (g *GroupDistinct) findGroup(gh uint64) (uint32, bool) {
	if g.gtab == nil {
		return 0, false
	}
	mask := uint64(len(g.gtab) - 1)
	for i := g.home(gh); g.gtab[i] != 0; i = (i + 1) & mask {
		if gi := g.gtab[i] - 1; g.groups[gi].hash == gh {
			return gi, true
		}
	}
	return 0, false
}

// removeGroup deletes the group table's entry for gh (backward shift).
func (g *GroupDistinct) removeGroup(gh uint64) {
	mask := uint64(len(g.gtab) - 1)
	i := g.home(gh)
	for g.groups[g.gtab[i]-1].hash != gh {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; g.gtab[j] != 0; j = (j + 1) & mask {
		h := g.home(g.groups[g.gtab[j]-1].hash)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			g.gtab[i] = g.gtab[j]
			i = j
		}
	}
	g.gtab[i] = 0
}

func (g *GroupDistinct) pushHeap(h uint64) {
	g.heap = append(g.heap, h)
	a := g.heap
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] >= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (g *GroupDistinct) popHeap() {
	a := g.heap
	n := len(a) - 1
	a[0] = a[n]
	g.heap = a[:n]
	siftDownMax(g.heap, 0)
}

func siftDownMax(a []uint64, i int) {
	for {
		c := 2*i + 1
		if c >= len(a) {
			return
		}
		if c+1 < len(a) && a[c+1] > a[c] {
			c++
		}
		if a[i] >= a[c] {
			return
		}
		a[i], a[c] = a[c], a[i]
		i = c
	}
}

// Estimate returns the number of distinct values of group with bounds at
// DefaultConfidence.
func (g *GroupDistinct) Estimate(group []byte) Estimate {
	return g.EstimateHashAt(Hash(group), DefaultConfidence)
}

// EstimateString is Estimate for a string group.
func (g *GroupDistinct) EstimateString(group string) Estimate {
	return g.EstimateHashAt(HashString(group), DefaultConfidence)
}

// EstimateHashAt returns the number of distinct values of the group with
// hash gh, with bounds at confidence in (0, 1): exact while every pair
// is held; else its retained pairs divided by theta, within the binomial
// bounds described on the type. A group with no pair held gets 0 within
// [0, upper], the most it could have and still be missed.
func (g *GroupDistinct) EstimateHashAt(gh uint64, confidence float64) Estimate {
	checkConfidence(confidence)
	var c float64
	if gi, ok := g.findGroup(gh); ok {
		c = float64(g.groups[gi].count)
	}
	return groupEstimate(c, g.cut, g.Theta(), confidence)
}

func groupEstimate(c float64, cut bool, theta, confidence float64) Estimate {
	if !cut {
		return Estimate{Value: c, Lower: c, Upper: c, Confidence: confidence, Exact: true}
	}
	lo, hi := groupBounds(c, theta, 1-confidence)
	return Estimate{Value: c / theta, Lower: lo, Upper: hi, Confidence: confidence}
}

// GroupCount is one group of GroupDistinct.Top: its key and its number of
// distinct values. It is plain data (Key is a copy), safe to keep and
// share; the zero value is an empty group with an exact 0.
type GroupCount struct {
	Key      []byte
	Estimate Estimate
	// Retained is the number of the group's pairs the sketch holds, the
	// sample its estimate rests on.
	Retained int
}

// Top returns up to n groups with the most distinct values, most first
// (ties by key), each with its estimate at DefaultConfidence; n <= 0
// returns every group held. Keys are copies. The ranking is by retained
// pairs, which is the ranking of the estimates; a group outside the
// sample may still have more values than the last listed one has, up to
// the upper bound of a group with no pair held (EstimateHashAt).
func (g *GroupDistinct) Top(n int) []GroupCount {
	return g.TopAt(n, DefaultConfidence)
}

// TopAt is Top with bounds at confidence in (0, 1).
func (g *GroupDistinct) TopAt(n int, confidence float64) []GroupCount {
	checkConfidence(confidence)
	idx := make([]uint32, 0, g.live)
	for i := range g.groups {
		if g.groups[i].count > 0 {
			idx = append(idx, uint32(i))
		}
	}
	slices.SortFunc(idx, func(a, b uint32) int {
		x, y := &g.groups[a], &g.groups[b]
		if c := cmp.Compare(y.count, x.count); c != 0 {
			return c
		}
		return bytes.Compare(x.key, y.key)
	})
	if n > 0 && n < len(idx) {
		idx = idx[:n]
	}
	out := make([]GroupCount, len(idx))
	th := g.Theta()
	for i, gi := range idx {
		e := &g.groups[gi]
		out[i] = GroupCount{
			Key:      slices.Clone(e.key),
			Estimate: groupEstimate(float64(e.count), g.cut, th, confidence),
			Retained: int(e.count),
		}
	}
	return out
}

// Merge adds o's pairs to g: g then holds the K smallest of the union of
// the pairs both saw and theta the (K+1)-th, which is the state a sketch
// fed both streams would hold. The sketches must have the same K
// (ErrIncompatible otherwise: a sample of K pairs cannot stand in for the
// larger one's). o is not modified; a nil o is empty.
func (g *GroupDistinct) Merge(o *GroupDistinct) error {
	if o == nil || o == g {
		return nil
	}
	if o.K() != g.K() {
		return fmt.Errorf("sketch: GroupDistinct of k %d merged into one of k %d: %w", o.K(), g.K(), ErrIncompatible)
	}
	if o.pairs == nil {
		return nil
	}
	for i, gi := range o.pgroup {
		if gi == 0 {
			continue
		}
		e := &o.groups[gi-1]
		g.AddPairGroupHash(o.pairs[i], e.hash, e.key)
	}
	if o.cut {
		g.observe(o.theta)
	}
	return nil
}

// Reset empties g, keeping its K and its memory.
func (g *GroupDistinct) Reset() {
	if g.pairs == nil {
		return
	}
	clear(g.pairs)
	clear(g.pgroup)
	clear(g.gtab)
	g.heap = g.heap[:0]
	g.free = g.free[:0]
	for i := range g.groups {
		g.groups[i].count = 0
		g.free = append(g.free, uint32(len(g.groups)-1-i))
	}
	g.live, g.theta, g.cut = 0, 0, false
}

// Clone returns an independent copy of g.
func (g *GroupDistinct) Clone() *GroupDistinct {
	c := *g
	c.pairs = slices.Clone(g.pairs)
	c.pgroup = slices.Clone(g.pgroup)
	c.heap = slices.Clone(g.heap)
	c.gtab = slices.Clone(g.gtab)
	c.free = slices.Clone(g.free)
	c.groups = slices.Clone(g.groups)
	for i := range c.groups {
		c.groups[i].key = slices.Clone(c.groups[i].key)
	}
	return &c
}
