package pipeline

import (
	"fmt"
	"testing"
	"time"
)

// addRecordAppend is AddRecord as it was: append of a copy of the record.
func addRecordAppend(b, src *Batch, i int) {
	r := src.Records[i]
	off := len(b.arena)
	b.arena = append(b.arena, src.Key(i)...)
	r.keyOff = uint32(off)
	b.Records = append(b.Records, r)
}

// BenchmarkAddRecord copies every record of a batch of 40-byte keys into
// another with AddRecord and, in the same run, with addRecordAppend;
// ratio is AddRecord's time over the other's.
func BenchmarkAddRecord(b *testing.B) {
	var src, dst Batch
	for i := range 1024 {
		r := src.Add(fmt.Appendf(nil, "%040d", i))
		r.Value, r.HasValue, r.KeepP = float64(i), true, 0.5
	}
	var ours, theirs time.Duration
	b.ReportAllocs()
	for b.Loop() {
		dst.Reset()
		t0 := time.Now()
		for i := range src.Records {
			dst.AddRecord(&src, i)
		}
		t1 := time.Now()
		dst.Reset()
		for i := range src.Records {
			addRecordAppend(&dst, &src, i)
		}
		theirs += time.Since(t1)
		ours += t1.Sub(t0)
	}
	n := float64(b.N) * float64(len(src.Records))
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ns/record")
	b.ReportMetric(float64(theirs.Nanoseconds())/n, "append-ns/record")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
}

// TestAddRecordCopies checks that AddRecord copies the record whole (hash,
// value, time, KeepP) with its key, and allocates nothing once grown.
func TestAddRecordCopies(t *testing.T) {
	var src, dst Batch
	for i := range 100 {
		r := src.Add(fmt.Appendf(nil, "key-%d", i))
		r.Value, r.HasValue, r.Time, r.KeepP = float64(i)/2, i%2 == 0, int64(i)*7, 0.25
	}
	copyAll := func() {
		dst.Reset()
		for i := range src.Records {
			dst.AddRecord(&src, len(src.Records)-1-i)
		}
	}
	copyAll()
	for i := range dst.Records {
		j := len(src.Records) - 1 - i
		g, w := dst.Records[i], src.Records[j]
		if string(dst.Key(i)) != string(src.Key(j)) || g.Hash != w.Hash || g.Value != w.Value || g.HasValue != w.HasValue || g.Time != w.Time || g.KeepP != w.KeepP {
			t.Fatalf("record %d: %+v key %q, want %+v key %q", i, g, dst.Key(i), w, src.Key(j))
		}
	}
	if a := testing.AllocsPerRun(10, copyAll); a != 0 {
		t.Errorf("got %v allocation(s) per batch (want zero)", a)
	}
}
