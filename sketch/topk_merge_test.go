package sketch

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
)

// topkShards splits n Zipf events over shards: by key hash (partitions, as a
// keyed pipeline does: disjoint keys) or at random (overlapping keys). It
// returns the shards and the exact counts of the whole stream.
func topkShards(tb testing.TB, k, shards, n int, byKey bool, seed uint64) ([]*TopK, []uint64) {
	r := rand.New(rand.NewPCG(seed, 13))
	z := rand.NewZipf(r, 1.1, 1, 200_000)
	out := make([]*TopK, shards)
	for i := range out {
		out[i] = topkNew(tb, k)
	}
	counts := make([]uint64, 200_001)
	var buf []byte
	for range n {
		x := z.Uint64()
		counts[x]++
		buf = strconv.AppendUint(buf[:0], x, 10)
		h := Hash(buf)
		i := r.IntN(shards)
		if byKey {
			i = int(h % uint64(shards))
		}
		out[i].AddHash(h, buf, 1)
	}
	return out, counts
}

// TestTopKMergeShards checks that merged summaries keep every Space-Saving
// guarantee (every true count in [count-error, count], untracked counts at
// most MinCount, errors at most MinCount <= N/k), for chains and trees of
// merges over disjoint and overlapping shards, and still find the top 100 (top 20 under -short) nearly as well as one
// sketch over the whole stream.
func TestTopKMergeShards(t *testing.T) {
	n, shards, topN := 2_000_000, 16, 100
	if testing.Short() {
		n, shards, topN = 100_000, 8, 20
	}
	for _, tc := range []struct {
		name  string
		k     int
		byKey bool
		tree  bool
	}{
		{"chain/disjoint/k=1000", 1000, true, false},
		{"chain/overlapping/k=1000", 1000, false, false},
		{"tree/disjoint/k=1000", 1000, true, true},
		{"tree/overlapping/k=1000", 1000, false, true},
		{"chain/overlapping/k=50", 50, false, false},
		{"tree/disjoint/k=50", 50, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, counts := topkShards(t, tc.k, shards, n, tc.byKey, 3)
			var s *TopK
			if tc.tree {
				for len(parts) > 1 {
					var next []*TopK
					for i := 0; i+1 < len(parts); i += 2 {
						if err := parts[i].Merge(parts[i+1]); err != nil {
							t.Fatal(err)
						}
						next = append(next, parts[i])
					}
					parts = next
				}
				s = parts[0]
			} else {
				s = topkNew(t, tc.k)
				for _, p := range parts {
					if err := s.Merge(p); err != nil {
						t.Fatal(err)
					}
				}
			}
			topkCheckBounds(t, s, topkExactMap(counts))
			if tc.k < 1000 {
				return
			}
			top, kth := topkTrueTop(counts, topN)
			precision, recall := topkScore(s.Top(topN), top, kth, counts)
			t.Logf("top-%d precision %.3f recall %.3f, MinCount %d (N/k %d)", topN, precision, recall, s.MinCount(), n/tc.k)
			// A merged count carries the other shards' MinCounts as slack
			// (up to ~600 here, against gaps of ~18 between neighbours at
			// rank 100), and the slack differs a little between keys of
			// different shards, so ranking by count may swap a key or two
			// at the cut-off: 0.98-1.00 over seeds 0-5.
			if precision < 0.97 || recall < 0.97 {
				t.Errorf("precision %.3f recall %.3f after merging, want >= 0.97", precision, recall)
			}
		})
	}
}

// TestTopKMergeRandomPool runs a pool of small sketches, each over its own
// part of the stream: random updates, and merges of one sketch into another
// (the source then starts over, so no event is counted twice). After every
// merge the receiver must keep every guarantee for its combined stream; the
// sketches keep taking updates after merging, so merged states are also
// updated and merged again.
func TestTopKMergeRandomPool(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 10
	}
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 17))
		k, u, pool := 1+r.IntN(10), 5+r.IntN(80), 2+r.IntN(6)
		sk := make([]*TopK, pool)
		exact := make([]map[string]uint64, pool)
		for i := range sk {
			sk[i], exact[i] = topkNew(t, k), map[string]uint64{}
		}
		for range 2000 {
			i := r.IntN(pool)
			if r.IntN(40) != 0 {
				// Skewed keys, so that heavy hitters exist.
				key := topkKey(int(r.ExpFloat64() * float64(u) / 4))
				w := uint64(1)
				if r.IntN(8) == 0 {
					w = 1 + uint64(r.IntN(9))
				}
				sk[i].AddHash(HashString(key), []byte(key), w)
				exact[i][key] += w
				continue
			}
			j := r.IntN(pool)
			if j == i {
				continue
			}
			if err := sk[i].Merge(sk[j]); err != nil {
				t.Fatal(err)
			}
			for key, f := range exact[j] {
				exact[i][key] += f
			}
			topkCheckBounds(t, sk[i], exact[i])
			sk[j].Reset()
			exact[j] = map[string]uint64{}
		}
	}
}

// TestTopKMergeCommutes: the merged state depends on the two states only.
func TestTopKMergeCommutes(t *testing.T) {
	parts, _ := topkShards(t, 64, 2, 20000, false, 5)
	ab, ba := parts[0].Clone(), parts[1].Clone()
	if err := ab.Merge(parts[1]); err != nil {
		t.Fatal(err)
	}
	if err := ba.Merge(parts[0]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(topkMarshal(t, ab), topkMarshal(t, ba)) {
		t.Fatal("a.Merge(b) and b.Merge(a) encode differently")
	}
}

func TestTopKMergeSelf(t *testing.T) {
	s := topkNew(t, 4)
	for _, k := range []string{"a", "a", "b", "c", "d", "e", "a"} {
		s.AddString(k)
	}
	before := s.Top(4)
	if err := s.Merge(s); err != nil {
		t.Fatal(err)
	}
	if err := topkCheck(s); err != nil {
		t.Fatal(err)
	}
	if s.Total() != 14 {
		t.Fatalf("Total %d, want 14", s.Total())
	}
	for i, it := range s.Top(4) {
		if it.Key != before[i].Key || it.Count != 2*before[i].Count || it.Error != 2*before[i].Error {
			t.Fatalf("self-merge: %+v from %+v", it, before[i])
		}
	}
}

// TestTopKMergeCapacities merges summaries of capacities 256 and 1024 of
// overlapping Zipf shards, both ways: the result has capacity 256, the
// same bytes either way, and the guarantees of a capacity-256 summary of
// the whole stream (every truth within its bounds, untracked counts at
// most MinCount, errors at most MinCount <= N/256).
func TestTopKMergeCapacities(t *testing.T) {
	const n = 400_000
	r := rand.New(rand.NewPCG(21, 13))
	z := rand.NewZipf(r, 1.1, 1, 200_000)
	small, large := topkNew(t, 256), topkNew(t, 1024)
	exact := map[string]uint64{}
	var buf []byte
	for i := range n {
		buf = strconv.AppendUint(buf[:0], z.Uint64(), 10)
		exact[string(buf)]++
		if i%3 == 0 { // uneven shards
			small.AddHash(Hash(buf), buf, 1)
		} else {
			large.AddHash(Hash(buf), buf, 1)
		}
	}
	ab, ba := small.Clone(), large.Clone()
	if err := ab.Merge(large); err != nil {
		t.Fatal(err)
	}
	if err := ba.Merge(small); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*TopK{"small.Merge(large)": ab, "large.Merge(small)": ba} {
		if m.Capacity() != 256 || m.Len() != 256 || m.Total() != n {
			t.Fatalf("%s: capacity %d, %d keys, total %d; want 256, 256, %d", name, m.Capacity(), m.Len(), m.Total(), n)
		}
		topkCheckBounds(t, m, exact)
		if mc := m.MinCount(); mc > n/256 {
			t.Errorf("%s: MinCount %d above N/k = %d", name, mc, n/256)
		}
	}
	if !bytes.Equal(topkMarshal(t, ab), topkMarshal(t, ba)) {
		t.Fatal("merges of capacities 256 and 1024 encode differently by argument order")
	}
	// Going on after the merge keeps a capacity-256 summary.
	ba.AddString("after")
	if err := topkCheck(ba); err != nil {
		t.Fatal(err)
	}
	// An empty summary of smaller capacity shrinks the receiver too.
	e := topkNew(t, 16)
	if err := ba.Merge(e); err != nil {
		t.Fatal(err)
	}
	if ba.Capacity() != 16 || ba.Len() != 16 {
		t.Fatalf("merge of an empty capacity-16 summary: capacity %d, %d keys", ba.Capacity(), ba.Len())
	}
	if err := topkCheck(ba); err != nil {
		t.Fatal(err)
	}
	if err := ba.Merge(nil); err != nil {
		t.Fatal(err)
	}
}

// TestTopKMergeAllocs: merging reuses its scratch once it has grown.
func TestTopKMergeAllocs(t *testing.T) {
	parts, _ := topkShards(t, 256, 2, 50000, false, 9)
	a, b := parts[0], parts[1]
	for range 3 {
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(20, func() { _ = a.Merge(b) }); n != 0 {
		t.Errorf("Merge: got %v allocation(s) (want zero)", n)
	}
}
