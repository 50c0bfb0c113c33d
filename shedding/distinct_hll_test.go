package shedding

import (
	"fmt"
	"math"
	"math/bits"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// windowShedCell is one cell of TestWindowDistinctHLLCoverage: trials of
// windows shed at keep probabilities down to floor.
type windowShedCell struct {
	floor                       float64
	windows, in, below, allShed int
	sumRel                      float64
}

// TestWindowDistinctHLLCoverage: a pipeline.Window of DistinctHLLs under
// KeyHash shedding, each window answered with HLLDistinct at the run's
// smallest p so far, holds the number of distinct keys offered in the
// window (before shedding) within its 95% bounds in at least 93% of the
// windows, for every floor of p from 1-2^-16 down to the controller's
// 2^-10. A trial is 8 slots of 10 s, 4000 records each from 20000 keys
// of random hashes, in windows of 20 s sliding by 10 s, at precision 14
// (the CLI's default under --shed); each slot is shed at a p drawn from
// 1, 0.5, 0.1, 0.01 and 2^-10, raised to the floor, one slot at the floor, so
// that the smallest p so far falls during the trial and a window is read
// at a p below any in force while it was open. Every window that kept a
// record is answered; one whose records were all shed is not, as the
// Window never sees them (rare here, where a window offers 4000 or 8000
// records: 1 of 2700 at the floor 2^-10 in a run of 300 trials).
func TestWindowDistinctHLLCoverage(t *testing.T) {
	const (
		slots, perSlot, keys = 8, 4000, 20000
		precision            = 14
		slide                = 10 * time.Second
	)
	trials := 120
	if testing.Short() {
		trials = 20 // 180 windows a floor: 90% at least
	}
	grid := []float64{1, 0.5, 0.1, 0.01, DefaultMinP}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, floor := range []float64{1 - PStep, 0.5, 0.1, 0.01, DefaultMinP} {
		c := &windowShedCell{floor: floor}
		r := pcg(math.Float64bits(floor))
		for range trials {
			hash := make([]uint64, keys)
			for i := range hash {
				hash[i] = r.Uint64()
			}
			ps := make([]float64, slots)
			for s := range ps {
				ps[s] = max(floor, grid[r.IntN(len(grid))])
			}
			ps[r.IntN(slots)] = floor
			seen := make([][]uint64, slots) // the keys offered in each slot, a bit set
			kept := make([]int, slots)
			minP := 1.0
			var got []pipeline.WindowAnswer
			var ests []sketch.Estimate
			w := &pipeline.Window{
				New: func() (pipeline.Mergeable, error) {
					h, err := sketch.NewHLL(precision)
					return &DistinctHLL{HLL: h}, err
				},
				Size: 2 * slide, Slide: slide, EventTime: true,
				OnWindow: func(a pipeline.WindowAnswer) error {
					e, cover, err := HLLDistinct(a.Op.(*DistinctHLL).HLL, minP, sketch.DefaultConfidence)
					if err != nil || cover == 0 {
						return fmt.Errorf("window %v: cover %v, %v", a.Start, cover, err)
					}
					got, ests = append(got, a), append(ests, e)
					return nil
				},
			}
			for s := range slots {
				seen[s] = make([]uint64, keys/64+1)
				minP = min(minP, ps[s])
				b := new(pipeline.Batch)
				for j := range perSlot {
					k := r.IntN(keys)
					seen[s][k/64] |= 1 << (k % 64)
					if !KeepKey(hash[k], ps[s]) {
						continue
					}
					kept[s]++
					rec := b.AddHashed(nil, hash[k])
					rec.Time = t0.Add(time.Duration(s)*slide + time.Duration(j)*slide/perSlot).UnixNano()
					rec.KeepP = float32(ps[s])
				}
				if err := w.Process(b, new(pipeline.Batch)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Advance(t0.Add(time.Duration(slots+3) * slide)); err != nil {
				t.Fatal(err)
			}
			// A window ends at each slot's end and one slot later: the
			// first holds slot 0 alone, the last slot 7.
			answered := 0
			for last := range slots + 1 {
				if kept[max(0, last-1)]+kept[min(last, slots-1)] == 0 {
					c.allShed++
				} else {
					answered++
				}
			}
			if len(got) != answered {
				t.Fatalf("floor %g: %d windows answered, %d kept records", floor, len(got), answered)
			}
			for i, a := range got {
				last := int(a.End.Sub(t0)/slide) - 1
				n := 0
				for wd := range seen[0] {
					var u uint64
					for s := max(0, last-1); s <= min(last, slots-1); s++ {
						u |= seen[s][wd]
					}
					n += bits.OnesCount64(u)
				}
				e, truth := ests[i], float64(n)
				c.windows++
				switch {
				case e.Lower <= truth && truth <= e.Upper:
					c.in++
				case truth < e.Lower:
					c.below++
				}
				c.sumRel += (e.Value - truth) / truth
			}
		}
		cov := float64(c.in) / float64(c.windows)
		t.Logf("floor %g: coverage %.3f of %d windows (%d below, %d above), mean error %+.2f%%; %d windows all shed",
			floor, cov, c.windows, c.below, c.windows-c.in-c.below, 100*c.sumRel/float64(c.windows), c.allShed)
		if cov < minCoverage(c.windows) {
			t.Errorf("floor %g: coverage %.3f of %d windows, want >= %.3f", floor, cov, c.windows, minCoverage(c.windows))
		}
	}
}
