package main

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestDistinctAllResultBytes: distinct --by -k 0 renders every group at
// once, outside --max-memory, so what a group costs there adds to what
// its sketch holds (128 bytes and its key and values,
// sketch.GroupHLL.Bytes): groups of one value, keys of 6 bytes, 142
// bytes a group in the sketch. result rendered each group in text, CSV
// and JSON whatever --format, each format's cells in their own slices
// grown by append, its numbers formatted twice: it allocated 1726 bytes
// a group, 12 times the sketch. Now 881 in every format, 522 in text
// alone (table.String's builder the most of it), 320 in CSV alone.
func TestDistinctAllResultBytes(t *testing.T) {
	if groupRace {
		t.Skip("the race detector changes what MemStats.TotalAlloc counts (1184 bytes a group where 881 without)")
	}
	const groups = 100000
	g, _ := sketch.NewGroupHLL(sketch.DefaultGroupHLLPrecision)
	for i := range groups {
		g.AddString(fmt.Sprintf("g%d", i), "v")
	}
	sketchPerGroup := float64(g.Bytes()) / groups
	for _, c := range []struct {
		name, only string
		most       float64 // times the sketch's bytes a group
	}{
		{"every format (--format json, --http, --window)", "", 7},
		{"--format text alone", "text", 4},
		{"--format csv alone", "csv", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &distinctAllAgg{g: g, only: c.only}
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			res := a.result(counts{Records: groups})
			runtime.ReadMemStats(&m1)
			runtime.KeepAlive(res)
			perGroup := float64(m1.TotalAlloc-m0.TotalAlloc) / groups
			t.Logf("result allocates %.0f bytes a group; the sketch holds %.0f", perGroup, sketchPerGroup)
			if perGroup > c.most*sketchPerGroup {
				t.Errorf("result allocates %.0f bytes a group, more than %g times the sketch's %.0f", perGroup, c.most, sketchPerGroup)
			}
		})
	}
}
