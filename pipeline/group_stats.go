package pipeline

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// GroupStats limits and defaults.
const (
	DefaultGroupStatsCapacity = 256
	MaxGroupStatsCapacity     = 1 << 16
)

// GroupStats summarises the values of the groups with the most records
// (the endpoints with the most requests, with their latencies) in fixed
// memory: a Space-Saving summary (Metwally, Agrawal and El Abbadi,
// "Efficient computation of frequent and top-k elements in data
// streams", ICDT 2005) of Capacity counters, each carrying the group's
// moments (sampling.Moments) and a quantile sketch (sampling.KLL) of its
// values.
//
// A group not held when its record comes takes the counter with the
// fewest records (ties: the smallest key), whose count it inherits as its
// error: its count is then an upper bound, count - error a lower one, and
// its moments and quantiles cover only the count - error records since it
// was admitted. Such a group is "late" (Late); a group admitted while a
// counter was free has an exact count and stats over all its records.
// Every group with more than N/Capacity records (N the records counted)
// is held. Merge combines two summaries as Agarwal et al. do ("Mergeable
// summaries", PODS 2012): a group missing from one takes that one's
// smallest count as count and error; the Capacity largest counts stay.
// The invariant count - error == the values in the group's stats holds
// throughout.
//
// A record's key is the group (its hash tells groups apart: two keys with
// equal 64-bit hashes count as one); records without a value are counted
// in Missing and left out. Records kept by load shedding are an error
// (ErrShedRecord).
//
// GroupStats is Mergeable, so it runs round-robin and in a Window. The
// zero value is ready to use, with DefaultGroupStatsCapacity counters
// and KLLs of sampling.DefaultKLLK. It is not safe for concurrent use,
// like every operator.
type GroupStats struct {
	// Capacity is the number of counters (0: DefaultGroupStatsCapacity);
	// KLLK the k of each counter's KLL (0: sampling.DefaultKLLK), in
	// [sampling.MinKLLK, sampling.MaxKLLK]: Process fails otherwise, and
	// Add panics. Set them before the first record.
	Capacity int
	KLLK     int
	// Missing counts the records without a value.
	Missing uint64
	// Pass also passes every record downstream.
	Pass bool

	total uint64 // values counted
	ents  []gsEntry
	idx   map[uint64]int32 // entry by key hash
	heap  []int32          // entries, a min-heap by (count, key)
}

type gsEntry struct {
	key        []byte
	hash       uint64
	count, err uint64
	mom        sampling.Moments
	kll        *sampling.KLL
	pos        int32 // in heap
}

// GroupStat is one group of GroupStats.Top: plain data, safe to keep.
type GroupStat struct {
	Key []byte
	// Count bounds the group's records from above, Lower from below
	// (equal unless Late).
	Count, Lower uint64
	// Late: the group took a counter from another group, so Moments and
	// Quantiles cover only the Lower records since it was admitted.
	Late bool
	// Moments and Quantiles summarise the group's values since it was
	// admitted (all of them unless Late).
	Moments   sampling.Moments
	Quantiles *sampling.KLL
}

func (o *GroupStats) capacity() int {
	if o.Capacity <= 0 {
		return DefaultGroupStatsCapacity
	}
	return min(o.Capacity, MaxGroupStatsCapacity)
}

func (o *GroupStats) kllK() int {
	if o.KLLK <= 0 {
		return sampling.DefaultKLLK
	}
	return o.KLLK
}

// Len returns the number of groups held: at most Capacity.
func (o *GroupStats) Len() int { return len(o.ents) }

// Total returns the number of values counted.
func (o *GroupStats) Total() uint64 { return o.total }

// Process implements Operator.
func (o *GroupStats) Process(in, out *Batch) error {
	if p := shedRecord(in); p != 0 {
		return shedError("GroupStats", p, "summarise values per group before shedding or turn shedding off")
	}
	if k := o.KLLK; k > 0 && (k < sampling.MinKLLK || k > sampling.MaxKLLK) {
		return fmt.Errorf("pipeline: GroupStats KLLK %d outside [%d, %d]: %w", k, sampling.MinKLLK, sampling.MaxKLLK, sampling.ErrInvalidParameter)
	}
	for i := range in.Records {
		r := &in.Records[i]
		if !r.HasValue {
			o.Missing++
			continue
		}
		o.Add(r.Hash, in.arena[r.keyOff:r.keyOff+r.keyLen], r.Value)
	}
	return pass(o.Pass, in, out)
}

// Add counts value x of the group key with hash h. It copies key only
// when the group takes a counter, and allocates only then.
func (o *GroupStats) Add(h uint64, key []byte, x float64) {
	o.total++
	i, ok := o.idx[h]
	if !ok {
		i = o.admit(h, key, 1)
	} else {
		o.ents[i].count++
		o.down(int(o.ents[i].pos))
	}
	e := &o.ents[i]
	e.mom.Add(x)
	e.kll.Add(x)
}

// admit gives the group a counter of count c beyond what it inherits:
// a free one, or the smallest one's.
func (o *GroupStats) admit(h uint64, key []byte, c uint64) int32 {
	if o.idx == nil {
		o.idx = make(map[uint64]int32)
	}
	var i int32
	if len(o.ents) < o.capacity() {
		i = int32(len(o.ents))
		k, _ := sampling.NewKLL(o.kllK(), h)
		o.ents = append(o.ents, gsEntry{kll: k, pos: int32(len(o.heap))})
		o.heap = append(o.heap, i)
		e := &o.ents[i]
		e.key, e.hash, e.count = append(e.key[:0], key...), h, c
		o.up(int(e.pos))
	} else {
		i = o.heap[0]
		e := &o.ents[i]
		delete(o.idx, e.hash)
		e.key, e.hash = append(e.key[:0], key...), h
		e.err = e.count
		e.count += c
		e.mom.Reset()
		e.kll.Reset()
		o.down(0)
	}
	o.idx[h] = i
	return i
}

func (o *GroupStats) less(a, b int32) bool {
	x, y := &o.ents[a], &o.ents[b]
	if x.count != y.count {
		return x.count < y.count
	}
	return bytes.Compare(x.key, y.key) < 0
}

func (o *GroupStats) swap(i, j int) {
	h := o.heap
	h[i], h[j] = h[j], h[i]
	o.ents[h[i]].pos, o.ents[h[j]].pos = int32(i), int32(j)
}

func (o *GroupStats) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !o.less(o.heap[i], o.heap[p]) {
			return
		}
		o.swap(i, p)
		i = p
	}
}

func (o *GroupStats) down(i int) {
	n := len(o.heap)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && o.less(o.heap[c+1], o.heap[c]) {
			c++
		}
		if !o.less(o.heap[c], o.heap[i]) {
			return
		}
		o.swap(i, c)
		i = c
	}
}

// minCount is the count a group not held may have had: the smallest
// count when every counter is taken, else 0.
func (o *GroupStats) minCount() uint64 {
	if len(o.ents) < o.capacity() || len(o.heap) == 0 {
		return 0
	}
	return o.ents[o.heap[0]].count
}

// Top returns up to n groups with the most records (by Count, ties by
// key), most first; n <= 0 returns every group held. The results share
// nothing with o.
func (o *GroupStats) Top(n int) []GroupStat {
	idx := make([]int32, len(o.ents))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		x, y := &o.ents[a], &o.ents[b]
		if c := cmp.Compare(y.count, x.count); c != 0 {
			return c
		}
		return bytes.Compare(x.key, y.key)
	})
	if n > 0 && n < len(idx) {
		idx = idx[:n]
	}
	out := make([]GroupStat, len(idx))
	for j, i := range idx {
		e := &o.ents[i]
		q, _ := sampling.NewKLL(o.kllK(), 0)
		q.Merge(e.kll)
		out[j] = GroupStat{Key: slices.Clone(e.key), Count: e.count, Lower: e.count - e.err,
			Late: e.err > 0, Moments: e.mom, Quantiles: q}
	}
	return out
}

// UnlistedMax bounds the records of every group not held: the smallest
// count when every counter is taken, else 0 (every group is held).
func (o *GroupStats) UnlistedMax() uint64 { return o.minCount() }

// Merge adds o2's groups to o (see the type): both must have the same
// Capacity and KLLK (an error wrapping sampling.ErrIncompatible
// otherwise). o2 is not modified; o.Merge(o) counts o's records twice,
// as merging a copy would.
func (o *GroupStats) Merge(o2 *GroupStats) error {
	if o2 == nil {
		return nil
	}
	if o2 == o {
		data, err := o.MarshalBinary()
		if err != nil {
			return err
		}
		o2 = new(GroupStats)
		if err := o2.UnmarshalBinary(data); err != nil {
			return err
		}
	}
	if o.capacity() != o2.capacity() || o.kllK() != o2.kllK() {
		return fmt.Errorf("pipeline: GroupStats of %d counters (KLL k %d) merged into one of %d (k %d): %w",
			o2.capacity(), o2.kllK(), o.capacity(), o.kllK(), sampling.ErrIncompatible)
	}
	minA, minB := o.minCount(), o2.minCount()
	type cand struct {
		e    gsEntry
		a, b int32 // entry in o, o2; -1 if absent
	}
	cands := make([]cand, 0, len(o.ents)+len(o2.ents))
	for i := range o.ents {
		e := o.ents[i]
		j, ok := o2.idx[e.hash]
		if !ok {
			j = -1
		}
		cands = append(cands, cand{e: e, a: int32(i), b: j})
	}
	for j := range o2.ents {
		if _, ok := o.idx[o2.ents[j].hash]; !ok {
			cands = append(cands, cand{e: gsEntry{key: o2.ents[j].key, hash: o2.ents[j].hash}, a: -1, b: int32(j)})
		}
	}
	for k := range cands {
		c := &cands[k]
		ca, ea, cb, eb := minA, minA, minB, minB
		if c.a >= 0 {
			ca, ea = o.ents[c.a].count, o.ents[c.a].err
		}
		if c.b >= 0 {
			cb, eb = o2.ents[c.b].count, o2.ents[c.b].err
		}
		c.e.count, c.e.err = ca+cb, ea+eb
	}
	slices.SortFunc(cands, func(x, y cand) int {
		if c := cmp.Compare(y.e.count, x.e.count); c != 0 {
			return c
		}
		return bytes.Compare(x.e.key, y.e.key)
	})
	cands = cands[:min(len(cands), o.capacity())]
	ents := make([]gsEntry, len(cands))
	for k := range cands {
		c := &cands[k]
		e := &ents[k]
		e.key, e.hash, e.count, e.err = slices.Clone(c.e.key), c.e.hash, c.e.count, c.e.err
		if c.a >= 0 {
			e.mom, e.kll = o.ents[c.a].mom, o.ents[c.a].kll
		} else {
			e.kll, _ = sampling.NewKLL(o.kllK(), e.hash)
		}
		if c.b >= 0 {
			e.mom.Merge(&o2.ents[c.b].mom)
			if err := e.kll.Merge(o2.ents[c.b].kll); err != nil {
				return err
			}
		}
	}
	o.total += o2.total
	o.Missing += o2.Missing
	o.rebuild(ents)
	return nil
}

// rebuild makes ents the entries, with their index and heap.
func (o *GroupStats) rebuild(ents []gsEntry) {
	o.ents = ents
	o.idx = make(map[uint64]int32, len(ents))
	o.heap = make([]int32, len(ents))
	for i := range ents {
		o.idx[ents[i].hash] = int32(i)
		o.heap[i] = int32(i)
		ents[i].pos = int32(i)
	}
	for i := len(o.heap)/2 - 1; i >= 0; i-- {
		o.down(i)
	}
}

// MarshalBinary implements Stateful:
//
//	uvarint Capacity, KLLK, values counted, Missing, number of groups
//	the groups in increasing key order, each: uvarint key length, key,
//	uvarint count, uvarint error, then its Moments' and its KLL's
//	encodings, each after its uvarint length
func (o *GroupStats) MarshalBinary() ([]byte, error) {
	b := binary.AppendUvarint(nil, uint64(o.capacity()))
	b = binary.AppendUvarint(b, uint64(o.kllK()))
	b = binary.AppendUvarint(b, o.total)
	b = binary.AppendUvarint(b, o.Missing)
	b = binary.AppendUvarint(b, uint64(len(o.ents)))
	order := make([]int32, len(o.ents))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(o.ents[a].key, o.ents[b].key) })
	for _, i := range order {
		e := &o.ents[i]
		b = binary.AppendUvarint(b, uint64(len(e.key)))
		b = append(b, e.key...)
		b = binary.AppendUvarint(b, e.count)
		b = binary.AppendUvarint(b, e.err)
		for _, enc := range []interface{ AppendBinary([]byte) ([]byte, error) }{&e.mom, e.kll} {
			part, err := enc.AppendBinary(nil)
			if err != nil {
				return nil, err
			}
			b = binary.AppendUvarint(b, uint64(len(part)))
			b = append(b, part...)
		}
	}
	return b, nil
}

// UnmarshalBinary implements Stateful. It accepts exactly what
// MarshalBinary writes; on error o is unchanged.
func (o *GroupStats) UnmarshalBinary(data []byte) error {
	n, err := decodeGroupStats(data)
	if err != nil {
		return err
	}
	n.Pass = o.Pass
	*o = *n
	return nil
}

// MergeBinary implements Mergeable.
func (o *GroupStats) MergeBinary(data []byte) error {
	n, err := decodeGroupStats(data)
	if err != nil {
		return err
	}
	return o.Merge(n)
}

func gsCorrupt(what string, a ...any) error {
	return fmt.Errorf("pipeline: GroupStats state: "+what+": %w", append(a, envelope.ErrCorrupt)...)
}

func decodeGroupStats(data []byte) (*GroupStats, error) {
	r := envelope.NewReader(data)
	capacity, k, total, missing, ng := r.MinimalUvarint(), r.MinimalUvarint(), r.MinimalUvarint(), r.MinimalUvarint(), r.MinimalUvarint()
	if r.Err != nil {
		return nil, fmt.Errorf("pipeline: GroupStats state: %w", r.Err)
	}
	switch {
	case capacity < 1 || capacity > MaxGroupStatsCapacity:
		return nil, gsCorrupt("capacity %d", capacity)
	case k < sampling.MinKLLK || k > sampling.MaxKLLK:
		return nil, gsCorrupt("KLL k %d", k)
	case ng > capacity || ng > uint64(r.Len()/4):
		return nil, gsCorrupt("%d groups for %d counters in %d bytes", ng, capacity, r.Len())
	}
	o := &GroupStats{Capacity: int(capacity), KLLK: int(k), Missing: missing, total: total}
	ents := make([]gsEntry, 0, ng)
	seen := make(map[uint64]bool, ng)
	var sum uint64
	for i := uint64(0); i < ng; i++ {
		kl := r.MinimalUvarint()
		key := r.Bytes(int(min(kl, uint64(r.Len()+1))))
		count, errc := r.MinimalUvarint(), r.MinimalUvarint()
		mb := r.LenBytes()
		kb := r.LenBytes()
		if r.Err != nil {
			return nil, fmt.Errorf("pipeline: GroupStats state: %w", r.Err)
		}
		e := gsEntry{key: slices.Clone(key), hash: sketch.Hash(key), count: count, err: errc, kll: new(sampling.KLL)}
		if err := e.mom.UnmarshalBinary(mb); err != nil {
			return nil, err
		}
		if err := e.kll.UnmarshalBinary(kb); err != nil {
			return nil, err
		}
		vals := e.mom.Count() + e.mom.NaNs() + e.mom.Infs()
		switch {
		case i > 0 && bytes.Compare(key, ents[i-1].key) <= 0:
			return nil, gsCorrupt("groups not in increasing key order at %d", i)
		case seen[e.hash]:
			return nil, gsCorrupt("two groups of one hash")
		case count == 0 || errc >= count:
			return nil, gsCorrupt("group %d: count %d, error %d", i, count, errc)
		case vals != count-errc || e.kll.Count()+e.kll.NaNs() != vals:
			return nil, gsCorrupt("group %d: %d records since admitted, stats of %d and %d", i, count-errc, vals, e.kll.Count()+e.kll.NaNs())
		case e.kll.K() != int(k):
			return nil, gsCorrupt("group %d: KLL k %d, want %d", i, e.kll.K(), k)
		case sum+count < sum:
			return nil, gsCorrupt("counts overflow")
		}
		sum += count
		seen[e.hash] = true
		ents = append(ents, e)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("pipeline: GroupStats state: %w", err)
	}
	o.rebuild(ents)
	return o, nil
}
