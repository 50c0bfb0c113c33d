package sketch

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// This file keeps the update path TopK had before evictions left stale
// table entries (it deleted the replaced key's entry at once, by backward
// shifting, and walked the buckets for unit increments), so that a
// benchmark can measure both on the same events in the same run.

// refAddHash is AddHash as it was, for a sketch that never holds stale
// entries (one only ever updated by refAddHash).
func (t *TopK) refAddHash(h uint64, key []byte, count uint64) {
	t.total = tkSatAdd(t.total, count)
	if i := t.lookup(h, key); i != tkNil {
		t.raise(i, count)
		return
	}
	if len(t.counters) < t.capacity {
		t.insert(h, key, count)
		return
	}
	mb := t.minB
	v := t.buckets[mb].head
	t.refTableDelete(v)
	c := &t.counters[v]
	c.hash, c.err = h, t.buckets[mb].count
	t.storeKey(v, key)
	t.tableInsert(h, v)
	t.raise(v, count)
}

// refTableDelete removes counter i's entry by backward shifting (Knuth,
// TAOCP vol. 3, 6.4 Algorithm R).
func (t *TopK) refTableDelete(i int32) {
	mask := len(t.table) - 1
	want := tkTag(t.counters[i].hash)<<32 | uint64(i+1)
	p := t.home(want >> 32)
	for t.table[p] != want {
		p = (p + 1) & mask
	}
	for {
		t.table[p] = 0
		q := p
		for {
			q = (q + 1) & mask
			s := t.table[q]
			if s == 0 {
				return
			}
			k := t.home(s >> 32)
			if p < q && p < k && k <= q || p > q && (p < k || k <= q) {
				continue
			}
			t.table[p] = s
			p = q
			break
		}
	}
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

// TestTopKRefSameState checks that AddHash builds the summary the previous
// path built: stale entries change the table, not the state.
func TestTopKRefSameState(t *testing.T) {
	ev := topkCLIEvents(200_000)
	a, b := topkNew(t, 256), topkNew(t, 256)
	for i := range ev.n() {
		a.AddHash(ev.hashes[i], ev.key(i), 1+uint64(i%3/2))
		b.refAddHash(ev.hashes[i], ev.key(i), 1+uint64(i%3/2))
	}
	ea, _ := a.MarshalBinary()
	eb, _ := b.MarshalBinary()
	if string(ea) != string(eb) {
		t.Fatal("AddHash and the previous path encode differently")
	}
	if err := topkCheck(a); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkTopKAddVsRef runs AddHash and the previous update path on the
// same Zipf events, at capacity 4096 as the CLI's top, and reports the
// time ratio.
func BenchmarkTopKAddVsRef(b *testing.B) {
	ev := topkCLIEvents(1 << 21)
	ours, ref := topkNew(b, 4096), topkNew(b, 4096)
	for i := range ev.n() {
		ours.AddHash(ev.hashes[i], ev.key(i), 1)
		ref.refAddHash(ev.hashes[i], ev.key(i), 1)
	}
	var to, tr time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for i := range ev.n() {
			ours.AddHash(ev.hashes[i], ev.key(i), 1)
		}
		t1 := time.Now()
		for i := range ev.n() {
			ref.refAddHash(ev.hashes[i], ev.key(i), 1)
		}
		tr += time.Since(t1)
		to += t1.Sub(t0)
	}
	n := float64(b.N * ev.n())
	b.ReportMetric(float64(to.Nanoseconds())/n, "ns/update")
	b.ReportMetric(float64(tr.Nanoseconds())/n, "ns/update-ref")
	b.ReportMetric(float64(to)/float64(tr), "new/ref")
}
