package sketch

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"

	"github.com/streamstat/streamstat/internal/quickselect"
)

// This file is the stream summary behind TopK (Metwally et al. 2005),
// kept in a form whose updates touch as little memory as possible.
//
// Space-Saving replaces the counter that has held the minimum count
// longest. Metwally et al. keep that order in buckets of equal count, linked
// by increasing count, and move a counter to the next bucket on every
// increment: several dependent accesses to other counters and buckets per
// update. Here a counter holds its count and a stamp, the time (from a
// sequence number) at which it reached that count; the order of the stream
// summary is the order of (count, stamp), and only its minimum level is
// kept in order:
//
//   - q lists, by stamp, the counters with the minimum count minc, among
//     entries that have gone stale (a counter whose stamp no longer matches
//     has moved on). No counter can arrive at the minimum count, so q stays
//     complete until all atMin counters have left it.
//   - next lists, by stamp, the counters that reached minc+1 since q was
//     built (they can only come from minc).
//   - When the minimum level empties, a scan of the counters finds the new
//     minimum; the counters that reached it before next was started (those
//     with an older stamp) are sorted by stamp and put before the live
//     entries of next. The minimum only rises, so the scans cost O(k) at
//     most MinCount <= N/k times: O(1) per unit of count, amortized. Each
//     sorted entry is used up by a later update of its counter.
//   - On a stream of mostly new keys nearly every counter holds minc or
//     minc+1, and the minimum rises by one every k updates. A round in
//     which every counter reached minc+1 leaves next listing them all in
//     order: it becomes q without a scan. When a few counters stand
//     higher (a key seen twice), the scan lists them for the tkAhead
//     levels above (listAhead, with the lists below), so one scan serves
//     tkAhead rises of the minimum.
//   - Weighted updates jump levels: counts are then mostly distinct, the
//     minimum level holds one counter, and a scan per eviction would cost
//     O(k) each time. So when a scan finds fewer than k/32 counters at the
//     minimum, it also lists the counters of the next levels up to a limit
//     lim (the k/2-th smallest count, found by selection), sorted by
//     (count, stamp), in res; counters that arrive in (minc+1, lim] later
//     go to low, a binary heap by (count, stamp). When the minimum level
//     empties, the next one is assembled from res, low and next in
//     O(log k) per counter, and the scan comes back only once every listed
//     counter has passed lim: after at least k/2 updates. A scan costs
//     O(k log k) at most (a pass, a selection and a sort of k/2 entries),
//     so an update costs O(log k) amortized whatever the counts.
//
// An increment is then a write to the counter the table probe found, plus
// a compare with minc. Everything is in flat slices: no pointers for the
// garbage collector to trace, and no allocation per update.

// tkNil is the null counter index.
const tkNil int32 = -1

type tkCounter struct {
	// The fields a hit reads and writes come first, in one cache line with
	// a short key: a 64-byte counter, no access to the arena.
	hash   uint64
	count  uint64
	stamp  uint64 // when the counter reached count: its place in the order
	klen   uint32
	inline [tkInline]byte // a key of up to tkInline bytes
	kcap   uint32         // a longer key is arena[off : off+klen], within
	off    int            // a region of kcap bytes owned by this counter
	err    uint64
}

// tkRef is an entry of the minimum queues: counter i, valid while the
// counter's stamp is still stamp.
type tkRef struct {
	stamp uint64
	i     int32
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
	t.table = make([]uint64, tkTableSize(presize))
	t.shift = uint8(32 - bits.TrailingZeros(uint(len(t.table))))
	t.arena = make([]byte, 0, keyBytes)
	t.spare = nil
	t.garbage = 0
	t.q = make([]tkRef, 0, presize)
	t.next = make([]tkRef, 0, presize)
	t.clearOrder()
}

// clearSummary forgets every counter, keeping the memory.
func (t *TopK) clearSummary() {
	t.counters = t.counters[:0]
	clear(t.table)
	t.stale = 0
	t.arena = t.arena[:0]
	t.garbage = 0
	t.clearOrder()
}

func (t *TopK) clearOrder() {
	t.seq, t.minc, t.atMin, t.rehashAt = 0, 0, 0, 0
	t.q, t.qh, t.next, t.nextFrom = t.q[:0], 0, t.next[:0], 0
	t.res, t.rh, t.low, t.lim = t.res[:0], 0, t.low[:0], 0
}

// tkTableSize is the table length for n counters: a power of two at least 8n.
func tkTableSize(n int) int {
	s := 8
	for s < 8*n {
		s <<= 1
	}
	return s
}

func (t *TopK) count(i int32) uint64 { return t.counters[i].count }

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
// same hash.
func (t *TopK) keyIs(c *tkCounter, key []byte) bool {
	n := len(key)
	switch {
	case int(c.klen) != n:
		return false
	case uint(n-4) <= tkInline-4:
		return tkShortEq(&c.inline, key)
	}
	return t.keyIsSlow(c, key)
}

// tkShortEq reports whether a key of 4 to 16 bytes is a[:len(key)]. The
// four 4-byte windows at 0, min(4, n-4), max(n-8, 0) and n-4 cover any
// such key, so keys of different lengths take the same path: a branch on
// the length would be mispredicted on a stream of mixed lengths (the
// "key-N" of the CLI benchmark have 5 to 11 bytes).
func tkShortEq(a *[tkInline]byte, key []byte) bool {
	n := len(key)
	o1, o2, o3 := min(4, n-4), max(n-8, 0), n-4
	le := binary.LittleEndian
	x := le.Uint32(a[:]) ^ le.Uint32(key)
	x |= le.Uint32(a[o1:]) ^ le.Uint32(key[o1:])
	x |= le.Uint32(a[o2:]) ^ le.Uint32(key[o2:])
	x |= le.Uint32(a[o3:]) ^ le.Uint32(key[o3:])
	return x == 0
}

// tkShortCopy copies a key of 4 to 16 bytes into a, by the windows of
// tkShortEq.
func tkShortCopy(a *[tkInline]byte, key []byte) {
	n := len(key)
	o1, o2, o3 := min(4, n-4), max(n-8, 0), n-4
	le := binary.LittleEndian
	le.PutUint32(a[:], le.Uint32(key))
	le.PutUint32(a[o1:], le.Uint32(key[o1:]))
	le.PutUint32(a[o2:], le.Uint32(key[o2:]))
	le.PutUint32(a[o3:], le.Uint32(key[o3:]))
}

func (t *TopK) keyIsSlow(c *tkCounter, key []byte) bool {
	if len(key) > tkInline {
		return string(t.arena[c.off:c.off+len(key)]) == string(key)
	}
	return string(c.inline[:len(key)]) == string(key)
}

// full reports whether all counters are in use: from then on the order of
// the minimum level is kept.
func (t *TopK) full() bool { return len(t.counters) == t.capacity }

// raise adds w to the count of counter i, which moves to the end of the
// order among the counters with its new count.
func (t *TopK) raise(i int32, w uint64) {
	c := &t.counters[i]
	old := c.count
	nc := old + w
	if nc < old {
		nc = math.MaxUint64
	}
	if nc == old {
		return // saturated
	}
	c.count, c.stamp = nc, t.seq
	t.seq++
	if !t.full() {
		return
	}
	if nc == t.minc+1 {
		t.next = append(t.next, tkRef{c.stamp, i})
	} else if nc <= t.lim {
		t.pushLow(tkOrd{nc, c.stamp, i})
	}
	if old == t.minc {
		if t.atMin--; t.atMin == 0 {
			t.nextLevel()
		}
	}
}

// insert tracks a new key with count w while counters are free.
func (t *TopK) insert(h uint64, key []byte, w uint64) {
	t.appendEntry(h, key, w, 0)
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
	v := t.popMin()
	c := &t.counters[v]
	t.table[slot] = tkTag(h)<<32 | uint64(v+1)
	m := c.count
	c.hash, c.err = h, m
	n := len(key)
	short := uint(n-4) <= tkInline-4
	if short {
		c.klen = uint32(n)
		tkShortCopy(&c.inline, key)
	}
	// raise, for a counter that leaves the minimum count. The calls come
	// last, each on a path rarely taken, so that the common path keeps its
	// values in registers.
	if nc := tkSatAdd(m, w); nc != m {
		c.count, c.stamp = nc, t.seq
		t.seq++
		if nc == m+1 {
			t.next = append(t.next, tkRef{c.stamp, v})
		} else if nc <= t.lim {
			t.pushLow(tkOrd{nc, c.stamp, v})
		}
		t.atMin--
	} else {
		// Saturated: the counter keeps its count and stamp, so it is
		// still the first to replace, and its entry goes back in q.
		t.qh--
	}
	if !short {
		t.storeKey(v, key)
	}
	t.stale++
	if 2*(len(t.counters)+t.stale) > len(t.table) {
		t.rehash()
	}
	if t.atMin == 0 {
		t.nextLevel()
	}
}

// popMin returns the counter that has held the minimum count longest,
// dropping it and the stale entries before it from q. It is in q: q holds
// every counter with the minimum count, and there is one (atMin > 0).
func (t *TopK) popMin() int32 {
	for {
		r := t.q[t.qh]
		t.qh++
		if t.counters[r.i].stamp == r.stamp {
			return r.i
		}
	}
}

// appendEntry tracks a key with the given count, which is at most every
// tracked count, or any count while counters are free (insert); it goes
// last in the order among the counters with that count.
func (t *TopK) appendEntry(h uint64, key []byte, count, err uint64) {
	if 4*(len(t.counters)+1) > len(t.table) {
		t.growTable()
	}
	i := int32(len(t.counters))
	t.counters = append(t.counters, tkCounter{hash: h, count: count, stamp: t.seq, err: err})
	t.seq++
	t.storeKey(i, key)
	t.tableInsert(h, i)
	if t.full() {
		t.minc = 0
		t.next, t.nextFrom = t.next[:0], t.seq // every counter is older
		t.scanMin()
	}
}

// scanMin rebuilds q, after the minimum level emptied or when the last
// counter came into use: it finds the minimum count m, sorts by stamp the
// counters with count m that next does not list (those that reached m
// before next was started, or all if m is not minc+1), and appends next.
// next starts anew for count m+1. When next lists every counter, it is
// the new minimum level as it stands, and no scan is needed.
func (t *TopK) scanMin() {
	cs := t.counters
	live := t.next[:0]
	for _, r := range t.next {
		if cs[r.i].stamp == r.stamp {
			live = append(live, r)
		}
	}
	t.next = live
	if len(live) == len(cs) {
		// Every counter reached minc+1 since next was started, as in a
		// round of evictions by new keys: next is the whole new minimum
		// level, in order, and the scan would find nothing else.
		t.q, t.qh, t.next, t.nextFrom = live, 0, t.q[:0], t.seq
		t.minc, t.atMin = t.minc+1, len(cs)
		t.listLevels(len(cs))
		return
	}
	t.scans++
	m := uint64(math.MaxUint64)
	if len(live) > 0 {
		m = t.minc + 1 // nothing is below, the minimum level being empty
	} else {
		for i := range cs {
			m = min(m, cs[i].count)
		}
	}
	from := t.nextFrom // counters with count m and an older stamp are not in next
	if m != t.minc+1 {
		from = math.MaxUint64 // next lists none
	}
	// About half the counters may hold the minimum: without branches on
	// the counts, this loop does not pay a misprediction for each.
	q := slices.Grow(t.q[:0], len(cs))[:len(cs)]
	w, n := 0, 0
	for i := range cs {
		c := &cs[i]
		at := tkBit(c.count == m)
		n += at
		q[w] = tkRef{c.stamp, int32(i)}
		w += at & tkBit(c.stamp < from)
	}
	q = q[:w]
	t.sortByStamp(q)
	if from != math.MaxUint64 {
		q = append(q, live...)
	}
	t.q, t.qh = q, 0
	t.next, t.nextFrom = t.next[:0], t.seq
	t.minc, t.atMin = m, n
	t.listLevels(n)
}

// listLevels lists, after a scan that found n counters at the minimum,
// the counters of the next levels up to half of all counters in res (see
// the file comment), if the minimum level holds under 1/32 of them; or
// the few counters of the tkAhead levels above (listAhead), if it holds
// all but 1/16 of them. Otherwise lim stays at the minimum and the next
// level comes from a scan, as for unit counts and small weights, whose
// levels are large enough to pay for it (there the lists cost more than
// they save).
func (t *TopK) listLevels(n int) {
	cs, m := t.counters, t.minc
	t.res, t.rh, t.low, t.lim = t.res[:0], 0, t.low[:0], m
	if n == len(cs) {
		return
	}
	if 16*(len(cs)-n) <= t.capacity {
		t.listAhead()
		return
	}
	if 32*n >= t.capacity {
		return
	}
	want := t.capacity/2 - n
	ws := t.words[:0]
	for i := range cs {
		if c := cs[i].count; c > m {
			ws = append(ws, c)
		}
	}
	lim := quickselect.Select(ws, min(want, len(ws))-1)
	t.words = ws
	res := t.res
	for i := range cs {
		if c := &cs[i]; c.count > m && c.count <= lim {
			res = append(res, tkOrd{c.count, c.stamp, int32(i)})
		}
	}
	slices.SortFunc(res, tkOrdCmp)
	t.res, t.lim = res, lim
}

// tkAhead is how many levels above the minimum listAhead lists.
const tkAhead = 8

// listAhead lists the counters of the tkAhead levels above the minimum,
// when nearly all counters hold the minimum (see listLevels). Unit counts
// on a stream of mostly new keys keep them there: every eviction moves a
// counter up by one, so the minimum rises by one every Capacity updates,
// and a hit here and there lifts a few counters a level or two higher.
// Without the lists each rise took a scan of all counters to find those
// few; with them, one scan serves tkAhead rises, and the few updates that
// reach a listed level pay a heap push.
func (t *TopK) listAhead() {
	m := t.minc
	lim := m + min(tkAhead, math.MaxUint64-m)
	res := t.res[:0]
	for i := range t.counters {
		if c := &t.counters[i]; c.count > m && c.count <= lim {
			res = append(res, tkOrd{c.count, c.stamp, int32(i)})
		}
	}
	slices.SortFunc(res, tkOrdCmp)
	t.res, t.lim = res, lim
}

// nextLevel makes the next level the minimum once the minimum level has
// emptied: from the lists if they hold it (its count is at most lim),
// from a scan otherwise.
func (t *TopK) nextLevel() {
	if t.lim <= t.minc {
		t.scanMin()
		return
	}
	cs := t.counters
	m := uint64(math.MaxUint64)
	for _, r := range t.next {
		if cs[r.i].stamp == r.stamp {
			m = t.minc + 1 // nothing is below
			break
		}
	}
	for t.rh < len(t.res) && cs[t.res[t.rh].i].stamp != t.res[t.rh].stamp {
		t.rh++
	}
	if t.rh < len(t.res) {
		m = min(m, t.res[t.rh].count)
	}
	for len(t.low) > 0 && cs[t.low[0].i].stamp != t.low[0].stamp {
		t.popLow()
	}
	if len(t.low) > 0 {
		m = min(m, t.low[0].count)
	}
	if m > t.lim {
		t.scanMin()
		return
	}
	// The counters now at m: those listed by the last scan (the oldest),
	// then those that arrived at m later, while the minimum was below
	// m-1 (low, by stamp), then those that arrived while it was m-1
	// (next, the newest).
	q := t.q[:0]
	for ; t.rh < len(t.res); t.rh++ {
		if o := t.res[t.rh]; cs[o.i].stamp == o.stamp {
			if o.count != m {
				break
			}
			q = append(q, tkRef{o.stamp, o.i})
		}
	}
	for len(t.low) > 0 {
		if o := t.low[0]; cs[o.i].stamp == o.stamp {
			if o.count != m {
				break
			}
			q = append(q, tkRef{o.stamp, o.i})
		}
		t.popLow()
	}
	if m == t.minc+1 {
		for _, r := range t.next {
			if cs[r.i].stamp == r.stamp {
				q = append(q, r)
			}
		}
	}
	t.q, t.qh = q, 0
	t.next, t.nextFrom = t.next[:0], t.seq
	t.minc, t.atMin = m, len(q)
}

func tkOrdCmp(x, y tkOrd) int {
	if x.count != y.count {
		return cmp.Compare(x.count, y.count)
	}
	return cmp.Compare(x.stamp, y.stamp)
}

// pushLow adds o to the heap low. A counter has one live entry at most, so
// once stale entries make up over half of a heap of more than 2k entries,
// dropping them costs O(1) per entry pushed since.
func (t *TopK) pushLow(o tkOrd) {
	if len(t.low) >= 2*t.capacity+16 {
		t.pruneLow()
	}
	h := append(t.low, o)
	for j := len(h) - 1; j > 0; {
		p := (j - 1) / 2
		if tkOrdCmp(h[j], h[p]) >= 0 {
			break
		}
		h[j], h[p] = h[p], h[j]
		j = p
	}
	t.low = h
}

// popLow removes the root of low.
func (t *TopK) popLow() {
	h := t.low
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	t.low = h
	t.siftDownLow(0)
}

func (t *TopK) siftDownLow(j int) {
	h := t.low
	n := len(h)
	for {
		c := 2*j + 1
		if c >= n {
			return
		}
		if c+1 < n && tkOrdCmp(h[c+1], h[c]) < 0 {
			c++
		}
		if tkOrdCmp(h[c], h[j]) >= 0 {
			return
		}
		h[j], h[c] = h[c], h[j]
		j = c
	}
}

// pruneLow drops the stale entries of low and restores the heap order.
func (t *TopK) pruneLow() {
	h := t.low[:0]
	for _, o := range t.low {
		if t.counters[o.i].stamp == o.stamp {
			h = append(h, o)
		}
	}
	t.low = h
	for j := len(h)/2 - 1; j >= 0; j-- {
		t.siftDownLow(j)
	}
}

// sortByStamp sorts q by stamp. While stamps fit in 64-22 bits (4 * 10^12
// updates) a stamp and a counter index (below MaxTopKCapacity = 2^22) pack
// into one word, and sorting words is several times faster than sorting
// with a comparison function: this sort is most of scanMin's cost under
// weighted updates, which make many counters reach the minimum unlisted.
func (t *TopK) sortByStamp(q []tkRef) {
	if t.seq >= 1<<(64-22) {
		slices.SortFunc(q, func(a, b tkRef) int { return cmp.Compare(a.stamp, b.stamp) })
		return
	}
	ws := slices.Grow(t.words[:0], len(q))[:len(q)]
	for j, r := range q {
		ws[j] = r.stamp<<22 | uint64(r.i)
	}
	slices.Sort(ws)
	for j, x := range ws {
		q[j] = tkRef{x >> 22, int32(x & (1<<22 - 1))}
	}
	t.words = ws
}

func tkBit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// order returns the counters by decreasing count and, within a count, in
// the order in which Space-Saving replaces them (by stamp), in scratch.
func (t *TopK) order() []tkOrd {
	o := t.scratch[:0]
	for i := range t.counters {
		c := &t.counters[i]
		o = append(o, tkOrd{c.count, c.stamp, int32(i)})
	}
	slices.SortFunc(o, func(x, y tkOrd) int {
		if x.count != y.count {
			return cmp.Compare(y.count, x.count)
		}
		return cmp.Compare(x.stamp, y.stamp)
	})
	t.scratch = o
	return o
}

// tkOrd is a counter's place in the order, copied out so that sorting does
// not chase indices.
type tkOrd struct {
	count, stamp uint64
	i            int32
}
