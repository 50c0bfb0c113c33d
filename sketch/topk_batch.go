package sketch

import "unsafe"

// The batch update of TopK (AddHashes): the common update of a stream of
// mostly new keys, a new key replacing the minimum, runs in one loop over
// the batch (tkEvictRun, in assembly where there is one) that keeps the
// summary's state in registers; any other update leaves the loop and goes
// through AddHash.

// AddHashes adds the keys of a batch in order, each with count 1, with
// the same result as AddHash(hashes[i], keys[i], 1) on each in turn
// (weighted updates gain nothing from a batch: use AddHash). keys must be
// at least as long as hashes. The key bytes are copied.
//
// On a stream of mostly new keys nearly every update replaces the key of
// the counter at the minimum count. AddHashes does those
// updates (of keys of 1 byte or more that fit where the counter keeps its
// key), and the common hits, in one loop over the batch, on amd64 in
// assembly, which AddHash key by key cannot: BenchmarkTopKAddHashes
// (go test -run XXX -bench BenchmarkTopKAddHashes -benchtime 3s ./sketch),
// at capacity 4096 on keys nearly all new, gives 0.61-0.72 of AddHash's
// time (8 to 128 bytes), 0.95 on Zipf keys. Elsewhere every update goes
// through AddHash. It does not allocate once the tables have reached the
// capacity and the key regions their steady size (see AddHash).
func (t *TopK) AddHashes(hashes []uint64, keys [][]byte) {
	keys = keys[:len(hashes)]
	skip := tkRunMin
	for len(hashes) > 0 {
		n := 0
		if len(t.counters) == t.capacity && t.capacity > 0 {
			n = t.evictRun(hashes, keys)
		}
		if n < tkRunMin {
			// The loop stopped early, at a key it does not take (a hit,
			// a key that does not fit its counter, the end of a level):
			// the next skip keys go through AddHash, skip doubling while
			// the loop keeps stopping early, so that a stream of mostly
			// tracked keys does not pay for entering it at each one.
			m := min(n+skip, len(hashes))
			for i := n; i < m; i++ {
				t.AddHash(hashes[i], keys[i], 1)
			}
			n, skip = m, min(2*skip, tkRunMax)
		} else {
			skip = tkRunMin
		}
		hashes, keys = hashes[n:], keys[n:]
	}
}

// tkAheadSlots is how many keys ahead tkEvictRun asks for the table slot
// of a key, and tkAheadMin how many entries ahead in q for the counter
// that key may replace, so that both are in the cache when their turn
// comes.
const (
	tkAheadSlots = 8
	tkAheadMin   = 4
)

// After the eviction loop stopped before tkRunMin keys, tkRunMin keys go
// through AddHash before it is tried again, then twice as many up to
// tkRunMax while it keeps stopping early.
const (
	tkRunMin = 8
	tkRunMax = 256
)

// tkRun is the state tkEvictRun works on: the fields of a TopK that an
// eviction of the minimum changes, and the bounds within which it may.
type tkRun struct {
	table    unsafe.Pointer // &table[0]
	end      uintptr        // the address past the table's end, where a probe would wrap
	shift    uint64
	counters unsafe.Pointer // &counters[0]
	q        unsafe.Pointer // &q[0]
	qh       uint64
	qLen     uint64
	next     unsafe.Pointer // &next[:cap(next)][0]
	nextLen  uint64
	nextCap  uint64
	arena    unsafe.Pointer // &arena[0], where a counter's region starts at its off
	minc     uint64         // a hit on a counter at minc leaves for next; below lim, it needs raise
	lim      uint64
	seq      uint64
	total    uint64
	atMin    uint64
	stale    uint64
	maxStale uint64 // rehash once stale exceeds it
}

// evictRun updates t with the keys from the start of keys, with a count
// of 1, that replace the minimum (new keys of 1 byte or more that fit the
// counter they replace, inline or in its region) or hit a tracked key as
// AddHash's common hit does, and whose update needs nothing else (no
// rehash, no next level, no growth of next, no saturated count, no probe
// that wraps at the table's end), and returns how many it took.
func (t *TopK) evictRun(hs []uint64, keys [][]byte) int {
	if !tkHasEvictRun || t.atMin < 2 || len(t.q) == 0 || cap(t.next) == 0 {
		return 0
	}
	next := t.next[:cap(t.next)]
	r := tkRun{
		table:    unsafe.Pointer(&t.table[0]),
		end:      uintptr(unsafe.Pointer(&t.table[0])) + uintptr(8*len(t.table)),
		shift:    uint64(t.shift),
		counters: unsafe.Pointer(&t.counters[0]),
		q:        unsafe.Pointer(&t.q[0]),
		qh:       uint64(t.qh),
		qLen:     uint64(len(t.q)),
		next:     unsafe.Pointer(&next[0]),
		nextLen:  uint64(len(t.next)),
		nextCap:  uint64(cap(t.next)),
		arena:    unsafe.Pointer(unsafe.SliceData(t.arena)),
		minc:     t.minc,
		lim:      t.lim,
		seq:      t.seq,
		total:    t.total,
		atMin:    uint64(t.atMin),
		stale:    uint64(t.stale),
		maxStale: uint64(max(0, len(t.table)/2-len(t.counters))),
	}
	n := tkEvictRun(&r, unsafe.Pointer(&hs[0]), unsafe.Pointer(&keys[0]), len(hs))
	if n == 0 {
		return 0
	}
	t.qh = int(r.qh)
	t.next = next[:r.nextLen]
	t.seq, t.total = r.seq, r.total
	t.atMin, t.stale = int(r.atMin), int(r.stale)
	return n
}
