package sketch

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func topkNew(tb testing.TB, k int) *TopK {
	tb.Helper()
	s, err := NewTopK(k)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func topkMarshal(tb testing.TB, s *TopK) []byte {
	tb.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// topkCheck verifies the internal structure of s and the invariants every
// reachable state satisfies (the ones the decoder also checks).
func topkCheck(s *TopK) error {
	n := len(s.counters)
	if s.capacity < 1 || n > s.capacity {
		return fmt.Errorf("%d counters for capacity %d", n, s.capacity)
	}
	var sum, maxErr uint64
	minCount, atMin := uint64(math.MaxUint64), 0
	stamps := map[uint64]bool{}
	for i := range s.counters {
		c := &s.counters[i]
		if c.count == 0 || c.err > c.count {
			return fmt.Errorf("counter %d: count %d error %d", i, c.count, c.err)
		}
		if c.stamp >= s.seq || stamps[c.stamp] {
			return fmt.Errorf("counter %d: stamp %d repeated or not below %d", i, c.stamp, s.seq)
		}
		stamps[c.stamp] = true
		if c.count < minCount {
			minCount, atMin = c.count, 0
		}
		if c.count == minCount {
			atMin++
		}
		sum, maxErr = tkSatAdd(sum, c.count), max(maxErr, c.err)
	}
	if n == s.capacity {
		// q lists the counters with the minimum count, by stamp.
		if s.minc != minCount || s.atMin != atMin {
			return fmt.Errorf("minimum %d held by %d, sketch says %d by %d", minCount, atMin, s.minc, s.atMin)
		}
		var live []tkRef
		for _, r := range s.q[s.qh:] {
			if s.counters[r.i].stamp == r.stamp {
				live = append(live, r)
			}
		}
		if len(live) != atMin || !slices.IsSortedFunc(live, func(a, b tkRef) int { return cmp.Compare(a.stamp, b.stamp) }) {
			return fmt.Errorf("q lists %d counters (sorted: %v), %d hold the minimum", len(live), slices.IsSortedFunc(live, func(a, b tkRef) int { return cmp.Compare(a.stamp, b.stamp) }), atMin)
		}
		for _, r := range s.next {
			if c := s.counters[r.i]; c.stamp == r.stamp && (c.count != s.minc+1 || r.stamp < s.nextFrom) {
				return fmt.Errorf("next lists counter %d with count %d stamp %d (minimum %d, from %d)", r.i, c.count, r.stamp, s.minc, s.nextFrom)
			}
		}
		// Every counter in (minc, lim] is listed live in res, low or next;
		// res is sorted and low is a heap, by (count, stamp).
		listed := map[int32]bool{}
		for _, r := range s.next {
			if s.counters[r.i].stamp == r.stamp {
				listed[r.i] = true
			}
		}
		if !slices.IsSortedFunc(s.res[s.rh:], tkOrdCmp) {
			return fmt.Errorf("res is not sorted by (count, stamp)")
		}
		for j, o := range s.low {
			if j > 0 && tkOrdCmp(o, s.low[(j-1)/2]) < 0 {
				return fmt.Errorf("low is not a heap at %d", j)
			}
		}
		for _, l := range [][]tkOrd{s.res[s.rh:], s.low} {
			for _, o := range l {
				if c := s.counters[o.i]; c.stamp == o.stamp {
					if c.count != o.count || c.count <= s.minc || c.count > s.lim {
						return fmt.Errorf("counter %d listed with count %d, has %d (minimum %d, limit %d)", o.i, o.count, c.count, s.minc, s.lim)
					}
					listed[o.i] = true
				}
			}
		}
		for i := range s.counters {
			if c := s.counters[i]; c.count > s.minc && c.count <= s.lim && !listed[int32(i)] {
				return fmt.Errorf("counter %d with count %d in (%d, %d] is not listed", i, c.count, s.minc, s.lim)
			}
		}
	}
	// Every counter's entry is found by lookup below; the other entries
	// are the stale ones of replaced keys, which rehash drops before they
	// fill half the table.
	occupied, live := 0, 0
	for _, sl := range s.table {
		if sl != 0 {
			occupied++
			if i := int(uint32(sl)) - 1; i >= n {
				return fmt.Errorf("table entry %#x: counter %d of %d", sl, i, n)
			}
		}
	}
	if occupied != n+s.stale || 4*n > len(s.table) || 2*occupied > len(s.table) {
		return fmt.Errorf("table holds %d entries (%d counters, %d stale) in %d slots", occupied, n, s.stale, len(s.table))
	}
	for i := range s.counters {
		c := s.counters[i]
		if c.off < 0 || c.klen > tkInline && c.klen > c.kcap || c.off+int(c.kcap) > len(s.arena) {
			return fmt.Errorf("counter %d: key region [%d, +%d) len %d outside the arena of %d", i, c.off, c.kcap, c.klen, len(s.arena))
		}
		live += int(c.kcap)
		key := s.key(int32(i))
		if c.hash != Hash(key) {
			return fmt.Errorf("counter %d: hash of %q is not Hash(key)", i, key)
		}
		if j := s.lookup(c.hash, key); j != int32(i) {
			return fmt.Errorf("counter %d (%q): lookup finds %d", i, key, j)
		}
	}
	if live+s.garbage != len(s.arena) {
		return fmt.Errorf("arena of %d bytes, %d live + %d garbage", len(s.arena), live, s.garbage)
	}
	switch {
	case sum > s.total:
		return fmt.Errorf("counts sum to %d, above the total %d", sum, s.total)
	case n < s.capacity && (maxErr != 0 || sum != s.total):
		return fmt.Errorf("not full yet inexact: max error %d, counts %d of %d", maxErr, sum, s.total)
	case n == s.capacity && maxErr > minCount:
		return fmt.Errorf("error %d above the minimum count %d", maxErr, minCount)
	}
	return nil
}

// topkCheckBounds verifies the Space-Saving guarantees of s against exact
// counts: every key's truth within its bounds, and every error within
// MinCount <= N/k.
func topkCheckBounds(tb testing.TB, s *TopK, exact map[string]uint64) {
	tb.Helper()
	if err := topkCheck(s); err != nil {
		tb.Fatal(err)
	}
	var n uint64
	for key, f := range exact {
		n += f
		if e := s.EstimateString(key); !e.Contains(float64(f)) || e.Lower > e.Value || e.Value > e.Upper {
			tb.Fatalf("key %q: true count %d, estimate %v", key, f, e)
		}
	}
	if n != s.Total() {
		tb.Fatalf("Total %d, events %d", s.Total(), n)
	}
	m := s.MinCount()
	if m > n/uint64(s.Capacity()) {
		tb.Fatalf("MinCount %d above N/k = %d/%d", m, n, s.Capacity())
	}
	for _, it := range s.Top(s.Len()) {
		f := exact[it.Key]
		if f < it.Lower || f > it.Upper || it.Error > m || it.Lower != it.Count-it.Error || it.Upper != it.Count {
			tb.Fatalf("item %+v: true count %d, MinCount %d", it, f, m)
		}
	}
}

func TestNewTopKCapacity(t *testing.T) {
	for _, tc := range []struct {
		capacity int
		ok       bool
	}{{-1, false}, {0, false}, {1, true}, {1000, true}, {MaxTopKCapacity, true}, {MaxTopKCapacity + 1, false}} {
		t.Run(fmt.Sprintf("capacity=%d", tc.capacity), func(t *testing.T) {
			if tc.capacity == MaxTopKCapacity && testing.Short() {
				t.Skip("allocates ~300 MB")
			}
			s, err := NewTopK(tc.capacity)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidParameter) {
				t.Fatalf("err = %v, want ErrInvalidParameter", err)
			}
			if err == nil && s.Capacity() != tc.capacity {
				t.Fatalf("Capacity() = %d", s.Capacity())
			}
		})
	}
}

func TestTopKExactUntilFull(t *testing.T) {
	s := topkNew(t, 5)
	for key, n := range map[string]int{"b": 3, "a": 3, "c": 7, "d": 1} {
		for range n {
			s.AddString(key)
		}
	}
	want := []Item{
		{Key: "c", Count: 7, Lower: 7, Upper: 7, Guaranteed: true},
		{Key: "a", Count: 3, Lower: 3, Upper: 3, Guaranteed: true},
		{Key: "b", Count: 3, Lower: 3, Upper: 3, Guaranteed: true},
	}
	if got := s.Top(3); !slices.Equal(got, want) {
		t.Fatalf("Top(3) = %+v\nwant %+v", got, want)
	}
	if got := s.Top(10); len(got) != 4 || got[3].Key != "d" || !got[3].Guaranteed {
		t.Fatalf("Top(10) = %+v", got)
	}
	if got := s.Top(0); got != nil {
		t.Fatalf("Top(0) = %+v", got)
	}
	if e := s.EstimateString("a"); !e.Exact || e.Value != 3 || e.Confidence != 1 {
		t.Fatalf("estimate of a: %v", e)
	}
	if e := s.EstimateString("zz"); !e.Exact || e.Value != 0 || e.Upper != 0 {
		t.Fatalf("estimate of an unseen key before the sketch is full: %v", e)
	}
	if s.Total() != 14 || s.Len() != 4 || s.MinCount() != 0 {
		t.Fatalf("Total %d Len %d MinCount %d", s.Total(), s.Len(), s.MinCount())
	}
}

// TestTopKReplacesOldestMinimum pins the replacement order that the
// encoding preserves: the counter longest at the minimum count goes first.
func TestTopKReplacesOldestMinimum(t *testing.T) {
	s := topkNew(t, 3)
	for _, k := range []string{"a", "b", "c", "b"} {
		s.AddString(k)
	}
	s.AddString("d") // replaces a (count 1, oldest at 1): d = 2 ± 1
	s.AddString("e") // replaces c, the only counter left at 1: e = 2 ± 1
	want := []Item{
		{Key: "b", Count: 2, Lower: 2, Upper: 2, Guaranteed: true},
		{Key: "d", Count: 2, Error: 1, Lower: 1, Upper: 2},
		{Key: "e", Count: 2, Error: 1, Lower: 1, Upper: 2},
	}
	if got := s.Top(3); !slices.Equal(got, want) {
		t.Fatalf("Top = %+v\nwant %+v", got, want)
	}
	s.AddString("f") // all at 2: b has been there longest
	if e := s.EstimateString("b"); e.Upper != 2 || e.Lower != 0 {
		t.Fatalf("b should be replaced and bounded by MinCount 2: %v", e)
	}
	if e := s.EstimateString("f"); e.Value != 3 || e.Lower != 1 {
		t.Fatalf("f: %v", e)
	}
	if err := topkCheck(s); err != nil {
		t.Fatal(err)
	}
}

// TestTopKGuaranteed checks Metwally's test: an item is guaranteed when its
// lower bound reaches the (k+1)-th count, or MinCount when k covers every
// tracked key.
func TestTopKGuaranteed(t *testing.T) {
	s := topkNew(t, 2)
	for _, k := range []string{"a", "a", "b", "c"} {
		s.AddString(k)
	}
	// c replaced b: a 2, c 2±1 (true counts a 2, b 1, c 1).
	want := []Item{
		{Key: "a", Count: 2, Lower: 2, Upper: 2, Guaranteed: true},
		{Key: "c", Count: 2, Error: 1, Lower: 1, Upper: 2},
	}
	if got := s.Top(2); !slices.Equal(got, want) {
		t.Fatalf("Top(2) = %+v\nwant %+v", got, want)
	}
	if got := s.Top(1); !slices.Equal(got, want[:1]) {
		t.Fatalf("Top(1) = %+v", got)
	}
	for range 3 {
		s.AddString("c")
	}
	want = []Item{
		{Key: "c", Count: 5, Error: 1, Lower: 4, Upper: 5, Guaranteed: true},
		{Key: "a", Count: 2, Lower: 2, Upper: 2, Guaranteed: true},
	}
	if got := s.Top(2); !slices.Equal(got, want) {
		t.Fatalf("Top(2) = %+v\nwant %+v", got, want)
	}
}

func TestTopKKeyIsCopied(t *testing.T) {
	s := topkNew(t, 4)
	buf := []byte("alpha")
	s.AddHash(Hash(buf), buf, 2)
	copy(buf, "omega")
	s.AddHash(Hash(buf), buf, 1)
	if e := s.EstimateString("alpha"); e.Value != 2 {
		t.Fatalf("alpha: %v (the key aliased the caller's buffer?)", e)
	}
	if top := s.Top(1); top[0].Key != "alpha" {
		t.Fatalf("Top = %+v", top)
	}
	if err := topkCheck(s); err != nil {
		t.Fatal(err)
	}
}

func TestTopKZeroValue(t *testing.T) {
	var s TopK
	if s.Len() != 0 || s.Top(3) != nil || s.MinCount() != 0 {
		t.Fatal("zero value not empty")
	}
	if e := s.EstimateString("a"); !e.Exact || e.Upper != 0 {
		t.Fatalf("zero value estimate %v", e)
	}
	for i := range 3000 {
		s.AddString(strconv.Itoa(i % 2000))
	}
	if s.Capacity() != DefaultTopKCapacity || s.Len() != DefaultTopKCapacity {
		t.Fatalf("Capacity %d Len %d", s.Capacity(), s.Len())
	}
	if err := topkCheck(&s); err != nil {
		t.Fatal(err)
	}
	var z TopK
	if err := topkNew(t, DefaultTopKCapacity).Merge(&z); err != nil {
		t.Fatal(err)
	}
	if err := z.Merge(&s); err != nil || z.Total() != 3000 {
		t.Fatalf("merge into zero value: %v, total %d", err, z.Total())
	}
}

func TestTopKReset(t *testing.T) {
	s := topkNew(t, 8)
	for i := range 100 {
		s.AddString(strconv.Itoa(i))
	}
	s.Reset()
	if s.Len() != 0 || s.Total() != 0 || s.Capacity() != 8 {
		t.Fatalf("after Reset: Len %d Total %d Capacity %d", s.Len(), s.Total(), s.Capacity())
	}
	fresh := topkNew(t, 8)
	for _, x := range []*TopK{s, fresh} {
		for i := range 50 {
			x.AddString(strconv.Itoa(i * i % 13))
		}
	}
	if !bytes.Equal(topkMarshal(t, s), topkMarshal(t, fresh)) {
		t.Fatal("a reset sketch differs from a fresh one under the same updates")
	}
}

func TestTopKSaturates(t *testing.T) {
	s := topkNew(t, 2)
	s.AddString("a")
	s.AddHash(HashString("a"), []byte("a"), math.MaxUint64)
	s.AddHash(HashString("b"), []byte("b"), math.MaxUint64-1)
	s.AddHash(HashString("c"), []byte("c"), 5)
	s.AddHash(HashString("a"), []byte("a"), 0)
	if s.Total() != math.MaxUint64 {
		t.Fatalf("Total %d", s.Total())
	}
	if err := topkCheck(s); err != nil {
		t.Fatal(err)
	}
	var d TopK
	if err := d.UnmarshalBinary(topkMarshal(t, s)); err != nil {
		t.Fatal(err)
	}
	if err := d.Merge(s); err != nil {
		t.Fatal(err)
	}
	if err := topkCheck(&d); err != nil {
		t.Fatal(err)
	}
}

// topkKey is key number i of a small test universe, with lengths from 0 to
// 40 bytes so that counters keep outgrowing their key regions.
func topkKey(i int) string {
	s := strconv.Itoa(i)
	for len(s) < (i*7)%41 {
		s += "."
	}
	if i%17 == 3 {
		return "" // the empty key is a key too
	}
	return s
}

// TestTopKRandomOps runs random weighted streams over small capacities and
// universes and checks the structure and every bound after each update.
func TestTopKRandomOps(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 30
	}
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 7))
		k, u := 1+r.IntN(12), 1+r.IntN(60)
		s := topkNew(t, k)
		exact := map[string]uint64{}
		for range 300 {
			key := topkKey(r.IntN(u))
			w := uint64(1)
			if r.IntN(4) == 0 {
				w = uint64(r.IntN(20))
			}
			s.AddHash(HashString(key), []byte(key), w)
			if w > 0 {
				exact[key] += w
			}
			topkCheckBounds(t, s, exact)
		}
	}
}

// topkZipfCounts feeds n events of Zipf(1.1) over keys 0..imax (decimal
// strings) to s and returns the exact count of each key.
func topkZipfCounts(s *TopK, seed uint64, n int, imax uint64) []uint64 {
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, 11)), 1.1, 1, imax)
	counts := make([]uint64, imax+1)
	var buf []byte
	for range n {
		x := z.Uint64()
		counts[x]++
		buf = strconv.AppendUint(buf[:0], x, 10)
		s.AddHash(Hash(buf), buf, 1)
	}
	return counts
}

// topkTrueTop returns the keys of the k largest counts, and the k-th count.
func topkTrueTop(counts []uint64, k int) (map[string]bool, uint64) {
	idx := make([]int, len(counts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if counts[a] != counts[b] {
			return int(counts[b]) - int(counts[a])
		}
		return a - b
	})
	top := map[string]bool{}
	for _, i := range idx[:k] {
		top[strconv.Itoa(i)] = true
	}
	return top, counts[idx[k-1]]
}

func topkExactMap(counts []uint64) map[string]uint64 {
	m := map[string]uint64{}
	for i, c := range counts {
		if c > 0 {
			m[strconv.Itoa(i)] = c
		}
	}
	return m
}

// topkScore compares reported items with the true top set. A reported key
// whose true count ties the k-th largest counts as correct.
func topkScore(items []Item, top map[string]bool, kth uint64, counts []uint64) (precision, recall float64) {
	hit, tieHit := 0, 0
	for _, it := range items {
		i, _ := strconv.Atoi(it.Key)
		if top[it.Key] {
			hit++
		}
		if counts[i] >= kth {
			tieHit++
		}
	}
	return float64(tieHit) / float64(len(items)), float64(hit) / float64(len(top))
}

// TestTopKZipf is the accuracy trial of the issue: Zipf(1.1) over ~1e6 keys,
// 1e7 events, capacity 1000. The top 100 must be found with precision and
// recall >= 0.99, every true count must lie in its bounds, and every
// guaranteed item must be truly in the top 100.
func TestTopKZipf(t *testing.T) {
	n, imax, top := 10_000_000, uint64(1_000_000), 100
	if testing.Short() {
		n, imax, top = 300_000, 100_000, 20
	}
	s := topkNew(t, 1000)
	counts := topkZipfCounts(s, 1, n, imax)
	topkCheckBounds(t, s, topkExactMap(counts))
	trueTop, kth := topkTrueTop(counts, top)
	items := s.Top(top)
	precision, recall := topkScore(items, trueTop, kth, counts)
	guaranteed := 0
	for _, it := range items {
		i, _ := strconv.Atoi(it.Key)
		if it.Guaranteed {
			guaranteed++
			if counts[i] < kth {
				t.Errorf("%q guaranteed in the top %d, but its count %d is below the %d-th largest %d", it.Key, top, counts[i], top, kth)
			}
		}
	}
	t.Logf("N=%d k=1000: top-%d precision %.3f recall %.3f, %d guaranteed, MinCount %d (N/k = %d)",
		n, top, precision, recall, guaranteed, s.MinCount(), uint64(n)/1000)
	if precision < 0.99 || recall < 0.99 {
		t.Errorf("precision %.3f recall %.3f, want >= 0.99", precision, recall)
	}
}

func TestTopKAddHashAllocs(t *testing.T) {
	ev := topkMakeEvents(1<<15, 3)
	s := topkNew(t, 1024)
	for i := range 8 * ev.n() {
		s.AddHash(ev.hashes[i%ev.n()], ev.key(i%ev.n()), 1)
	}
	i := 0
	if a := testing.AllocsPerRun(20000, func() {
		s.AddHash(ev.hashes[i%ev.n()], ev.key(i%ev.n()), 1)
		i++
	}); a != 0 {
		t.Errorf("AddHash on Zipf keys: got %v allocation(s) (want zero)", a)
	}
	// Keys never seen before: every update replaces the minimum, with key
	// lengths from 8 to 32 bytes so that key regions are outgrown too.
	fresh := make([][]byte, 60000)
	for j := range fresh {
		fresh[j] = fmt.Appendf(nil, "%d-%s", j, bytes.Repeat([]byte{'y'}, 32))[:8+j%25]
	}
	j := 0
	for ; j < 40000; j++ {
		s.AddHash(Hash(fresh[j]), fresh[j], 1)
	}
	hs := make([]uint64, len(fresh))
	for x := range fresh {
		hs[x] = Hash(fresh[x])
	}
	if a := testing.AllocsPerRun(15000, func() {
		s.AddHash(hs[j], fresh[j], 1)
		j++
	}); a != 0 {
		t.Errorf("AddHash replacing the minimum: got %v allocation(s) (want zero)", a)
	}
	// Weighted counts as shed-aware counting makes them (see listLevels).
	ws := topkUnitsWeights(ev.n())
	for x := range 4 * ev.n() {
		s.AddHash(ev.hashes[x%ev.n()], ev.key(x%ev.n()), ws[x%ev.n()])
	}
	x := 0
	if a := testing.AllocsPerRun(20000, func() {
		s.AddHash(ev.hashes[x%ev.n()], ev.key(x%ev.n()), ws[x%ev.n()])
		x++
	}); a != 0 {
		t.Errorf("AddHash with weights round(2^16/p): got %v allocation(s) (want zero)", a)
	}
	if a := testing.AllocsPerRun(1000, func() { s.AddString("constant-key") }); a != 0 {
		t.Errorf("AddString: got %v allocation(s) (want zero)", a)
	}
	if err := topkCheck(s); err != nil {
		t.Fatal(err)
	}
}

// TestTopKWeightedScans checks that weighted updates, whose counts are
// nearly all distinct, do not pay a scan of the counters per eviction:
// the scans, O(k) each, come at most once per k/8 updates. (Before the
// levels were listed, every eviction under such weights scanned.)
func TestTopKWeightedScans(t *testing.T) {
	const n = 200_000
	ev := topkMakeEvents(n, 4)
	w := topkUnitsWeights(n)
	for _, k := range []int{64, 1024} {
		s := topkNew(t, k)
		for i := range n {
			s.AddHash(ev.hashes[i], ev.key(i), w[i])
		}
		if err := topkCheck(s); err != nil {
			t.Fatal(err)
		}
		if s.scans*k > 8*n {
			t.Errorf("k=%d: %d scans of %d counters in %d weighted updates, want at most one per k/8 updates", k, s.scans, k, n)
		}
	}
}

func TestTopKEstimateAllocs(t *testing.T) {
	s := topkNew(t, 64)
	for i := range 1000 {
		s.AddString(strconv.Itoa(i % 100))
	}
	key := []byte("42")
	h := Hash(key)
	if a := testing.AllocsPerRun(1000, func() { s.EstimateHash(h, key) }); a != 0 {
		t.Errorf("EstimateHash: got %v allocation(s) (want zero)", a)
	}
}

// TestTopKSaturatedMinimum: once the minimum count has saturated at
// 2^64-1, a new key takes over the counter that held it, which stays the
// first to replace (its count cannot rise). The replacement dropped the
// counter from the minimum's queue, so the next new key indexed past its
// end: a panic on counts that add up past 2^64.
func TestTopKSaturatedMinimum(t *testing.T) {
	for _, k := range []int{1, 3} {
		a, b := topkNew(t, k), newRefTopK(k)
		for i := range 4 * k {
			w := uint64(1)
			if i < k {
				w = math.MaxUint64
			}
			key := []byte(strconv.Itoa(i))
			a.AddHash(Hash(key), key, w)
			b.AddHash(Hash(key), key, w)
			topkSameAsRef(t, a, b, fmt.Sprintf("k=%d after %d updates", k, i+1))
		}
		if it := a.Top(1); it[0].Count != math.MaxUint64 || a.MinCount() != math.MaxUint64 {
			t.Errorf("k=%d: top %+v, MinCount %d: want counts saturated at 2^64-1", k, it, a.MinCount())
		}
	}
}

// TestTopKNewKeysAllocs: on keys drawn from many more than there are
// counters, where a few repeats lift counters into the levels that
// listAhead lists, AddHash allocates nothing once the lists have grown.
func TestTopKNewKeysAllocs(t *testing.T) {
	ev := topkUniformEvents(1<<16, 12)
	s := topkNew(t, 1024)
	for i := range ev.n() {
		s.AddHash(ev.hashes[i], ev.key(i), 1)
	}
	i := 0
	if a := testing.AllocsPerRun(30000, func() {
		s.AddHash(ev.hashes[i], ev.key(i), 1)
		i++
	}); a != 0 {
		t.Errorf("AddHash of mostly new keys: got %v allocation(s) (want zero)", a)
	}
	if err := topkCheck(s); err != nil {
		t.Fatal(err)
	}
}
