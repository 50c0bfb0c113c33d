package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/internal/hashmix"
)

// gdPair is one (group, value) pair of a test stream.
type gdPair struct {
	group int
	hash  uint64
}

// gdStream returns a stream of distinct pairs where group g has sizes[g]
// distinct values, each appearing 1 to 3 times, shuffled.
func gdStream(seed uint64, sizes []int) []gdPair {
	rng := rand.New(rand.NewPCG(seed, 77))
	var s []gdPair
	for g, n := range sizes {
		for v := range n {
			h := hashmix.SplitMix64(seed<<40 ^ uint64(g)<<24 ^ uint64(v))
			for range 1 + rng.IntN(3) {
				s = append(s, gdPair{g, h})
			}
		}
	}
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

func gdKey(g int) []byte { return []byte(fmt.Sprintf("group-%d", g)) }

func gdFeed(tb testing.TB, k int, s []gdPair) *GroupDistinct {
	tb.Helper()
	gd, err := NewGroupDistinct(k)
	if err != nil {
		tb.Fatal(err)
	}
	keys := map[int][]byte{}
	for _, p := range s {
		key, ok := keys[p.group]
		if !ok {
			key = gdKey(p.group)
			keys[p.group] = key
		}
		gd.AddPair(p.hash, key)
	}
	return gd
}

// zipfSizes returns g group sizes proportional to 1/(i+1)^s summing to
// about n, each at least 1.
func zipfSizes(g, n int, s float64) []int {
	var z float64
	for i := range g {
		z += math.Pow(float64(i+1), -s)
	}
	out := make([]int, g)
	for i := range out {
		out[i] = max(1, int(float64(n)*math.Pow(float64(i+1), -s)/z))
	}
	return out
}

func TestGroupDistinctExactWhileSmall(t *testing.T) {
	sizes := []int{50, 3, 20, 1, 7}
	gd := gdFeed(t, 128, gdStream(1, sizes))
	if !gd.Exact() || gd.Retained() != 81 || gd.Groups() != 5 {
		t.Fatalf("exact %v retained %d groups %d, want true 81 5", gd.Exact(), gd.Retained(), gd.Groups())
	}
	for g, n := range sizes {
		e := gd.Estimate(gdKey(g))
		if !e.Exact || e.Value != float64(n) {
			t.Errorf("group %d: %v, want exactly %d", g, e, n)
		}
	}
	top := gd.Top(3)
	var got []string
	for _, c := range top {
		got = append(got, fmt.Sprintf("%s=%v", c.Key, c.Estimate.Value))
	}
	if want := []string{"group-0=50", "group-2=20", "group-4=7"}; !slices.Equal(got, want) {
		t.Errorf("Top(3) = %v, want %v", got, want)
	}
	if e := gd.EstimateString("nobody"); !e.Exact || e.Value != 0 {
		t.Errorf("absent group: %v, want exactly 0", e)
	}
}

// TestGroupDistinctKeepsKSmallest checks the state against its definition:
// the K smallest distinct pair hashes seen, theta the (K+1)-th.
func TestGroupDistinctKeepsKSmallest(t *testing.T) {
	for _, k := range []int{16, 100, 1000} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			s := gdStream(uint64(k), zipfSizes(50, 20*k, 1))
			gd := gdFeed(t, k, s)
			distinct := map[uint64]int{}
			for _, p := range s {
				distinct[p.hash] = p.group
			}
			all := make([]uint64, 0, len(distinct))
			for h := range distinct {
				all = append(all, h)
			}
			slices.Sort(all)
			held := slices.Clone(gd.heap)
			slices.Sort(held)
			if !slices.Equal(held, all[:k]) {
				t.Fatalf("held pairs are not the %d smallest", k)
			}
			if gd.theta != all[k] || !gd.cut {
				t.Fatalf("theta %#x, want the (k+1)-th smallest %#x", gd.theta, all[k])
			}
			per := map[int]int{}
			for _, h := range all[:k] {
				per[distinct[h]]++
			}
			for g, c := range per {
				gi, ok := gd.findGroup(Hash(gdKey(g)))
				if !ok || int(gd.groups[gi].count) != c {
					t.Fatalf("group %d holds %d pairs, want %d", g, gd.groups[gi].count, c)
				}
			}
			if gd.Groups() != len(per) {
				t.Fatalf("%d groups, want %d", gd.Groups(), len(per))
			}
		})
	}
}

// TestGroupDistinctMergeEqualsWhole: the state depends on the set of pairs
// only, so parts merged, in any order, give the bytes of the whole, and
// so does the stream in another order.
func TestGroupDistinctMergeEqualsWhole(t *testing.T) {
	for _, k := range []int{16, 256, 4096} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			s := gdStream(3, zipfSizes(200, 10000, 1.1))
			want := mustMarshal(t, gdFeed(t, k, s))
			rev := slices.Clone(s)
			slices.Reverse(rev)
			if got := mustMarshal(t, gdFeed(t, k, rev)); !bytes.Equal(got, want) {
				t.Fatal("the stream reversed gives other bytes")
			}
			third := len(s) / 3
			parts := []*GroupDistinct{gdFeed(t, k, s[:third]), gdFeed(t, k, s[third:2*third]), gdFeed(t, k, s[2*third:])}
			for _, order := range [][]int{{0, 1, 2}, {2, 0, 1}} {
				m, _ := NewGroupDistinct(k)
				for _, i := range order {
					if err := m.Merge(parts[i]); err != nil {
						t.Fatal(err)
					}
				}
				if got := mustMarshal(t, m); !bytes.Equal(got, want) {
					t.Fatalf("merge in order %v differs from the whole", order)
				}
			}
		})
	}
}

func TestGroupDistinctRoundTrip(t *testing.T) {
	for _, tc := range []struct{ k, groups, n int }{{16, 1, 0}, {16, 3, 10}, {64, 40, 5000}, {4096, 300, 100000}} {
		t.Run(fmt.Sprintf("k=%d,groups=%d,n=%d", tc.k, tc.groups, tc.n), func(t *testing.T) {
			s := gdStream(5, zipfSizes(tc.groups, tc.n, 1))
			if tc.n == 0 {
				s = nil
			}
			gd := gdFeed(t, tc.k, s)
			enc := mustMarshal(t, gd)
			var back GroupDistinct
			if err := back.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			if again := mustMarshal(t, &back); !bytes.Equal(again, enc) {
				t.Fatal("decode/encode changed the bytes")
			}
			more := gdStream(6, zipfSizes(tc.groups+5, tc.n/2+20, 1))
			for _, p := range more {
				gd.AddPair(p.hash, gdKey(p.group))
				back.AddPair(p.hash, gdKey(p.group))
			}
			if !bytes.Equal(mustMarshal(t, gd), mustMarshal(t, &back)) {
				t.Fatal("the restored sketch goes on differently")
			}
			if !slices.EqualFunc(gd.Top(5), back.Top(5), func(a, b GroupCount) bool {
				return bytes.Equal(a.Key, b.Key) && a.Estimate == b.Estimate
			}) {
				t.Fatal("restored Top differs")
			}
		})
	}
}

func TestGroupDistinctZeroValueAndReset(t *testing.T) {
	var gd GroupDistinct
	if gd.K() != DefaultGroupDistinctK || !gd.Exact() || len(gd.Top(0)) != 0 {
		t.Fatal("zero value is not an empty default sketch")
	}
	enc := mustMarshal(t, &gd)
	gd.AddString("a", "1")
	gd.AddString("a", "2")
	gd.AddString("a", "1")
	if e := gd.EstimateString("a"); e.Value != 2 || !e.Exact {
		t.Fatalf("a: %v, want exactly 2", e)
	}
	if PairHash([]byte("a"), []byte("1")) == PairHash([]byte("a1"), nil) {
		t.Fatal("PairHash is ambiguous")
	}
	gd.Reset()
	if got := mustMarshal(t, &gd); !bytes.Equal(got, enc) {
		t.Fatal("Reset does not give the empty sketch's bytes")
	}
	if _, err := NewGroupDistinct(8); !errors.Is(err, ErrInvalidParameter) {
		t.Fatalf("k 8: %v, want ErrInvalidParameter", err)
	}
}

// gdEncode builds an encoding from explicit parts, for the error cases.
func gdEncode(t testing.TB, k, theta, cut uint64, groups []string, pairs [][]uint64) []byte {
	var p []byte
	for i, g := range groups {
		p = binary.AppendUvarint(p, uint64(len(g)))
		p = append(p, g...)
		p = binary.AppendUvarint(p, uint64(len(pairs[i])))
		for _, h := range pairs[i] {
			p = binary.LittleEndian.AppendUint64(p, h)
		}
	}
	return envelopeOf(t, uint8(envelope.KindGroupDistinct), [4]uint64{k, theta, cut, uint64(len(groups))}, p)
}

func TestGroupDistinctUnmarshalErrors(t *testing.T) {
	// Two groups in hash order.
	a, b := "a", "b"
	if Hash([]byte(a)) > Hash([]byte(b)) {
		a, b = b, a
	}
	good := gdEncode(t, 16, 0, 0, []string{a, b}, [][]uint64{{1, 5}, {3}})
	var gd GroupDistinct
	if err := gd.UnmarshalBinary(good); err != nil {
		t.Fatalf("good encoding: %v", err)
	}
	full := make([]uint64, 16)
	for i := range full {
		full[i] = uint64(i + 1)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"other kind", envelopeOf(t, uint8(envelope.KindHLL), [4]uint64{14}, nil), ErrKind},
		{"k too small", gdEncode(t, 8, 0, 0, nil, nil), ErrCorrupt},
		{"k too large", gdEncode(t, MaxGroupDistinctK+1, 0, 0, nil, nil), ErrCorrupt},
		{"theta without flag", gdEncode(t, 16, 5, 0, nil, nil), ErrCorrupt},
		{"flag without theta", gdEncode(t, 16, 0, 1, nil, nil), ErrCorrupt},
		{"flag 2", gdEncode(t, 16, 9, 2, nil, nil), ErrCorrupt},
		{"groups out of order", gdEncode(t, 16, 0, 0, []string{b, a}, [][]uint64{{1}, {3}}), ErrCorrupt},
		{"same group twice", gdEncode(t, 16, 0, 0, []string{a, a}, [][]uint64{{1}, {3}}), ErrCorrupt},
		{"pairs out of order", gdEncode(t, 16, 0, 0, []string{a}, [][]uint64{{5, 1}}), ErrCorrupt},
		{"pair in two groups", gdEncode(t, 16, 0, 0, []string{a, b}, [][]uint64{{1, 3}, {3}}), ErrCorrupt},
		{"empty group", gdEncode(t, 16, 0, 0, []string{a}, [][]uint64{{}}), ErrCorrupt},
		{"more pairs than k", gdEncode(t, 16, 0, 0, []string{a}, [][]uint64{append(slices.Clone(full), 17)}), ErrCorrupt},
		{"cut with fewer than k", gdEncode(t, 16, 100, 1, []string{a}, [][]uint64{full[:15]}), ErrCorrupt},
		{"pair above theta", gdEncode(t, 16, 16, 1, []string{a}, [][]uint64{full}), ErrCorrupt},
		{"group count too large", envelope.Reseal(withByte(slices.Clone(good), 40, 3)), ErrCorrupt},
		{"group count huge", envelope.Reseal(withByte(slices.Clone(good), 47, 0x7f)), ErrCorrupt},
		{"trailing bytes", gdEncodeTrailing(t, good), ErrCorrupt},
		{"flipped bit", withByte(slices.Clone(good), 60, good[60]^1), ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := mustMarshal(t, &gd)
			err := gd.UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !bytes.Equal(mustMarshal(t, &gd), before) {
				t.Fatal("a failed decode changed the sketch")
			}
		})
	}
	// The cut sketch with exactly k pairs below theta decodes.
	if err := gd.UnmarshalBinary(gdEncode(t, 16, 100, 1, []string{a}, [][]uint64{full})); err != nil {
		t.Fatalf("full cut sketch: %v", err)
	}
}

func gdEncodeTrailing(t testing.TB, good []byte) []byte {
	hdr, payload, err := envelope.Decode(good, envelope.KindGroupDistinct)
	if err != nil {
		t.Fatal(err)
	}
	return envelopeOf(t, uint8(hdr.Kind), hdr.Shape, append(slices.Clone(payload), 0))
}

// TestGroupDistinctCrowdedDecode: pair hashes chosen to share slots under
// the fixed salt still decode in linear time (the decoder salts from the
// input).
func TestGroupDistinctCrowdedDecode(t *testing.T) {
	const k = 1 << 14
	pairs := make([]uint64, k)
	for i := range pairs {
		pairs[i] = uint64(i) << 20 // equal low bits: one cluster without a salt
	}
	enc := gdEncode(t, k, 1<<50, 1, []string{"g"}, [][]uint64{pairs})
	var gd GroupDistinct
	if err := gd.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if e := gd.EstimateString("g"); e.Value != float64(k)/(float64(1<<50)*0x1p-64) {
		t.Fatalf("estimate %v", e)
	}
}

func TestGroupDistinctAddPairAllocs(t *testing.T) {
	gd, _ := NewGroupDistinct(1024)
	s := gdStream(9, zipfSizes(100, 50000, 1.1))
	keys := make([][]byte, 100)
	for i := range keys {
		keys[i] = gdKey(i)
	}
	for _, p := range s {
		gd.AddPair(p.hash, keys[p.group])
	}
	more := gdStream(10, zipfSizes(100, 50000, 1.1))
	i := 0
	allocs := testing.AllocsPerRun(len(more)-1, func() {
		gd.AddPair(more[i].hash, keys[more[i].group])
		i++
	})
	if allocs != 0 {
		t.Fatalf("got %v allocation(s) per AddPair (want zero)", allocs)
	}
}

// TestGroupDistinctManyGroups: memory stays at K pairs whatever the
// number of groups.
func TestGroupDistinctManyGroups(t *testing.T) {
	n := 10_000_000
	if testing.Short() {
		n = 500_000
	}
	gd, _ := NewGroupDistinct(1024)
	var key [8]byte
	for i := range n {
		binary.LittleEndian.PutUint64(key[:], uint64(i))
		gd.AddPair(hashmix.SplitMix64(uint64(i)), key[:])
	}
	if gd.Retained() != 1024 || gd.Groups() > 1024 || len(gd.pairs) > 2048 || len(gd.groups) > 1024 {
		t.Fatalf("retained %d groups %d table %d entries %d: more than K = 1024", gd.Retained(), gd.Groups(), len(gd.pairs), len(gd.groups))
	}
}

func TestGroupDistinctMergeOtherK(t *testing.T) {
	a, _ := NewGroupDistinct(16)
	b, _ := NewGroupDistinct(32)
	b.AddString("g", "v")
	if err := a.Merge(b); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("k 32 into k 16: %v, want ErrIncompatible", err)
	}
	if a.Retained() != 0 {
		t.Fatal("a refused merge changed the sketch")
	}
	var zero GroupDistinct
	d, _ := NewGroupDistinct(DefaultGroupDistinctK)
	d.AddString("g", "v")
	if err := zero.Merge(d); err != nil || zero.Retained() != 1 {
		t.Fatalf("default k into the zero value: %v, %d held", err, zero.Retained())
	}
	if err := zero.Merge(nil); err != nil {
		t.Fatal(err)
	}
}

// TestGroupDistinctExtremeTheta: thetas at the ends of the hash space give
// finite, ordered bounds.
func TestGroupDistinctExtremeTheta(t *testing.T) {
	full := make([]uint64, 16)
	for i := range full {
		full[i] = uint64(i + 1)
	}
	for _, theta := range []uint64{17, 1 << 40, math.MaxUint64} {
		var gd GroupDistinct
		if err := gd.UnmarshalBinary(gdEncode(t, 16, theta, 1, []string{"g"}, [][]uint64{full})); err != nil {
			t.Fatal(err)
		}
		for _, group := range []string{"g", "absent"} {
			e := gd.EstimateString(group)
			if math.IsNaN(e.Lower) || math.IsNaN(e.Upper) || math.IsInf(e.Upper, 0) || !(e.Lower <= e.Value && e.Value <= e.Upper) {
				t.Errorf("theta %#x, group %s: %v", theta, group, e)
			}
		}
	}
}
