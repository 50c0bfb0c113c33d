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
	floor                              float64
	windows, in, below, allShed, dense int
	sumRel                             float64
}

// windowShedCards are TestWindowDistinctHLLCoverage's cardinalities: each
// slot offers perSlot records drawn from keys keys, so that a window (two
// slots) is offered about 100, 6000 or 65000 distinct keys: at precision
// 14 the first two are read from sparse HLLs, the third from dense ones
// (sparse where shedding kept few keys: about half the windows at floors
// of 0.1 and below); trials and short (-short) trials a floor.
var windowShedCards = []struct {
	name                          string
	keys, perSlot, trials, shortN int
	dense                         bool
}{
	{"n~100", 100, 200, 120, 20, false},
	{"n~6000", 20000, 4000, 120, 12, false},
	{"n~65000", 200000, 40000, 12, 3, true},
}

// TestWindowDistinctHLLCoverage: a pipeline.Window of DistinctHLLs under
// KeyHash shedding, each window answered with HLLDistinct at the run's
// smallest p so far, holds the number of distinct keys offered in the
// window (before shedding) within its 95% bounds in at least 93% of the
// windows (fewer, as minCoverage allows, under -short), for every floor
// of p from 1-2^-16 down to the controller's 2^-10 and windows of about
// 100, 6000 and 65000 keys (windowShedCards: sparse and dense). A trial
// is 8 slots of 10 s, in windows of 20 s sliding by 10 s, keys of random
// hashes, at precision 14 (the CLI's default under --shed); each slot is
// shed at a p drawn from 1, 0.5, 0.1, 0.01 and 2^-10, raised to the
// floor, one slot at the floor, so that the smallest p so far falls
// during the trial, a window is read at a p below any in force while it
// was open, and windows merge slots shed at different p. Every window
// that kept a record is answered; one whose records were all shed is
// not, as the Window never sees them (rare where a window offers 4000
// records or more: 1 of 2700 at the floor 2^-10 in a run of 300 trials;
// most windows of 100 keys at that floor).
func TestWindowDistinctHLLCoverage(t *testing.T) {
	for _, card := range windowShedCards {
		trials := card.trials
		if testing.Short() {
			trials = card.shortN
		}
		for _, floor := range []float64{1 - PStep, 0.5, 0.1, 0.01, DefaultMinP} {
			c := windowShedTrials(t, floor, card.keys, card.perSlot, trials)
			cov := float64(c.in) / float64(c.windows)
			t.Logf("%s floor %g: coverage %.3f of %d windows (%d below, %d above, %d dense), mean error %+.2f%%; %d windows all shed",
				card.name, floor, cov, c.windows, c.below, c.windows-c.in-c.below, c.dense, 100*c.sumRel/float64(c.windows), c.allShed)
			if cov < minCoverage(c.windows) {
				t.Errorf("%s floor %g: coverage %.3f of %d windows, want >= %.3f", card.name, floor, cov, c.windows, minCoverage(c.windows))
			}
			if (c.dense > 0) != card.dense {
				t.Errorf("%s floor %g: %d of %d windows read from a dense HLL, want dense %v", card.name, floor, c.dense, c.windows, card.dense)
			}
		}
	}
}

// windowShedTrials runs trials of TestWindowDistinctHLLCoverage at one
// floor and cardinality.
func windowShedTrials(t *testing.T, floor float64, keys, perSlot, trials int) *windowShedCell {
	t.Helper()
	const (
		slots     = 8
		precision = 14
		slide     = 10 * time.Second
	)
	grid := []float64{1, 0.5, 0.1, 0.01, DefaultMinP}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &windowShedCell{floor: floor}
	r := pcg(math.Float64bits(floor) ^ uint64(keys))
	hash := make([]uint64, keys)
	for range trials {
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
				h := a.Op.(*DistinctHLL).HLL
				e, cover, err := HLLDistinct(h, minP, sketch.DefaultConfidence)
				if err != nil || cover == 0 {
					return fmt.Errorf("window %v: cover %v, %v", a.Start, cover, err)
				}
				// Byte 24 of the encoding, the shape's second word, is 1
				// once the HLL is dense (sketch/hll_encoding.go).
				if enc, _ := h.MarshalBinary(); len(enc) > 24 && enc[24] == 1 {
					c.dense++
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
				rec.Time = t0.Add(time.Duration(s)*slide + time.Duration(j)*slide/time.Duration(perSlot)).UnixNano()
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
	return c
}
