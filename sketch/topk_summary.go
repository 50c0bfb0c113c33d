package sketch

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// This file is the stream summary behind TopK (Metwally et al. 2005):
// counters hang in buckets of equal count, and the buckets form a
// doubly linked list by increasing count. A unit increment moves a counter
// to the next bucket, which either has count+1 or is created right there, so
// it costs O(1); the minimum, which Space-Saving replaces, is the head of the
// first bucket. Everything is indices into flat slices: no pointers for the
// garbage collector to trace, and no allocation per update.

// tkNil is the null index of the links.
const tkNil int32 = -1

type tkCounter struct {
	// The fields a hit and a move read come first, in one cache line with
	// a short key: the 64-byte counter needs no access to the arena.
	hash   uint64
	bucket int32
	prev   int32 // neighbours in the bucket, head first: the order in which
	next   int32 // Space-Saving replaces counters when the bucket is the minimum
	klen   uint32
	inline [tkInline]byte // a key of up to tkInline bytes
	err    uint64
	off    int    // a longer key is arena[off : off+klen],
	kcap   uint32 // within a region of kcap bytes owned by this counter
}

type tkBucket struct {
	count      uint64
	head, tail int32 // counters; new arrivals go to the tail
	prev, next int32 // buckets: prev has the smaller count
}

// tkEntry is a counter outside the summary (Merge).
type tkEntry struct {
	hash       uint64
	key        []byte
	count, err uint64
}

// setup makes t an empty sketch with the given capacity, room for presize
// counters before any table grows, and keyBytes of key storage.
func (t *TopK) setup(capacity, presize, keyBytes int) {
	t.capacity = capacity
	t.total = 0
	t.counters = make([]tkCounter, 0, presize)
	t.buckets = make([]tkBucket, 0, presize+1)
	t.table = make([]uint64, tkTableSize(presize))
	t.shift = uint8(32 - bits.TrailingZeros(uint(len(t.table))))
	t.arena = make([]byte, 0, keyBytes)
	t.spare = nil
	t.garbage = 0
	t.freeB, t.minB, t.maxB = tkNil, tkNil, tkNil
}

// clearSummary forgets every counter, keeping the memory.
func (t *TopK) clearSummary() {
	t.counters = t.counters[:0]
	t.buckets = t.buckets[:0]
	t.freeB, t.minB, t.maxB = tkNil, tkNil, tkNil
	clear(t.table)
	t.stale = 0
	t.arena = t.arena[:0]
	t.garbage = 0
}

// tkTableSize is the table length for n counters: a power of two at least 4n.
func tkTableSize(n int) int {
	s := 8
	for s < 4*n {
		s <<= 1
	}
	return s
}

func (t *TopK) count(i int32) uint64 { return t.buckets[t.counters[i].bucket].count }

// key returns the key of counter i. A short key is inside t.counters: the
// slice is valid until the counter changes or the slice reallocates.
func (t *TopK) key(i int32) []byte {
	c := &t.counters[i]
	if c.klen <= tkInline {
		return c.inline[:c.klen]
	}
	return t.arena[c.off : c.off+int(c.klen)]
}

// keyIs reports whether counter c holds key, given that they have the
// same hash. Keys of 8 to 16 bytes, the common case, take two word
// compares (overlapping for fewer than 16), not a call to memequal.
func (t *TopK) keyIs(c *tkCounter, key []byte) bool {
	n := len(key)
	switch {
	case int(c.klen) != n:
		return false
	case n > tkInline:
		return string(t.arena[c.off:c.off+n]) == string(key)
	case n >= 8:
		le := binary.LittleEndian
		return le.Uint64(c.inline[:8]) == le.Uint64(key) && le.Uint64(c.inline[n-8:n]) == le.Uint64(key[n-8:])
	}
	return string(c.inline[:n]) == string(key)
}

// increment adds 1 to the count of counter i: raise for the common case,
// where the counter moves to the next bucket or relabels its own.
func (t *TopK) increment(i int32) {
	b := t.counters[i].bucket
	bk := &t.buckets[b]
	nc := bk.count + 1
	if nc == 0 {
		return // saturated
	}
	if n := bk.next; n != tkNil && t.buckets[n].count == nc {
		t.move(i, n)
		return
	}
	if bk.head == bk.tail {
		bk.count = nc // alone, and no bucket has count nc
		return
	}
	nb := t.newBucket(nc)
	t.linkBucketAfter(nb, b)
	t.move(i, nb)
}

// raise adds w to the count of counter i.
func (t *TopK) raise(i int32, w uint64) {
	b := t.counters[i].bucket
	cur := t.buckets[b].count
	nc := tkSatAdd(cur, w)
	if nc == cur {
		return // saturated
	}
	p := t.below(b, nc)
	if n := t.buckets[p].next; n != tkNil && t.buckets[n].count == nc {
		t.move(i, n)
		return
	}
	if p == b && t.buckets[b].head == t.buckets[b].tail {
		// Alone in its bucket and no bucket in between: relabel the bucket.
		t.buckets[b].count = nc
		return
	}
	nb := t.newBucket(nc)
	t.linkBucketAfter(nb, p)
	t.move(i, nb)
}

// below returns the last bucket with a count below c, starting the search
// at bucket b, whose count is below c. For c = count(b)+1 the walk does not
// run, since counts are distinct integers; a count beyond the maximum goes
// straight to the last bucket; otherwise the walk passes every bucket with a
// count in between.
func (t *TopK) below(b int32, c uint64) int32 {
	if t.buckets[t.maxB].count < c {
		return t.maxB
	}
	for n := t.buckets[b].next; t.buckets[n].count < c; n = t.buckets[n].next {
		b = n
	}
	return b
}

// insert tracks a new key with count w while counters are free.
func (t *TopK) insert(h uint64, key []byte, w uint64) {
	i := t.newCounter(h, key, 0)
	p, n := tkNil, t.minB
	if n != tkNil && t.buckets[n].count < w {
		p = t.below(n, w)
		n = t.buckets[p].next
	}
	if n == tkNil || t.buckets[n].count != w {
		n = t.newBucket(w)
		t.linkBucketAfter(n, p)
	}
	t.push(n, i)
}

// evict is Space-Saving's replacement: the new key takes over the counter
// that has held the minimum count m longest, with count m+w and error m (it
// may have occurred up to m times unseen: its error in Metwally et al. 2005).
//
// slot is the empty table slot where find ended its probe for key: the new
// entry goes there. The old key's entry stays, stale: find passes over it,
// since it points to a counter that now holds another key, and rehash drops
// the stale entries once live and stale ones fill half the table, that is
// after at least Capacity evictions, so it costs O(1) per eviction. This is
// cheaper than deleting at once, which took a probe at a random place of
// the table for every eviction.
func (t *TopK) evict(h uint64, key []byte, w uint64, slot int) {
	mb := t.minB
	v := t.buckets[mb].head
	c := &t.counters[v]
	t.table[slot] = tkTag(h)<<32 | uint64(v+1)
	c.hash, c.err = h, t.buckets[mb].count
	t.storeKey(v, key)
	t.stale++
	if 2*(len(t.counters)+t.stale) > len(t.table) {
		t.rehash()
	}
	if w == 1 {
		t.increment(v)
	} else {
		t.raise(v, w)
	}
}

// appendEntry tracks a key whose count is at most every tracked count, at
// the tail of the minimum bucket: it rebuilds a summary from entries listed
// by decreasing count, in replacement order within a count.
func (t *TopK) appendEntry(h uint64, key []byte, count, err uint64) {
	i := t.newCounter(h, key, err)
	b := t.minB
	if b == tkNil || t.buckets[b].count != count {
		b = t.newBucket(count)
		t.linkBucketAfter(b, tkNil)
	}
	t.push(b, i)
}

func (t *TopK) newCounter(h uint64, key []byte, err uint64) int32 {
	if 4*(len(t.counters)+1) > len(t.table) {
		t.growTable()
	}
	i := int32(len(t.counters))
	t.counters = append(t.counters, tkCounter{hash: h, err: err, bucket: tkNil, prev: tkNil, next: tkNil})
	t.storeKey(i, key)
	t.tableInsert(h, i)
	return i
}

// move takes counter i out of its bucket, freeing the bucket if it empties,
// and appends it to bucket to.
func (t *TopK) move(i, to int32) {
	c := &t.counters[i]
	from := &t.buckets[c.bucket]
	if c.prev == tkNil {
		from.head = c.next
	} else {
		t.counters[c.prev].next = c.next
	}
	if c.next == tkNil {
		from.tail = c.prev
	} else {
		t.counters[c.next].prev = c.prev
	}
	if from.head == tkNil {
		t.freeBucket(c.bucket)
	}
	t.push(to, i)
}

// push appends counter i to bucket b.
func (t *TopK) push(b, i int32) {
	c, bk := &t.counters[i], &t.buckets[b]
	c.bucket, c.prev, c.next = b, bk.tail, tkNil
	if bk.tail == tkNil {
		bk.head = i
	} else {
		t.counters[bk.tail].next = i
	}
	bk.tail = i
}

func (t *TopK) newBucket(count uint64) int32 {
	nb := tkBucket{count: count, head: tkNil, tail: tkNil, prev: tkNil, next: tkNil}
	if b := t.freeB; b != tkNil {
		t.freeB = t.buckets[b].next
		t.buckets[b] = nb
		return b
	}
	t.buckets = append(t.buckets, nb)
	return int32(len(t.buckets) - 1)
}

// linkBucketAfter links bucket b after p, or first if p is tkNil.
func (t *TopK) linkBucketAfter(b, p int32) {
	var n int32
	if p == tkNil {
		n, t.minB = t.minB, b
	} else {
		n, t.buckets[p].next = t.buckets[p].next, b
	}
	t.buckets[b].prev, t.buckets[b].next = p, n
	if n == tkNil {
		t.maxB = b
	} else {
		t.buckets[n].prev = b
	}
}

func (t *TopK) freeBucket(b int32) {
	p, n := t.buckets[b].prev, t.buckets[b].next
	if p == tkNil {
		t.minB = n
	} else {
		t.buckets[p].next = n
	}
	if n == tkNil {
		t.maxB = p
	} else {
		t.buckets[n].prev = p
	}
	t.buckets[b].next = t.freeB
	t.freeB = b
}

// The table packs a slot into a uint64: the top 32 bits of the remixed hash
// (the tag) above the counter index + 1, with 0 for an empty slot. The hash
// is remixed (Fibonacci hashing) because callers partition streams by the
// same hash, so within one partition its low bits may all be equal. A slot's
// home is the top bits of its tag. 8-byte slots keep the table, 4 slots per
// counter, as small as a table of hash+index pairs with 2 slots per counter.
func tkTag(h uint64) uint64 { return (h * 0x9e3779b97f4a7c15) >> 32 }

func (t *TopK) home(tag uint64) int { return int(tag >> t.shift) }

// lookup returns the counter of key, or tkNil.
func (t *TopK) lookup(h uint64, key []byte) int32 {
	i, _ := t.find(h, key)
	return i
}

// find returns the counter of key, or tkNil and the empty slot where the
// key's entry would go.
func (t *TopK) find(h uint64, key []byte) (int32, int) {
	mask := len(t.table) - 1
	tag := tkTag(h)
	for p := t.home(tag); ; p = (p + 1) & mask {
		s := t.table[p]
		if s == 0 {
			return tkNil, p
		}
		if s>>32 == tag {
			i := int32(uint32(s)) - 1
			if c := &t.counters[i]; c.hash == h && t.keyIs(c, key) {
				return i, p
			}
		}
	}
}

func (t *TopK) tableInsert(h uint64, i int32) {
	mask := len(t.table) - 1
	tag := tkTag(h)
	p := t.home(tag)
	for t.table[p] != 0 {
		p = (p + 1) & mask
	}
	t.table[p] = tag<<32 | uint64(i+1)
}

// rehash rebuilds the table from the counters, dropping the stale entries.
func (t *TopK) rehash() {
	clear(t.table)
	t.stale = 0
	for i := range t.counters {
		t.tableInsert(t.counters[i].hash, int32(i))
	}
}

func (t *TopK) growTable() {
	t.table = make([]uint64, 2*len(t.table))
	t.shift--
	t.stale = 0
	for i := range t.counters {
		t.tableInsert(t.counters[i].hash, int32(i))
	}
}

// tkInline is the longest key a counter holds inline. Longer keys live in
// the arena.
const tkInline = 16

// tkKeyAlign is the granularity of key regions in the arena: a counter
// keeps its region when a key of up to the same rounded length replaces its
// key, and also while it holds short keys.
const tkKeyAlign = 16

func tkKeyCap(n int) int { return max(tkKeyAlign, (n+tkKeyAlign-1)&^(tkKeyAlign-1)) }

// storeKey copies key into counter i, inline or into its region, moving
// the counter to a new, larger region at the end of the arena if it does
// not fit.
func (t *TopK) storeKey(i int32, key []byte) {
	c := &t.counters[i]
	if len(key) <= tkInline {
		c.klen = uint32(len(key))
		copy(c.inline[:], key)
		return
	}
	if len(key) > int(c.kcap) {
		if len(key) > math.MaxUint32-tkKeyAlign {
			panic("sketch: TopK key of 4 GiB or more")
		}
		t.garbage += int(c.kcap)
		kc := tkKeyCap(len(key))
		c.off, c.kcap = len(t.arena), uint32(kc)
		t.arena = slices.Grow(t.arena, kc)[:c.off+kc]
		if t.garbage > len(t.arena)/2 {
			// Only a move makes garbage, so only a move can compact.
			c.klen = uint32(len(key))
			copy(t.arena[c.off:], key)
			t.compact()
			return
		}
	}
	c.klen = uint32(len(key))
	copy(t.arena[c.off:], key)
}

// compact copies the live long keys into spare, shrinking each region to
// its key and dropping the regions of counters that hold short keys, and
// swaps the two buffers. It runs when garbage exceeds half the arena, so
// its cost is amortized over the bytes that became garbage; the two
// buffers stop growing once key lengths settle.
func (t *TopK) compact() {
	live := 0
	for i := range t.counters {
		if kl := int(t.counters[i].klen); kl > tkInline {
			live += tkKeyCap(kl)
		}
	}
	dst := slices.Grow(t.spare[:0], live)
	for i := range t.counters {
		c := &t.counters[i]
		if c.klen <= tkInline {
			c.off, c.kcap = 0, 0
			continue
		}
		off, kc := len(dst), tkKeyCap(int(c.klen))
		dst = dst[:off+kc]
		copy(dst[off:], t.arena[c.off:c.off+int(c.klen)])
		c.off, c.kcap = off, uint32(kc)
	}
	t.spare, t.arena = t.arena[:0], dst
	t.garbage = 0
}
