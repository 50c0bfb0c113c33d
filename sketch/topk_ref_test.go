package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// This file keeps TopK as it was before its counters held their counts and
// short keys (commit 4dfae45, Metwally et al.'s buckets of equal count):
// refTopK is that TopK, cut to what updates and encoding need, so that a
// test can check that both build the same state from the same updates and
// a benchmark can measure both on the same events in the same run.

func newRefTopK(capacity int) *refTopK {
	t := new(refTopK)
	t.setup(capacity, capacity, capacity*refKeyAlign)
	return t
}

// appendBinary is TopK.AppendBinary as it was.
func (t *refTopK) appendBinary(dst []byte) []byte {
	hdr := envelope.Header{Kind: envelope.KindTopK, HashID: envelope.HashXXH64}
	hdr.Shape = [4]uint64{uint64(t.capacity), uint64(len(t.counters)), t.total, 0}
	dst, start := envelope.Begin(dst, hdr)
	for b := t.maxB; b != tkNil; b = t.buckets[b].prev {
		count := t.buckets[b].count
		for i := t.buckets[b].head; i != tkNil; i = t.counters[i].next {
			key := t.key(i)
			dst = binary.AppendUvarint(dst, uint64(len(key)))
			dst = append(dst, key...)
			dst = binary.AppendUvarint(dst, count)
			dst = binary.AppendUvarint(dst, t.counters[i].err)
		}
	}
	return envelope.End(dst, start)
}

type refTopK struct {
	capacity int
	total    uint64

	// The stream summary: counters grouped into buckets of equal count,
	// buckets in a doubly linked list by increasing count (minB first).
	// Links are indices, so the structure is a few flat slices that updates
	// never allocate in once they have grown to the capacity.
	counters   []refCounter
	buckets    []refBucket
	freeB      int32 // free list of buckets, linked through next
	minB, maxB int32

	// table maps a key to its counter: open addressing with linear probing
	// on the key's hash. Live entries fill at most a quarter of it, and the
	// stale entries that evictions leave behind at most another quarter.
	table []uint64
	shift uint8 // 32 - log2(len(table))
	stale int   // entries of replaced keys, until rehash drops them

	// arena holds the keys: each counter owns a region of kcap bytes.
	// Regions given up when a longer key replaces a shorter one are garbage
	// until compact copies the live ones into spare.
	arena   []byte
	spare   []byte
	garbage int

	entries []tkEntry // Merge scratch
}

func (t *refTopK) AddHash(h uint64, key []byte, count uint64) {
	if count == 0 {
		return
	}
	t.total = tkSatAdd(t.total, count)
	i, slot := t.find(h, key)
	switch {
	case i != tkNil && count == 1:
		t.increment(i)
	case i != tkNil:
		t.raise(i, count)
	case len(t.counters) < t.capacity:
		t.insert(h, key, count)
	default:
		t.evict(h, key, count, slot)
	}
}

type refCounter struct {
	hash   uint64
	err    uint64
	off    int    // the key is arena[off : off+klen]
	klen   uint32 // within a region of kcap bytes owned by this counter
	kcap   uint32
	bucket int32
	prev   int32 // neighbours in the bucket, head first: the order in which
	next   int32 // Space-Saving replaces counters when the bucket is the minimum
}

type refBucket struct {
	count      uint64
	head, tail int32 // counters; new arrivals go to the tail
	prev, next int32 // buckets: prev has the smaller count
}

func (t *refTopK) setup(capacity, presize, keyBytes int) {
	t.capacity = capacity
	t.total = 0
	t.counters = make([]refCounter, 0, presize)
	t.buckets = make([]refBucket, 0, presize+1)
	t.table = make([]uint64, refTableSize(presize))
	t.shift = uint8(32 - bits.TrailingZeros(uint(len(t.table))))
	t.arena = make([]byte, 0, keyBytes)
	t.spare = nil
	t.garbage = 0
	t.freeB, t.minB, t.maxB = tkNil, tkNil, tkNil
}

func refTableSize(n int) int {
	s := 8
	for s < 4*n {
		s <<= 1
	}
	return s
}

func (t *refTopK) count(i int32) uint64 { return t.buckets[t.counters[i].bucket].count }

func (t *refTopK) key(i int32) []byte {
	c := &t.counters[i]
	return t.arena[c.off : c.off+int(c.klen)]
}

func (t *refTopK) increment(i int32) {
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

func (t *refTopK) raise(i int32, w uint64) {
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

func (t *refTopK) below(b int32, c uint64) int32 {
	if t.buckets[t.maxB].count < c {
		return t.maxB
	}
	for n := t.buckets[b].next; t.buckets[n].count < c; n = t.buckets[n].next {
		b = n
	}
	return b
}

func (t *refTopK) insert(h uint64, key []byte, w uint64) {
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

func (t *refTopK) evict(h uint64, key []byte, w uint64, slot int) {
	mb := t.minB
	v := t.buckets[mb].head
	c := &t.counters[v]
	t.table[slot] = refTag(h)<<32 | uint64(v+1)
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

func (t *refTopK) newCounter(h uint64, key []byte, err uint64) int32 {
	if 4*(len(t.counters)+1) > len(t.table) {
		t.growTable()
	}
	i := int32(len(t.counters))
	t.counters = append(t.counters, refCounter{hash: h, err: err, bucket: tkNil, prev: tkNil, next: tkNil})
	t.storeKey(i, key)
	t.tableInsert(h, i)
	return i
}

func (t *refTopK) move(i, to int32) {
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

func (t *refTopK) push(b, i int32) {
	c, bk := &t.counters[i], &t.buckets[b]
	c.bucket, c.prev, c.next = b, bk.tail, tkNil
	if bk.tail == tkNil {
		bk.head = i
	} else {
		t.counters[bk.tail].next = i
	}
	bk.tail = i
}

func (t *refTopK) newBucket(count uint64) int32 {
	nb := refBucket{count: count, head: tkNil, tail: tkNil, prev: tkNil, next: tkNil}
	if b := t.freeB; b != tkNil {
		t.freeB = t.buckets[b].next
		t.buckets[b] = nb
		return b
	}
	t.buckets = append(t.buckets, nb)
	return int32(len(t.buckets) - 1)
}

func (t *refTopK) linkBucketAfter(b, p int32) {
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

func (t *refTopK) freeBucket(b int32) {
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

func refTag(h uint64) uint64 { return (h * 0x9e3779b97f4a7c15) >> 32 }

func (t *refTopK) home(tag uint64) int { return int(tag >> t.shift) }

func (t *refTopK) lookup(h uint64, key []byte) int32 {
	i, _ := t.find(h, key)
	return i
}

func (t *refTopK) find(h uint64, key []byte) (int32, int) {
	mask := len(t.table) - 1
	tag := refTag(h)
	for p := t.home(tag); ; p = (p + 1) & mask {
		s := t.table[p]
		if s == 0 {
			return tkNil, p
		}
		if s>>32 == tag {
			i := int32(uint32(s)) - 1
			c := &t.counters[i]
			if c.hash == h && string(t.arena[c.off:c.off+int(c.klen)]) == string(key) {
				return i, p
			}
		}
	}
}

func (t *refTopK) tableInsert(h uint64, i int32) {
	mask := len(t.table) - 1
	tag := refTag(h)
	p := t.home(tag)
	for t.table[p] != 0 {
		p = (p + 1) & mask
	}
	t.table[p] = tag<<32 | uint64(i+1)
}

func (t *refTopK) rehash() {
	clear(t.table)
	t.stale = 0
	for i := range t.counters {
		t.tableInsert(t.counters[i].hash, int32(i))
	}
}

func (t *refTopK) growTable() {
	t.table = make([]uint64, 2*len(t.table))
	t.shift--
	t.stale = 0
	for i := range t.counters {
		t.tableInsert(t.counters[i].hash, int32(i))
	}
}

const refKeyAlign = 16

func refKeyCap(n int) int { return max(refKeyAlign, (n+refKeyAlign-1)&^(refKeyAlign-1)) }

func (t *refTopK) storeKey(i int32, key []byte) {
	c := &t.counters[i]
	if len(key) > int(c.kcap) {
		if uint64(len(key)) > math.MaxUint32-refKeyAlign {
			panic("sketch: refTopK key of 4 GiB or more")
		}
		t.garbage += int(c.kcap)
		kc := refKeyCap(len(key))
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

func (t *refTopK) compact() {
	live := 0
	for i := range t.counters {
		live += refKeyCap(int(t.counters[i].klen))
	}
	dst := slices.Grow(t.spare[:0], live)
	for i := range t.counters {
		c := &t.counters[i]
		off, kc := len(dst), refKeyCap(int(c.klen))
		dst = dst[:off+kc]
		copy(dst[off:], t.arena[c.off:c.off+int(c.klen)])
		c.off, c.kcap = off, uint32(kc)
	}
	t.spare, t.arena = t.arena[:0], dst
	t.garbage = 0
}

// topkCLIEvents is the input of the CLI benchmark, scaled down:
// Zipf(1.1) over 10^7 keys "key-0", "key-1", ... (about a quarter of the
// updates of a capacity-4096 sketch replace the minimum).
func topkCLIEvents(n int) *topkEvents {
	z := rand.NewZipf(rand.New(rand.NewPCG(7, 7)), 1.1, 1, 10_000_000-1)
	e := &topkEvents{hashes: make([]uint64, n), offs: make([]int, 1, n+1)}
	for i := range n {
		start := len(e.keys)
		e.keys = strconv.AppendUint(append(e.keys, "key-"...), z.Uint64(), 10)
		e.offs = append(e.offs, len(e.keys))
		e.hashes[i] = Hash(e.keys[start:])
	}
	return e
}

// topkUniformEvents is n keys of l bytes drawn uniformly from n/2
// distinct ones, as cmd/streamstat/internal/keygen makes them for
// scripts/bench-speed.sh: nearly every key is new to a TopK.
func topkUniformEvents(n, l int) *topkEvents {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	draw := rand.New(rand.NewPCG(1, 2))
	e := &topkEvents{hashes: make([]uint64, n), offs: make([]int, 1, n+1), keys: make([]byte, 0, n*l)}
	for i := range n {
		g := rand.New(rand.NewPCG(draw.Uint64N(uint64(n/2)), 3))
		start := len(e.keys)
		for range l {
			e.keys = append(e.keys, alphabet[g.Uint64()&63])
		}
		e.offs = append(e.offs, len(e.keys))
		e.hashes[i] = Hash(e.keys[start:])
	}
	return e
}

// topkMixedEvents mixes the CLI's short keys with keys of 17 to 40 bytes,
// which live outside the counters, and weights of 1 and 2.
func topkMixedEvents(n int) (*topkEvents, []uint64) {
	e, w := topkCLIEvents(n), make([]uint64, n)
	long := &topkEvents{hashes: make([]uint64, n), offs: make([]int, 1, n+1)}
	const pad = "-abcdefghijklmnopqrstuvwxyz0123456789"
	for i := range n {
		key := e.key(i)
		if x := e.hashes[i]; x%3 == 0 {
			key = append(slices.Clone(key), pad[:x/3%30]...)
		}
		long.keys = append(long.keys, key...)
		long.offs = append(long.offs, len(long.keys))
		long.hashes[i] = Hash(key)
		w[i] = 1 + uint64(i%3/2)
	}
	return long, w
}

// topkUnitsWeights returns n weights as shed-aware counting makes them:
// round(2^16/p) for a keep probability p that drifts between 1/64 and 1,
// so that nearly every count is distinct and every level holds one counter.
func topkUnitsWeights(n int) []uint64 {
	w := make([]uint64, n)
	r := rand.New(rand.NewPCG(7, 7))
	p := 0.5
	for i := range w {
		p = min(max(p*(1+0.02*(r.Float64()-0.5)), 1.0/64), 1)
		w[i] = uint64(math.Round(65536 / p))
	}
	return w
}

// topkSameAsRef fails the test unless a encodes as b, the previous TopK
// given the same updates, does, and keeps its invariants; at says when.
func topkSameAsRef(t *testing.T, a *TopK, b *refTopK, at string) {
	t.Helper()
	if string(topkMarshal(t, a)) != string(b.appendBinary(nil)) {
		t.Fatalf("%s: AddHash and the previous TopK encode differently", at)
	}
	if err := topkCheck(a); err != nil {
		t.Fatalf("%s: %v", at, err)
	}
}

// TestTopKRefSameState checks that AddHash builds the state the previous TopK built: the same encoded bytes after
// every stretch of the same updates.
func TestTopKRefSameState(t *testing.T) {
	ev, w := topkMixedEvents(300_000)
	heavy := make([]uint64, len(w)) // weights of 1 to 16, as under load shedding
	for i := range heavy {
		heavy[i] = 1 + ev.hashes[i]>>60
	}
	for _, c := range []struct {
		name    string
		weights []uint64
	}{{"w=1..2", w}, {"w=1..16", heavy}, {"w=Units(p)", topkUnitsWeights(ev.n())}} {
		for _, k := range []int{1, 7, 256, 4096} {
			a, b := topkNew(t, k), newRefTopK(k)
			for i := range ev.n() {
				a.AddHash(ev.hashes[i], ev.key(i), c.weights[i])
				b.AddHash(ev.hashes[i], ev.key(i), c.weights[i])
				if i%50_000 == 49_999 || i == ev.n()-1 {
					topkSameAsRef(t, a, b, fmt.Sprintf("%s k=%d after %d updates", c.name, k, i+1))
				}
			}
		}
	}
}

// BenchmarkTopKAddVsRef runs TopK and the previous TopK on the same
// events, at capacity 4096 as the CLI's top, alternating stretches of 2^14
// updates, and reports the time ratio: on the Zipf events of the CLI
// benchmark (about a quarter of the updates replace the minimum), and on
// keys of 8, 32 and 128 bytes drawn from as many distinct keys as half the
// events (scripts/bench-speed.sh's inputs: nearly every update replaces
// the minimum).
func BenchmarkTopKAddVsRef(b *testing.B) {
	const n = 1 << 21
	for _, in := range topkBenchInputs(n) {
		ev := in.ev()
		b.Run(in.name, func(b *testing.B) {
			ours, ref := topkNew(b, 4096), newRefTopK(4096)
			for i := range ev.n() {
				ours.AddHash(ev.hashes[i], ev.key(i), 1)
				ref.AddHash(ev.hashes[i], ev.key(i), 1)
			}
			const chunk = 1 << 14
			addOurs := func(j int) {
				for x := j; x < j+chunk; x++ {
					ours.AddHash(ev.hashes[x], ev.key(x), 1)
				}
			}
			addRef := func(j int) {
				for x := j; x < j+chunk; x++ {
					ref.AddHash(ev.hashes[x], ev.key(x), 1)
				}
			}
			topkBenchAlternate(b, n, chunk, addOurs, addRef, "ns/update", "ns/update-ref", "new/ref")
		})
	}
}

// topkBenchInputs are the events of the TopK benchmarks at capacity 4096:
// the Zipf events of the CLI benchmark (about a quarter of the updates
// replace the minimum), and keys of 8, 32 and 128 bytes drawn from as many
// distinct keys as half the events (scripts/bench-speed.sh's inputs:
// nearly every update replaces the minimum).
func topkBenchInputs(n int) []struct {
	name string
	ev   func() *topkEvents
} {
	return []struct {
		name string
		ev   func() *topkEvents
	}{
		{"zipf", func() *topkEvents { return topkCLIEvents(n) }},
		{"new-keys/len=8", func() *topkEvents { return topkUniformEvents(n, 8) }},
		{"new-keys/len=32", func() *topkEvents { return topkUniformEvents(n, 32) }},
		{"new-keys/len=128", func() *topkEvents { return topkUniformEvents(n, 128) }},
	}
}

// TestTopKRefSameStateMixed mixes unit, small and large varying weights
// on capacities where the summary lists levels ahead (see listLevels),
// and checks after every stretch that AddHash builds the previous TopK's
// state and keeps its invariants.
func TestTopKRefSameStateMixed(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	listed := 0
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 11))
		k, u := 33+r.IntN(300), 100+r.IntN(3000)
		a, b := topkNew(t, k), newRefTopK(k)
		mode := 0
		for i := range 20_000 {
			if r.IntN(500) == 0 {
				mode = r.IntN(3) // stretches of unit, small or large weights
			}
			w := uint64(1)
			switch mode {
			case 1:
				w = 1 + uint64(r.IntN(16))
			case 2:
				w = uint64(65536 / (0.01 + r.Float64()))
			}
			key := topkKey(int(r.ExpFloat64() * float64(u) / 8))
			a.AddHash(HashString(key), []byte(key), w)
			b.AddHash(HashString(key), []byte(key), w)
			if i%500 == 499 {
				topkSameAsRef(t, a, b, fmt.Sprintf("seed %d k=%d after %d updates", seed, k, i+1))
			}
		}
		if cap(a.res) > 0 {
			listed++
		}
	}
	if 2*listed < seeds {
		t.Errorf("levels were listed ahead in %d of %d runs: the test misses that path", listed, seeds)
	}
}

// TestTopKRefSameStateNewKeys checks AddHash against the previous TopK on
// streams of mostly new keys, where nearly every update replaces the
// minimum and the minimum level is rebuilt without a scan (scanMin's
// shortcut, listAhead): stretches of only new keys, new keys with a few
// repeats (which lift counters into the listed levels, or out of next),
// many repeats, a small hot set, and weights of 1 to 3 with a rare huge
// one (levels skipped, counts saturating). The encoded state must be the
// same after every stretch, and the invariants must hold.
func TestTopKRefSameStateNewKeys(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 6
	}
	caps := []int{1, 2, 7, 64, 333, 1024}
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 13))
		k := caps[seed%uint64(len(caps))]
		a, b := topkNew(t, k), newRefTopK(k)
		fresh, mode := 0, int(seed%5)
		var recent []string // the last keys added, for repeats
		newKey := func() string {
			fresh++
			key := strconv.Itoa(fresh)
			return key + strings.Repeat("~", (fresh*13)%37)
		}
		for i := range 40_000 {
			if r.IntN(400) == 0 {
				mode = r.IntN(5)
			}
			key, w := "", uint64(1)
			switch repeat := len(recent) > 0; {
			case mode == 1 && repeat && r.IntN(100) == 0,
				mode == 2 && repeat && r.IntN(5) == 0:
				key = recent[r.IntN(len(recent))]
			case mode == 3:
				key = "hot" + strconv.Itoa(int(r.ExpFloat64()*float64(k)))
			default:
				key = newKey()
			}
			if mode == 4 {
				w = 1 + uint64(r.IntN(3))
				if r.IntN(5000) == 0 {
					w = math.MaxUint64 / 3
				}
			}
			if len(recent) < 2*k+8 {
				recent = append(recent, key)
			} else {
				recent[r.IntN(len(recent))] = key
			}
			a.AddHash(HashString(key), []byte(key), w)
			b.AddHash(HashString(key), []byte(key), w)
			if i%997 == 996 {
				topkSameAsRef(t, a, b, fmt.Sprintf("seed %d k=%d after %d updates", seed, k, i+1))
			}
		}
	}
}

// TestTopKNewKeysScans: on a stream of mostly new keys (drawn from 20
// times as many as there are counters, as in scripts/bench-speed.sh's
// inputs), the minimum rises by one every Capacity updates, and it used
// to take a scan of every counter each time. Now a scan lists the few
// counters above the minimum for several levels ahead (listAhead), or a
// round with no repeat at all needs none (scanMin's shortcut). The state
// stays the previous TopK's.
func TestTopKNewKeysScans(t *testing.T) {
	const k, n = 256, 200_000
	r := rand.New(rand.NewPCG(1, 2))
	a, b := topkNew(t, k), newRefTopK(k)
	for range n {
		key := topkKey(r.IntN(20 * k))
		a.AddHash(HashString(key), []byte(key), 1)
		b.AddHash(HashString(key), []byte(key), 1)
	}
	topkSameAsRef(t, a, b, fmt.Sprintf("after %d updates", n))
	if a.minc < 100 || 4*a.scans > int(a.minc) {
		t.Errorf("%d scans of the counters while the minimum rose to %d: want at most one per 4 levels", a.scans, a.minc)
	}
	if !a.newKeys {
		t.Error("nearly every update replaced a key, but the probe does not start with the four slots from home")
	}
	// Where most updates find their key, the probe starts at home: the
	// branch-free start would only cost there.
	if z := topkFull(t, k, n, 1); z.newKeys {
		t.Error("on Zipf(1.1) keys, most of them tracked, the probe starts with the four slots from home")
	}
}
