package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

type gsRec struct {
	group int
	x     float64
}

// gsStream returns n records of Zipf(s) groups over g groups, each value
// drawn around 10·(group+1).
func gsStream(seed uint64, n, g int, s float64) []gsRec {
	rng := rand.New(rand.NewPCG(seed, 3))
	z := rand.NewZipf(rng, s, 1, uint64(g-1))
	out := make([]gsRec, n)
	for i := range out {
		gr := int(z.Uint64())
		out[i] = gsRec{gr, 10*float64(gr+1) + rng.NormFloat64()}
	}
	return out
}

func gsKey(g int) []byte { return fmt.Appendf(nil, "/api/%d", g) }

func gsFeed(o *GroupStats, recs []gsRec) {
	keys := map[int][]byte{}
	for _, r := range recs {
		k, ok := keys[r.group]
		if !ok {
			k = gsKey(r.group)
			keys[r.group] = k
		}
		o.Add(sketch.Hash(k), k, r.x)
	}
}

type gsTruth struct {
	n    uint64
	mean float64
}

func gsTruths(recs []gsRec) map[string]*gsTruth {
	t := map[string]*gsTruth{}
	for _, r := range recs {
		k := string(gsKey(r.group))
		if t[k] == nil {
			t[k] = &gsTruth{}
		}
		tr := t[k]
		tr.n++
		tr.mean += (r.x - tr.mean) / float64(tr.n)
	}
	return t
}

// TestGroupStatsExactWhileRoom: with no more groups than counters every
// count, mean and quantile covers all of its group's records.
func TestGroupStatsExactWhileRoom(t *testing.T) {
	recs := gsStream(1, 20000, 50, 1.1)
	o := &GroupStats{Capacity: 64}
	gsFeed(o, recs)
	truth := gsTruths(recs)
	if o.Len() != len(truth) || o.UnlistedMax() != 0 {
		t.Fatalf("%d groups held of %d, unlisted max %d", o.Len(), len(truth), o.UnlistedMax())
	}
	for _, g := range o.Top(0) {
		tr := truth[string(g.Key)]
		if g.Late || g.Count != tr.n || g.Lower != tr.n || math.Abs(g.Moments.Mean()-tr.mean) > 1e-9 || g.Quantiles.Count() != tr.n {
			t.Fatalf("%s: %+v, truth %+v", g.Key, g, tr)
		}
	}
}

// TestGroupStatsSpaceSaving: with many more groups than counters, every
// held group's true count lies in [Lower, Count], its stats cover Lower
// records, a group is late exactly when Lower < Count, the top 10 groups
// of a Zipf(1.1) stream are the true top 10, and parts merged keep all
// of that.
func TestGroupStatsSpaceSaving(t *testing.T) {
	recs := gsStream(2, 200000, 100000, 1.1)
	truth := gsTruths(recs)
	whole := &GroupStats{Capacity: 128}
	gsFeed(whole, recs)
	a, b := &GroupStats{Capacity: 128}, &GroupStats{Capacity: 128}
	gsFeed(a, recs[:len(recs)/3])
	gsFeed(b, recs[len(recs)/3:])
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]*GroupStats{"whole": whole, "merged": a} {
		if o.Len() != 128 {
			t.Fatalf("%s: %d groups held, want 128", name, o.Len())
		}
		top := o.Top(0)
		for i, g := range top {
			tr := truth[string(g.Key)]
			if g.Lower > tr.n || g.Count < tr.n || g.Late != (g.Lower < g.Count) || g.Moments.Count() != g.Lower {
				t.Fatalf("%s: %s: count [%d, %d] late %v stats of %d, truth %d", name, g.Key, g.Lower, g.Count, g.Late, g.Moments.Count(), tr.n)
			}
			if i < 10 && string(g.Key) != string(gsKey(i)) {
				t.Fatalf("%s: rank %d is %s, want %s", name, i+1, g.Key, gsKey(i))
			}
			if i < 10 && math.Abs(g.Moments.Mean()-tr.mean) > 0.5 {
				t.Fatalf("%s: %s mean %v, truth %v", name, g.Key, g.Moments.Mean(), tr.mean)
			}
		}
		for k, tr := range truth {
			if _, held := o.idx[sketch.Hash([]byte(k))]; !held && tr.n > o.UnlistedMax() {
				t.Fatalf("%s: %s of %d records not held, unlisted max %d", name, k, tr.n, o.UnlistedMax())
			}
		}
	}
}

// TestGroupStatsBounded: the counters stay within Capacity whatever the
// number of groups (10^7 groups of one record each; 10^5 with -short).
func TestGroupStatsBounded(t *testing.T) {
	n := 10_000_000
	if testing.Short() {
		n = 100_000
	}
	o := &GroupStats{Capacity: 256, KLLK: 8}
	var key [8]byte
	for i := range n {
		key = [8]byte{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24)}
		o.Add(uint64(i)*0x9e3779b97f4a7c15+1, key[:], float64(i))
	}
	if o.Len() != 256 || len(o.idx) != 256 || len(o.heap) != 256 || o.Total() != uint64(n) {
		t.Fatalf("%d groups, %d indexed, heap %d, total %d", o.Len(), len(o.idx), len(o.heap), o.Total())
	}
}

func TestGroupStatsState(t *testing.T) {
	recs := gsStream(3, 30000, 5000, 1.1)
	o := &GroupStats{Capacity: 64, KLLK: 32}
	gsFeed(o, recs[:20000])
	st, err := o.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back GroupStats
	if err := back.UnmarshalBinary(st); err != nil {
		t.Fatal(err)
	}
	if again, _ := back.MarshalBinary(); !bytes.Equal(again, st) {
		t.Fatal("state does not round-trip")
	}
	// The restored summary goes on as the original.
	gsFeed(o, recs[20000:])
	gsFeed(&back, recs[20000:])
	x, _ := o.MarshalBinary()
	y, _ := back.MarshalBinary()
	if !bytes.Equal(x, y) {
		t.Fatal("restored summary diverges")
	}
	if err := back.UnmarshalBinary(st[:len(st)-1]); err == nil {
		t.Fatal("truncated state accepted")
	}
	if err := (&GroupStats{Capacity: 32}).Merge(o); err == nil {
		t.Fatal("merge of another capacity accepted")
	}
}

func TestGroupStatsAddAllocs(t *testing.T) {
	o := &GroupStats{Capacity: 16, KLLK: 16}
	keys := make([][]byte, 8)
	for i := range keys {
		keys[i] = gsKey(i)
		for range 1000 {
			o.Add(sketch.Hash(keys[i]), keys[i], 1)
		}
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() { i++; k := keys[i%8]; o.Add(sketch.Hash(k), k, float64(i%100)) }); n != 0 {
		t.Fatalf("got %v allocation(s) (want zero)", n)
	}
}

func FuzzGroupStatsState(f *testing.F) {
	for _, n := range []int{0, 10, 3000} {
		o := &GroupStats{Capacity: 16, KLLK: 8}
		gsFeed(o, gsStream(4, n, 100, 1.1))
		st, _ := o.MarshalBinary()
		f.Add(st)
		if len(st) > 10 {
			f.Add(st[:len(st)/2])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var o GroupStats
		if !decodesCanonically(t, &o, data) {
			return
		}
		gsFeed(&o, gsStream(5, 200, 50, 1.1))
		_ = o.Top(3)
	})
}

// TestGroupStatsBadKLLK: a KLLK outside [sampling.MinKLLK,
// sampling.MaxKLLK] is an error from Process, not a panic on the first
// record, and no record is counted.
func TestGroupStatsBadKLLK(t *testing.T) {
	for _, k := range []int{1, sampling.MinKLLK - 1, sampling.MaxKLLK + 1} {
		b := new(Batch)
		r := b.Add([]byte("/api/1"))
		r.Value, r.HasValue = 3, true
		o := &GroupStats{KLLK: k}
		if err := o.Process(b, new(Batch)); !errors.Is(err, sampling.ErrInvalidParameter) {
			t.Errorf("KLLK=%d: Process error %v, want sampling.ErrInvalidParameter", k, err)
		}
		if o.Total() != 0 || o.Len() != 0 {
			t.Errorf("KLLK=%d: %d values in %d groups counted", k, o.Total(), o.Len())
		}
	}
}

// TestGroupStatsMergeSelf: o.Merge(o) counts o's records twice, as merging
// a copy does (it used to do nothing).
func TestGroupStatsMergeSelf(t *testing.T) {
	o := &GroupStats{Capacity: 64, KLLK: 32}
	gsFeed(o, gsStream(5, 5000, 500, 1.1))
	st, _ := o.MarshalBinary()
	var cp, want GroupStats
	if err := cp.UnmarshalBinary(st); err != nil {
		t.Fatal(err)
	}
	if err := want.UnmarshalBinary(st); err != nil {
		t.Fatal(err)
	}
	if err := want.Merge(&cp); err != nil {
		t.Fatal(err)
	}
	total := o.Total()
	if err := o.Merge(o); err != nil {
		t.Fatal(err)
	}
	if o.Total() != 2*total {
		t.Fatalf("total %d after merging with itself, want %d", o.Total(), 2*total)
	}
	got, _ := o.MarshalBinary()
	if w, _ := want.MarshalBinary(); !bytes.Equal(got, w) {
		t.Fatal("o.Merge(o) differs from merging a copy")
	}
}
