package sketch

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// refMerge is Merge as it was before its sort was packed into words: every
// combined entry sorted by count descending and key bytes ascending with
// one comparison function, the first k rebuilt.
func refMerge(t, o *TopK) {
	t.init()
	k := min(t.capacity, cmp.Or(o.capacity, DefaultTopKCapacity))
	if len(o.counters) == 0 && k == t.capacity {
		return
	}
	if o == t {
		o = t.Clone()
	}
	m1, m2 := t.MinCount(), o.MinCount()
	var es []tkEntry
	for i := range t.counters {
		c := &t.counters[i]
		key := t.key(int32(i))
		n, e := t.count(int32(i)), c.err
		if j := o.lookup(c.hash, key); j != tkNil {
			n, e = tkSatAdd(n, o.count(j)), tkSatAdd(e, o.counters[j].err)
		} else {
			n, e = tkSatAdd(n, m2), tkSatAdd(e, m2)
		}
		es = append(es, tkEntry{hash: c.hash, key: slices.Clone(key), count: n, err: e})
	}
	for j := range o.counters {
		c := &o.counters[j]
		key := o.key(int32(j))
		if len(t.counters) != 0 && t.lookup(c.hash, key) != tkNil {
			continue
		}
		es = append(es, tkEntry{hash: c.hash, key: slices.Clone(key), count: tkSatAdd(o.count(int32(j)), m1), err: tkSatAdd(c.err, m1)})
	}
	slices.SortFunc(es, func(a, b tkEntry) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return bytes.Compare(a.key, b.key)
	})
	ord := make([]uint64, min(len(es), k))
	for i := range ord {
		ord[i] = uint64(i)
	}
	t.capacity = k
	t.rebuild(es, ord)
	t.total = tkSatAdd(t.total, o.total)
}

// TestTopKMergeSameStateAsSort checks that Merge's packed sort (count rank,
// leading key bits after the common prefix, index in one word; ties sorted
// by the keys) leaves the very state a plain sort by count and key does,
// on keys made to defeat each shortcut: long common prefixes, keys that
// are prefixes of others or end in zero bytes, many equal counts, and
// counts that span more than 24 bits (ranked by sorting).
func TestTopKMergeSameStateAsSort(t *testing.T) {
	keysets := map[string]func(r *rand.Rand, i int) string{
		"short":         func(_ *rand.Rand, i int) string { return fmt.Sprint(i) },
		"common prefix": func(_ *rand.Rand, i int) string { return fmt.Sprintf("/api/v1/users/%08d/items", i) },
		"prefixes and zeros": func(_ *rand.Rand, i int) string {
			return string(bytes.Repeat([]byte{'a', 0}, i%13)) + string(rune('a'+i/13%3))
		},
		"random bytes": func(r *rand.Rand, _ int) string {
			b := make([]byte, r.IntN(40))
			for j := range b {
				b[j] = byte(r.IntN(3))
			}
			return string(b)
		},
	}
	weights := map[string]func(r *rand.Rand) uint64{
		"unit":       func(*rand.Rand) uint64 { return 1 },
		"few values": func(r *rand.Rand) uint64 { return uint64(1 + r.IntN(3)) },
		"wide":       func(r *rand.Rand) uint64 { return 1 << r.IntN(40) },
	}
	for kn, key := range keysets {
		for wn, weight := range weights {
			for _, c := range []struct{ kt, ko, n, keys int }{{64, 64, 3000, 400}, {50, 20, 500, 40}, {1000, 1000, 20000, 5000}, {8, 300, 2000, 2000}} {
				name := fmt.Sprintf("%s/%s/k=%d,%d/keys=%d", kn, wn, c.kt, c.ko, c.keys)
				t.Run(name, func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(c.kt), uint64(c.keys)))
					fill := func(k int) *TopK {
						s := topkNew(t, k)
						for range c.n {
							kb := []byte(key(r, r.IntN(c.keys)))
							s.AddHash(Hash(kb), kb, weight(r))
						}
						return s
					}
					a, b, d := fill(c.kt), fill(c.ko), fill(c.ko)
					got, want := a.Clone(), a.Clone()
					for _, o := range []*TopK{b, d, got} {
						if o == got {
							o = want // self-merge: the same state on both sides
							if err := got.Merge(got); err != nil {
								t.Fatal(err)
							}
							refMerge(want, want)
							continue
						}
						if err := got.Merge(o); err != nil {
							t.Fatal(err)
						}
						refMerge(want, o)
					}
					g, _ := got.MarshalBinary()
					w, _ := want.MarshalBinary()
					if !bytes.Equal(g, w) {
						t.Fatalf("merged state differs from the plain sort's (%d vs %d bytes); top: %v vs %v", len(g), len(w), got.Top(3), want.Top(3))
					}
				})
			}
		}
	}
}

// TestTopKMergeAllocatesNothing: an answer that merges the workers into a
// sketch it keeps (Reset between answers) allocates nothing once its
// scratch has grown.
func TestTopKMergeAllocatesNothing(t *testing.T) {
	x, y := topkFull(t, 1000, 1<<16, 1), topkFull(t, 1000, 1<<16, 2)
	all := topkNew(t, 1000)
	if n := testing.AllocsPerRun(20, func() {
		all.Reset()
		if all.Merge(x) != nil || all.Merge(y) != nil {
			t.Fatal("merge failed")
		}
	}); n != 0 {
		t.Errorf("%v allocations per answer, want 0", n)
	}
}
