package sketch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// TopK capacity limits. Capacity k is the number of counters: memory is about
// 160 bytes per counter plus the keys longer than 16 bytes (a counter keeps
// room for the longest it has held), and every reported count is within
// N/k of the truth after N events.
const (
	DefaultTopKCapacity = 1024
	// MaxTopKCapacity bounds the capacity a constructor accepts and a
	// decoder believes. A decoder allocates for the entries an encoding
	// holds, not for the capacity it names, so a forged capacity cannot make
	// it allocate.
	MaxTopKCapacity = 1 << 22
)

// TopK finds the heavy hitters of a stream: the keys that occur most often,
// with their counts and certain bounds. It is Space-Saving (Metwally,
// Agrawal, El Abbadi, "Efficient computation of frequent and top-k elements
// in data streams", ICDT 2005): it keeps the order of their stream-summary
// structure, but an update writes little more than the key's own counter.
//
// # Guarantees
//
// With capacity k after N events (Total), for every key x with true count f:
//
//   - a tracked key has count c and error e with c-e <= f <= c;
//   - an untracked key has f <= MinCount, the smallest tracked count once all
//     k counters are in use (0 before: until then every count is exact);
//   - e <= MinCount <= N/k, so every key with f > N/k is tracked.
//
// These hold after Merge too (see Merge), with k the smaller capacity when
// capacities differ. Counts saturate at 2^64-1.
//
// # Determinism
//
// When a new key arrives and all counters are in use, the counter replaced is
// the one that has held the minimum count longest. That order is part of the
// state: the encoding keeps it, so a decoded sketch (or a Clone) evolves
// exactly like the original under further updates, byte for byte.
//
// The zero value is an empty sketch with DefaultTopKCapacity counters, ready
// to use. A TopK is not safe for concurrent use.
type TopK struct {
	capacity int
	total    uint64

	// The stream summary (topk_summary.go): every counter holds its count
	// and a stamp that orders it among the counters with the same count;
	// q lists the counters with the minimum count minc in that order (from
	// qh on, among stale entries), next the ones that reached minc+1 since
	// nextFrom. Indices, not pointers, in flat slices that updates never
	// allocate in once they have grown to the capacity.
	counters []tkCounter
	seq      uint64 // the next stamp
	minc     uint64 // once full: the minimum count, held by atMin counters
	atMin    int
	q, next  []tkRef
	qh       int
	nextFrom uint64
	// With weighted updates (see topk_summary.go): the counters with
	// counts in (minc, lim] as a scan found them, by (count, stamp), from
	// rh on; and a heap of those that arrived in (minc+1, lim] since.
	res     []tkOrd
	rh      int
	low     []tkOrd
	lim     uint64
	scans   int      // full scans of the counters, for tests of their cost
	scratch []tkOrd  // order's result
	words   []uint64 // sortByStamp's scratch

	// table maps a key to its counter: open addressing with linear probing
	// on the key's hash. Live entries fill at most a quarter of it (an
	// eighth at full capacity, in a sketch made by NewTopK), and the stale
	// entries that evictions leave behind fill it up to half: the more room
	// they have, the rarer the rehash that drops them.
	table []uint64
	shift uint8 // 32 - log2(len(table))
	stale int   // entries of replaced keys, until rehash drops them
	// newKeys: more than half the updates between the last two rehashes
	// replaced a key, so probes mostly end at an empty slot (see AddHash).
	// It steers the probe only, never the state.
	newKeys  bool
	rehashAt uint64 // seq at the last rehash

	// arena holds the keys longer than tkInline: a counter that has held
	// one owns a region of kcap bytes, as long as the longest it has held.
	// Regions given up when a longer key replaces a shorter one are
	// garbage until compact copies the live ones into spare.
	arena   []byte
	spare   []byte
	garbage int

	spareC []tkCounter // Merge builds the new summary here

	entries []tkEntry // Merge scratch
	ranks   []uint64  // Merge scratch: mergeOrder's words
}

// Item is one heavy hitter: the truth lies in [Lower, Upper] for certain.
// Count is the Space-Saving estimate (Upper); Error = Upper - Lower is the
// count the key may have inherited from the key it replaced. Guaranteed
// reports that the key is certainly among the k most frequent of the stream
// (see Top).
type Item struct {
	Key        string `json:"key"`
	Count      uint64 `json:"count"`
	Error      uint64 `json:"error"`
	Lower      uint64 `json:"lower"`
	Upper      uint64 `json:"upper"`
	Guaranteed bool   `json:"guaranteed"`
}

// NewTopK returns an empty TopK with the given number of counters, in
// [1, MaxTopKCapacity], and allocates all its tables up front. It is not
// needed for the default capacity: the zero value TopK works, with
// DefaultTopKCapacity counters and tables that grow as keys arrive.
func NewTopK(capacity int) (*TopK, error) {
	if capacity < 1 || capacity > MaxTopKCapacity {
		return nil, fmt.Errorf("sketch: TopK capacity %d outside [1, %d]: %w", capacity, MaxTopKCapacity, ErrInvalidParameter)
	}
	t := new(TopK)
	t.setup(capacity, capacity, capacity*tkKeyAlign)
	return t, nil
}

// init gives the zero value its default capacity; its tables grow on demand.
func (t *TopK) init() {
	if t.capacity == 0 {
		t.setup(DefaultTopKCapacity, 0, 0)
	}
}

// Capacity returns the number of counters.
func (t *TopK) Capacity() int {
	t.init()
	return t.capacity
}

// Len returns the number of keys tracked, at most Capacity.
func (t *TopK) Len() int { return len(t.counters) }

// Total returns N, the sum of the counts of all events added (and merged).
func (t *TopK) Total() uint64 { return t.total }

// MinCount returns the bound on the count of every untracked key: the
// smallest tracked count once all counters are in use, 0 before (when
// untracked keys have certainly not occurred). Every Error is at most
// MinCount, and MinCount is at most Total/Capacity.
func (t *TopK) MinCount() uint64 {
	if t.capacity == 0 || len(t.counters) < t.capacity {
		return 0
	}
	return t.minc
}

// AddHash adds count occurrences of key, whose hash h must be Hash(key) (the
// sketch relies on equal keys having equal hashes, also across Merge and
// decoding). The key bytes are copied; the caller may reuse its buffer.
// A count of 0 is ignored. Keys must be shorter than 4 GiB.
//
// An update costs a hash-table probe and a write to the key's counter, plus,
// when the minimum count rises, a scan of the counters (at most
// Total/Capacity scans of O(Capacity) each) and a sort of those that reached
// the new minimum unobserved (each sorted entry is used up by a later
// update): amortized O(1) per unit of count plus O(log Capacity) per update.
// Counts that vary (the fixed-point weights of shed-aware counting) make
// levels of one counter, which the summary then lists ahead (see
// topk_summary.go), so that they cost O(log Capacity) amortized per update
// too, not a scan per eviction.
// AddHash does not allocate once the tables have reached the capacity and
// the key regions their steady size. AddHashes takes a batch of keys, and
// is faster where most of them are new.
func (t *TopK) AddHash(h uint64, key []byte, count uint64) {
	if count == 0 {
		return
	}
	if t.capacity == 0 {
		t.init()
	}
	t.total = tkSatAdd(t.total, count)
	// find and raise, written out for the common cases: a key of 4 to 16
	// bytes, and an increment of a counter above the minimum count, which
	// only takes a new count and stamp.
	mask := len(t.table) - 1
	tag := tkTag(h)
	p := t.home(tag)
	if tb := t.table; t.newKeys && tb[p]>>32 != tag && p+4 <= len(tb) {
		// Start at the first slot of the four from home that is empty
		// or holds the key's tag, found without a branch: on a stream of
		// mostly new keys the loop's exit, at a slot that a stale or
		// live entry holds by chance, was mispredicted about once in
		// three updates (BenchmarkTopKAddVsRef/new-keys: 8-12% less
		// time). Where most keys are tracked, the probe ends at home and
		// this would only cost.
		g := (*[4]uint64)(tb[p:])
		empty := tkBit(g[0] == 0) | tkBit(g[1] == 0)<<1 | tkBit(g[2] == 0)<<2 | tkBit(g[3] == 0)<<3 | 1<<4
		same := tkBit(g[1]>>32 == tag)<<1 | tkBit(g[2]>>32 == tag)<<2 | tkBit(g[3]>>32 == tag)<<3 | 1<<4
		p = (p + min(bits.TrailingZeros(uint(empty)), bits.TrailingZeros(uint(same)))) & mask
	}
	for ; t.table[p] != 0; p = (p + 1) & mask {
		s := t.table[p]
		if s>>32 != tag {
			continue
		}
		i := int32(uint32(s)) - 1
		c := &t.counters[i]
		if c.hash != h || int(c.klen) != len(key) {
			continue
		}
		n, le := len(key), binary.LittleEndian
		if uint(n-8) <= tkInline-8 {
			if le.Uint64(c.inline[:8]) != le.Uint64(key) || le.Uint64(c.inline[n-8:n]) != le.Uint64(key[n-8:]) {
				continue
			}
		} else if uint(n-4) <= 3 {
			if le.Uint32(c.inline[:4]) != le.Uint32(key) || le.Uint32(c.inline[n-4:n]) != le.Uint32(key[n-4:]) {
				continue
			}
		} else if !t.keyIs(c, key) {
			continue
		}
		if old, nc := c.count, c.count+count; nc > old && old != t.minc && nc != t.minc+1 && nc > t.lim {
			// Neither leaving the minimum count nor reaching a listed
			// level: the order only needs the new stamp (see raise).
			c.count, c.stamp = nc, t.seq
			t.seq++
			return
		}
		t.raise(i, count)
		return
	}
	if len(t.counters) < t.capacity {
		t.insert(h, key, count)
	} else {
		t.evict(h, key, count, p)
	}
}

// Add adds one occurrence of key.
func (t *TopK) Add(key []byte) { t.AddHash(Hash(key), key, 1) }

// AddString adds one occurrence of s.
func (t *TopK) AddString(s string) { t.AddHash(HashString(s), tkBytes(s), 1) }

// EstimateHash returns the count of key (whose hash h is Hash(key)) with
// certain bounds (Confidence 1). For a tracked key, Value and Upper are its
// count and Lower is count - error. For an untracked key, Value and Lower
// are 0 and Upper is MinCount. Exact is set when the bounds meet.
func (t *TopK) EstimateHash(h uint64, key []byte) Estimate {
	if len(t.counters) != 0 {
		if i := t.lookup(h, key); i != tkNil {
			c := t.count(i)
			lo := c - t.counters[i].err
			return Estimate{Value: float64(c), Lower: float64(lo), Upper: float64(c), Confidence: 1, Exact: lo == c}
		}
	}
	m := t.MinCount()
	return Estimate{Upper: float64(m), Confidence: 1, Exact: m == 0}
}

// Estimate is EstimateHash for key.
func (t *TopK) Estimate(key []byte) Estimate { return t.EstimateHash(Hash(key), key) }

// EstimateString is EstimateHash for s.
func (t *TopK) EstimateString(s string) Estimate { return t.EstimateHash(HashString(s), tkBytes(s)) }

// Top returns the k tracked keys with the largest counts (fewer if fewer are
// tracked), by count descending and, for equal counts, by key bytes
// ascending, so the answer is deterministic.
//
// Guaranteed is the test of Metwally et al.'s top-k query: let B be the
// (k+1)-th largest tracked count, or MinCount when at most k keys are
// tracked. Every key outside the answer has a true count of at most B (a
// tracked one is bounded by its count, an untracked one by MinCount <= B).
// So an item with Lower >= B has a true count at least that of every key not
// listed: at most k-1 keys can have more, and it belongs to the true top k
// (its count is at least the k-th largest true count).
func (t *TopK) Top(k int) []Item {
	n := len(t.counters)
	if k <= 0 || n == 0 {
		return nil
	}
	k = min(k, n)
	idx := t.best(k + 1)
	bound := t.MinCount()
	if len(idx) > k {
		bound = t.count(idx[k])
	}
	// One string holds all the keys, so the answer costs two allocations.
	size := 0
	for _, i := range idx[:k] {
		size += int(t.counters[i].klen)
	}
	buf := make([]byte, 0, size)
	for _, i := range idx[:k] {
		buf = append(buf, t.key(i)...)
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	items := make([]Item, k)
	off := 0
	for j, i := range idx[:k] {
		c, e := t.count(i), t.counters[i].err
		kl := int(t.counters[i].klen)
		items[j] = Item{Key: all[off : off+kl], Count: c, Error: e, Lower: c - e, Upper: c, Guaranteed: c-e >= bound}
		off += kl
	}
	return items
}

// best returns the m tracked keys (all if fewer) that come first by count
// descending and key ascending, in that order. For m well below the number
// of keys n, a heap of the m best so far, its last one at the root, makes
// it O(n log m), not a sort of every key.
func (t *TopK) best(m int) []int32 {
	n := len(t.counters)
	m = min(m, n)
	after := func(x, y int32) bool { // x comes after y
		if cx, cy := t.count(x), t.count(y); cx != cy {
			return cx < cy
		}
		return bytes.Compare(t.key(x), t.key(y)) > 0
	}
	byRank := func(x, y int32) int {
		switch {
		case x == y:
			return 0
		case after(x, y):
			return 1
		}
		return -1 // keys are distinct, so no two counters tie
	}
	if 4*m > n {
		all := make([]int32, n)
		for i := range all {
			all[i] = int32(i)
		}
		slices.SortFunc(all, byRank)
		return all[:m]
	}
	h := make([]int32, 0, m)
	for i := range int32(n) {
		if len(h) < m {
			h = append(h, i)
			for j := len(h) - 1; j > 0 && after(h[j], h[(j-1)/2]); j = (j - 1) / 2 {
				h[j], h[(j-1)/2] = h[(j-1)/2], h[j]
			}
			continue
		}
		if !after(h[0], i) {
			continue
		}
		h[0] = i
		for j := 0; ; {
			c := 2*j + 1
			if c >= m {
				break
			}
			if c+1 < m && after(h[c+1], h[c]) {
				c++
			}
			if !after(h[c], h[j]) {
				break
			}
			h[j], h[c] = h[c], h[j]
			j = c
		}
	}
	slices.SortFunc(h, byRank)
	return h
}

// Reset empties the sketch, keeping its capacity and its memory.
func (t *TopK) Reset() {
	t.init()
	t.clearSummary()
	t.total = 0
}

// Clone returns an independent copy of t that evolves exactly like t under
// the same updates.
func (t *TopK) Clone() *TopK {
	t.init()
	c := *t
	c.counters = slices.Clone(t.counters)
	c.q, c.next = slices.Clone(t.q), slices.Clone(t.next)
	c.res, c.low = slices.Clone(t.res), slices.Clone(t.low)
	c.table = slices.Clone(t.table)
	c.arena = slices.Clone(t.arena)
	c.spare, c.spareC, c.entries, c.ranks, c.scratch, c.words = nil, nil, nil, nil, nil, nil
	return &c
}

// tkSatAdd is a+b, saturating at the largest uint64.
func tkSatAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

// tkBytes views s as bytes without copying; the sketch only reads it.
func tkBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
