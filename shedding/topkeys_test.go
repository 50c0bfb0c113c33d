package shedding

import (
	"fmt"
	"maps"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// TestTopKeysAsHeavyHitters: TopKeys counts each record never shed 1 in
// one TopK and each shed one Units(p) in another, merged in units to
// answer. Read before anything is shed (as a Query or a checkpoint reads
// it) it must hold HeavyHitters' counts and errors on the same records,
// and reading must not change it; after shedding, every count it tracks
// must bound the key's true weight (units of 1/Unit record), and every key
// it does not track must be at most its MinCount, as HeavyHitters'. A
// restored TopKeys answers as the one saved.
func TestTopKeysAsHeavyHitters(t *testing.T) {
	items := func(tk *sketch.TopK) map[string][3]uint64 {
		m := map[string][3]uint64{}
		for _, it := range tk.Top(tk.Capacity()) {
			m[it.Key] = [3]uint64{it.Count, it.Lower, it.Upper}
		}
		return m
	}
	op := &TopKeys{Capacity: 64}
	hhTop, _ := sketch.NewTopK(64)
	hh := &HeavyHitters{TopK: hhTop}
	if got := op.TopK(); got.Total() != 0 || got.Capacity() != 64 {
		t.Fatalf("zero TopKeys: total %d, capacity %d", got.Total(), got.Capacity())
	}
	truth := map[string]uint64{}
	for i, p := range []float32{0, 1, 1, 0.5, 1, 0.1234, 0.5} {
		var b pipeline.Batch
		for j := range 500 {
			x := (j*7919 + i*31) % 997
			key := fmt.Sprintf("k%d", x*x%300)
			b.Add([]byte(key)).KeepP = p
			truth[key] += Units(p)
		}
		if err := op.Process(&b, nil); err != nil {
			t.Fatal(err)
		}
		if err := hh.Process(&b, nil); err != nil {
			t.Fatal(err)
		}
		if want := p > 0 && p < 1 || i > 3; (op.cur != nil) != want {
			t.Fatalf("after batch %d at p = %g: shed TopK made %v, want %v", i, p, op.cur != nil, want)
		}
		// From batch 5 on p changed after 500 records shed at one p,
		// more than foldMin times the capacity: they were folded.
		if want := i >= 5; (op.shed != nil) != want {
			t.Fatalf("after batch %d at p = %g: records shed at an earlier p folded %v, want %v", i, p, op.shed != nil, want)
		}
		before, _ := op.unit.MarshalBinary()
		got := op.TopK()
		if again, _ := op.unit.MarshalBinary(); string(again) != string(before) {
			t.Fatalf("after batch %d: reading changed the operator's state", i)
		}
		if op.cur == nil && (!maps.Equal(items(got), items(hh.TopK)) || got.Total() != hh.TopK.Total()) {
			t.Fatalf("after batch %d, nothing shed: counts differ from HeavyHitters'", i)
		}
		// AddTo's parts, the records merged and scaled to units, answer
		// as TopK: the same while nothing is shed, within the same
		// bounds after.
		records, _ := sketch.NewTopK(64)
		units, _ := sketch.NewTopK(64)
		if err := op.AddTo(records, units); err != nil {
			t.Fatal(err)
		}
		if (units.Total() != 0) != (op.cur != nil) {
			t.Fatalf("after batch %d: AddTo gave %d units shed, shed TopK made %v", i, units.Total(), op.cur != nil)
		}
		ToUnits(records)
		if op.cur == nil && !maps.Equal(items(records), items(got)) {
			t.Fatalf("after batch %d, nothing shed: AddTo's records in units differ from TopK()", i)
		}
		_ = records.Merge(units)
		for _, got := range []*sketch.TopK{got, records} {
			tracked := items(got)
			for key, w := range truth {
				if c, ok := tracked[key]; ok && !(c[1] <= w && w <= c[2]) {
					t.Fatalf("after batch %d: %s tracked at [%d, %d], true weight %d", i, key, c[1], c[2], w)
				} else if !ok && w > got.MinCount() {
					t.Fatalf("after batch %d: %s untracked, weight %d above MinCount %d", i, key, w, got.MinCount())
				}
			}
		}
	}
	data, _ := op.MarshalBinary()
	restored := &TopKeys{Capacity: 64}
	if err := restored.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if again, _ := restored.MarshalBinary(); string(again) != string(data) {
		t.Error("a restored TopKeys's state differs from the one saved")
	}
	if err := restored.UnmarshalBinary(data[:len(data)/2]); err == nil {
		t.Error("a truncated state was restored without an error")
	}
}
