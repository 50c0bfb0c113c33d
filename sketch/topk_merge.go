package sketch

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
)

// Merge adds the events of o to t, so that t summarizes both streams with
// the guarantees of a single TopK over N = t.Total() + o.Total() events
// (every tracked count within [count-error, count] of the truth, every
// untracked count at most MinCount, every error at most MinCount <= N/k).
// o is not modified; t.Merge(t) doubles every count.
//
// Capacities may differ: the result has the smaller one, k = min(k_t, k_o),
// as the frequent-items union of DataSketches does (and as HLL folds its
// precision down), so t shrinks if o's capacity is smaller, even if o is
// empty. The guarantees are then those of a TopK of capacity k: every error
// at most MinCount <= N/k, the bound of the smaller input, not of the
// larger; the larger input's finer counts only make the result's counts
// tighter. (The argument below holds unchanged: an input of capacity
// k_j >= k that is full holds at least k keys, so the kept keys absent from
// it are never more than its keys dropped.)
//
// The combine step is that of the parallel Space Saving of Cafaro,
// Pulimeno, Tempesta ("A parallel space saving algorithm for frequent items
// and the Hurwitz zeta distribution", Information Sciences 2016), and the
// guarantee is the mergeability of Agarwal, Cormode, Huang, Phillips, Wei,
// Yi ("Mergeable summaries", PODS 2012): error at most N/k however the
// summaries are merged. Write m_j for MinCount of input j. A key's count in
// input j is an upper bound on its true count there, with lower bound
// count-error; a key absent from input j has true count in [0, m_j] there,
// so it is given count m_j and error m_j. Adding the two bounds per key gives
// valid bounds for the union; the k largest counts are kept (ties by key
// bytes). Why the guarantees survive:
//
//   - a dropped key's count is at most the smallest kept one, the new
//     MinCount, so untracked keys stay bounded by MinCount;
//   - every combined count is at least m_1+m_2 and every combined error at
//     most m_1+m_2, so errors stay below the new MinCount;
//   - the kept counts from input j sum to at most N_j: a kept key absent
//     from j is charged m_j, no more than the count of a distinct key of j
//     that was dropped (j holds k keys when m_j > 0, and at most k are kept). So the k kept counts sum to at most N and
//     MinCount <= N/k, through any chain or tree of merges.
//
// Within a count the merged keys are queued for replacement in key order,
// so the result depends only on the two states, not on the order of the
// arguments: a.Merge(b) and b.Merge(a) encode to the same bytes.
// Merge costs O(k log k).
func (t *TopK) Merge(o *TopK) error {
	t.init()
	if o == nil {
		return nil
	}
	k := min(t.capacity, cmp.Or(o.capacity, DefaultTopKCapacity))
	if len(o.counters) == 0 && k == t.capacity {
		return nil // an empty sketch has seen no events
	}
	if o == t {
		o = t.Clone()
	}
	m1, m2 := t.MinCount(), o.MinCount()
	// Room for this merge and for the next one of a sketch like o (as when
	// an answer merges the workers one by one), so that merging into a
	// fresh sketch allocates the scratch once.
	nt, no := len(t.counters), len(o.counters)
	es := t.entries[:0]
	if cap(es) < nt+no {
		es = make([]tkEntry, 0, nt+no+min(no, max(k-nt, 0)))
	}
	for i := range t.counters {
		c := &t.counters[i]
		key := t.key(int32(i))
		n, e := t.count(int32(i)), c.err
		if j := o.lookup(c.hash, key); j != tkNil {
			n, e = tkSatAdd(n, o.count(j)), tkSatAdd(e, o.counters[j].err)
		} else {
			n, e = tkSatAdd(n, m2), tkSatAdd(e, m2)
		}
		es = append(es, tkEntry{hash: c.hash, key: key, count: n, err: e})
	}
	for j := range o.counters {
		c := &o.counters[j]
		key := o.key(int32(j))
		if len(t.counters) != 0 && t.lookup(c.hash, key) != tkNil {
			continue
		}
		es = append(es, tkEntry{hash: c.hash, key: key, count: tkSatAdd(o.count(int32(j)), m1), err: tkSatAdd(c.err, m1)})
	}
	ord := t.mergeOrder(es, len(t.counters), k)
	t.capacity = k
	t.rebuild(es, ord)
	t.total = tkSatAdd(t.total, o.total)
	clear(es) // drop the references into o's keys
	t.entries = es[:0]
	return nil
}

// mergeOrder returns the indices of the first k entries by count
// descending and key ascending (keys are distinct, so the order is total),
// in t.ranks' memory. The first na entries (t's keys) and the others (o's
// keys only) are sorted apart and then merged: t's part is often in order
// already (a summary that Merge built lists its counters by rank, and adding
// the same MinCount of o to each keeps the order), which the sort finds in
// linear time.
//
// Each entry is sorted as one word (see tkPackRanks): the rank of its count,
// then the leading bits of the 8 key bytes that follow the prefix common to
// all the keys (big-endian, zero-padded), then its index. Keys that differ
// within those bits compare as the bits do: a zero padding byte only stands
// where the key ended, and a key that ends first sorts first. Only the
// entries whose words agree above the index are compared by their keys.
func (t *TopK) mergeOrder(es []tkEntry, na, k int) []uint64 {
	n := len(es)
	ws := slices.Grow(t.ranks[:0], 2*n)[:2*n]
	t.ranks = ws[:0]
	if n == 0 {
		return ws
	}
	lcp := len(es[0].key)
	for _, e := range es[1:] {
		first := es[0].key[:lcp]
		m := min(lcp, len(e.key))
		j := 0
		for j+8 <= m && binary.LittleEndian.Uint64(first[j:]) == binary.LittleEndian.Uint64(e.key[j:]) {
			j += 8
		}
		for j < m && first[j] == e.key[j] {
			j++
		}
		lcp = j
	}
	byRank := func(a, b uint64) int {
		x, y := &es[a], &es[b]
		if x.count != y.count {
			return cmp.Compare(y.count, x.count)
		}
		return bytes.Compare(x.key[lcp:], y.key[lcp:])
	}
	ib := bits.Len(uint(n - 1))
	mask := uint64(1)<<ib - 1
	x, y := ws[:na], ws[na:n]
	tkPackRanks(es[:na], 0, lcp, ib, x, ws[n:n+na])
	tkPackRanks(es[na:], na, lcp, ib, y, ws[n+na:])
	for _, run := range [][]uint64{x, y} {
		slices.Sort(run)
		for i := 0; i < len(run); {
			j := i + 1
			for j < len(run) && run[j]>>ib == run[i]>>ib {
				j++
			}
			if j-i > 1 {
				slices.SortFunc(run[i:j], func(a, b uint64) int { return byRank(a&mask, b&mask) })
			}
			i = j
		}
	}
	// The merged indices go after the runs, in the scratch tkPackRanks
	// is done with: k <= n of them.
	out := ws[n:n]
	for len(out) < k && (len(x) > 0 || len(y) > 0) {
		if len(y) == 0 || len(x) > 0 && byRank(x[0]&mask, y[0]&mask) < 0 {
			out, x = append(out, x[0]&mask), x[1:]
		} else {
			out, y = append(out, y[0]&mask), y[1:]
		}
	}
	return out
}

// tkPackRanks writes in ws one word per entry of run (at index base+i in
// the entries), so that sorting the words sorts the entries by count
// descending and then by as many leading bits of their key bytes
// key[lcp:lcp+8] (big-endian, zero-padded) as fit, ties left to the caller:
// the count's rank from the top, then those bits, then the index in its ib
// low bits. The rank is the distance to the largest count when the counts
// span few bits, else the place among the distinct counts (found by sorting
// them in scratch, of len(run) words).
func tkPackRanks(run []tkEntry, base, lcp, ib int, ws, scratch []uint64) {
	if len(run) == 0 {
		return
	}
	lo, hi := run[0].count, run[0].count
	for i := range run {
		lo, hi = min(lo, run[i].count), max(hi, run[i].count)
	}
	var d []uint64 // the distinct counts, when ranked by place
	cb := bits.Len64(hi - lo)
	if cb > 24 {
		for i := range run {
			scratch[i] = run[i].count
		}
		slices.Sort(scratch)
		d = slices.Compact(scratch)
		cb = bits.Len(uint(len(d) - 1))
	}
	pb := 64 - cb - ib // key bits kept, >= 64-2*23
	for i := range run {
		e := &run[i]
		var b [8]byte
		copy(b[:], e.key[lcp:])
		w := binary.BigEndian.Uint64(b[:]) >> (64 - pb) << ib
		if cb > 0 {
			r := hi - e.count
			if d != nil {
				j, _ := slices.BinarySearch(d, e.count)
				r = uint64(len(d) - 1 - j)
			}
			w |= r << (64 - cb)
		}
		ws[i] = w | uint64(base+i)
	}
}

// rebuild replaces the summary with the entries es[i] for i in ord,
// listed by decreasing count, in replacement order within a count. The
// entries may alias t's own keys, inline in its counters or in its arena:
// the summary is built in the spare counters and arena, which then swap
// with the old ones.
func (t *TopK) rebuild(es []tkEntry, ord []uint64) {
	old, oldC := t.arena, t.counters
	t.clearSummary()
	t.arena, t.counters = t.spare[:0], t.spareC[:0]
	if cap(t.counters) < len(ord) {
		t.counters = make([]tkCounter, 0, len(ord))
	}
	for _, o := range ord {
		e := &es[o]
		t.appendEntry(e.hash, e.key, e.count, e.err)
	}
	t.spare, t.spareC = old[:0], oldC[:0]
}
