package shedding

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

var hllDistinctTrials = flag.Int("hll-distinct-trials", 0, "trials per cell of TestHLLDistinctCoverage; 0 takes the default schedule (1000 where a trial is cheap, down to 100 at the top of the grid; 100 under -short)")

// hllCell is one cell of TestHLLDistinctCoverage: n distinct keys offered
// to key-hash shedders whose smallest p was minP, into an HLL at
// precision p, alone (the keys below the line only, as if every record
// were shed at minP) or dense (with 2m of the keys above the line too, as
// if kept while p was higher, which turns the sketch dense; only where n
// has that many keys above the line).
type hllCell struct {
	p      uint8
	minP   float64
	n      int
	dense  bool
	trials int

	in, below, zeroWidth, exact int
	unknown                     int // trials that read no register (cover 0)
	sumRel                      float64
	bad                         string
}

func (c *hllCell) String() string {
	mode := "alone"
	if c.dense {
		mode = "dense"
	}
	return fmt.Sprintf("p=%d,minP=%g,n=%d,%s", c.p, c.minP, c.n, mode)
}

// run runs the cell's trials. The keys below minP·2^64 of n uniform hashes
// are Binomial(n, minP): drawn with geometric gaps, so a trial costs the
// keys kept, not n.
func (c *hllCell) run(seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(c.n)))
	t := threshold(c.minP) // 0 at minP = 1: every hash is below
	logq := math.Log1p(-c.minP)
	m := 1 << c.p
	var junk *sketch.HLL // dense, keys above the line only
	if c.dense && t > 0 {
		junk, _ = sketch.NewHLL(int(c.p))
		for range 2 << c.p {
			junk.AddHash(t + r.Uint64N(-t))
		}
	}
	for range c.trials {
		h, err := sketch.NewHLL(int(c.p))
		if err != nil {
			panic(err)
		}
		if err := h.Merge(junk); err != nil {
			panic(err)
		}
		for i := -1; ; {
			if c.minP < 1 {
				i += 1 + int(math.Floor(math.Log(1-r.Float64())/logq)) // next key below the line
			} else {
				i++
			}
			if i >= c.n || i < 0 {
				break
			}
			x := r.Uint64()
			if t > 0 {
				x = r.Uint64N(t)
			}
			h.AddHash(x)
		}
		e, cover, err := HLLDistinct(h, c.minP, sketch.DefaultConfidence)
		if cover == 0 {
			// Nothing known: bounds 0..2^64 cover any truth, so these
			// trials are checked for saying so, not for coverage.
			c.unknown++
			switch {
			case c.minP*float64(m) >= 16:
				c.bad = fmt.Sprintf("cover 0 with %g registers below the line", c.minP*float64(m))
			case e != unknown(sketch.DefaultConfidence) || err != nil:
				c.bad = fmt.Sprintf("cover 0 answered %+v, %v: want 0 with bounds 0..2^64", e, err)
			}
			continue
		}
		c.add(e, err)
	}
}

func (c *hllCell) add(e sketch.Estimate, err error) {
	truth := float64(c.n)
	switch {
	case err != nil:
		c.bad = err.Error()
	case math.IsNaN(e.Value) || math.IsInf(e.Upper, 0) || !(e.Lower <= e.Value && e.Value <= e.Upper):
		c.bad = fmt.Sprintf("malformed %+v", e)
	}
	if e.Exact {
		c.exact++
	}
	if e.Lower == e.Upper {
		c.zeroWidth++
	}
	switch {
	case e.Lower <= truth && truth <= e.Upper:
		c.in++
	case truth < e.Lower:
		c.below++
	}
	c.sumRel += (e.Value - truth) / truth
}

// TestHLLDistinctCoverage: the 95% bounds of HLLDistinct hold the number
// of distinct keys offered in at least 93% of the trials of every cell of
// a grid: precision 4, 10 and 14 (14: the CLI's least and default under
// --shed); minP from 1 down to the grid's 2^-16, through the controller's
// floor 2^-10 and 1-2^-16; n on a log grid from 1 to 100·m with the
// sparse/dense switch; the sketch left sparse where it would be, and made
// dense by keys above the line. At precision 18 (the CLI's largest), where
// a sparse trial costs much more, minP 2^-10 and 2^-16 only. An answer is
// never Exact and never of zero width (n >= 1 keys were offered: an HLL
// is exact only when empty). Where fewer than 16 registers lie below
// minP (minP·m < 16) and the sketch is dense, the answer is 'nothing
// known' (0, with bounds 0..2^64), checked as such: a cell of those alone
// is left out of the worst coverage, and every minP with minP·m >= 16
// must have cells that read registers.
func TestHLLDistinctCoverage(t *testing.T) {
	all := []float64{1, 1 - PStep, 0.5, 0.1, 0.01, DefaultMinP, PStep}
	for _, p := range []uint8{4, 10, 14, 18} {
		minPs := all
		if p == 18 {
			minPs = all[len(all)-2:]
		}
		t.Run(fmt.Sprintf("p=%d", p), func(t *testing.T) {
			if p != 10 && testing.Short() {
				t.Skip("-short runs p = 10 alone")
			}
			coverGrid(t, p, minPs)
		})
	}
}

func coverGrid(t *testing.T, p uint8, minPs []float64) {
	var cells []*hllCell
	m := 1 << p
	ns := []int{1, 2, 5}
	for n := 10; n <= 100*m; n = n * 31 / 10 {
		ns = append(ns, n)
	}
	ns = append(ns, m/2, m, 2*m, 100*m)
	for _, minP := range minPs {
		for _, n := range ns {
			for _, dense := range []bool{false, true} {
				if dense && (minP == 1 || (1-minP)*float64(n) < 3*float64(m)) {
					continue // not enough keys above the line
				}
				kept := minP*float64(n) + 2*float64(m)*b2f(dense)
				c := &hllCell{p: p, minP: minP, n: n, dense: dense, trials: hllDistinctCellTrials(kept)}
				if c.trials > 0 {
					cells = append(cells, c)
				}
			}
		}
	}
	var wg sync.WaitGroup
	next := make(chan *hllCell)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for c := range next {
				c.run(uint64(c.p)<<40 ^ math.Float64bits(c.minP) ^ uint64(b2i(c.dense)))
			}
		})
	}
	for _, c := range cells {
		next <- c
	}
	close(next)
	wg.Wait()
	worst := 1.0
	read := map[float64]int{} // cells that read registers, by minP
	unknownCells, mixed := 0, 0
	for _, c := range cells {
		if c.bad != "" {
			t.Errorf("%v: %s", c, c.bad)
			continue
		}
		if c.unknown == c.trials {
			unknownCells++
			continue
		}
		read[c.minP]++
		// In a cell where some trials turned dense with fewer than 16
		// registers below minP (p = 4 near the sparse/dense switch), the
		// 'nothing known' answers hold, and the others are the trials
		// with the fewest keys below the line: the coverage is over all.
		in := c.in + c.unknown
		if c.unknown > 0 {
			mixed++
		} else {
			worst = min(worst, float64(in)/float64(c.trials))
		}
		cov := float64(in) / float64(c.trials)
		n := c.trials - c.unknown
		switch {
		case c.exact > 0 || c.zeroWidth > 0:
			t.Errorf("%v: %d exact, %d of zero width of %d trials: want none", c, c.exact, c.zeroWidth, n)
		case cov < minCoverage(c.trials):
			t.Errorf("%v: coverage %.3f (%d below, %d above of %d, %d unknown), want >= %.3f, mean error %+.2f%%",
				c, cov, c.below, n-c.in-c.below, c.trials, c.unknown, minCoverage(c.trials), 100*c.sumRel/float64(n))
		}
		if testing.Verbose() {
			t.Logf("%v: coverage %.3f of %d (%d unknown), mean error %+.2f%%", c, cov, c.trials, c.unknown, 100*c.sumRel/float64(n))
		}
	}
	for _, minP := range minPs {
		if minP*float64(m) >= 16 && read[minP] == 0 {
			t.Errorf("p=%d, minP=%g: no cell read registers", p, minP)
		}
	}
	t.Logf("%d cells: %d 'nothing known' in every trial (dense, fewer than 16 registers below minP), %d in some; worst coverage %.3f of the %d others",
		len(cells), unknownCells, mixed, worst, len(cells)-unknownCells-mixed)
}

// hllDistinctCellTrials is the number of trials of a cell whose trials add
// about kept hashes each: 1000 up to 3·10^4, fewer above, so that a cell
// adds about 3·10^7, but never fewer than 200; under -short (p = 10
// alone), 300 up to 10^4 and none above.
func hllDistinctCellTrials(kept float64) int {
	switch {
	case *hllDistinctTrials > 0:
		return *hllDistinctTrials
	case testing.Short() && kept > 1e4:
		return 0
	case testing.Short():
		return 300
	}
	return int(min(1000, max(200, 3e7/max(kept, 1))))
}

// minCoverage is the coverage a cell of so many trials must reach: 93%,
// or, for fewer than 1000 trials, what a true 95% reaches but with a
// probability of about 0.1% (three standard errors below).
func minCoverage(trials int) float64 {
	return min(0.93, 0.95-3*math.Sqrt(0.95*0.05/float64(trials)))
}

func b2f(b bool) float64 { return float64(b2i(b)) }

// TestHLLDistinctNoShed: at minP = 1 the answer is the HLL's own, to the
// bit, sparse and dense.
func TestHLLDistinctNoShed(t *testing.T) {
	r := pcg(1)
	for _, n := range []int{0, 1, 100, 5000, 100_000} {
		h, _ := sketch.NewHLL(12)
		for range n {
			h.AddHash(r.Uint64())
		}
		e, cover, err := HLLDistinct(h, 1, 0.95)
		if want := h.EstimateAt(0.95); err != nil || cover != 1 || e != want {
			t.Errorf("n=%d: %+v cover %v err %v, want the HLL's %+v", n, e, cover, err, want)
		}
	}
}

// TestHLLDistinctBadMinP: a minimum p outside (0, 1] is an error.
func TestHLLDistinctBadMinP(t *testing.T) {
	h := new(sketch.HLL)
	for _, p := range []float64{0, -1, math.NaN(), 1.5, math.Inf(1)} {
		if _, _, err := HLLDistinct(h, p, 0.95); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("minP %v: err %v, want ErrInvalidParameter", p, err)
		}
	}
}

// TestHLLDistinctBelowOnly: the answer reads only the keys below the
// line: keys above it, kept at some times and not at others, change
// nothing, sparse or dense.
func TestHLLDistinctBelowOnly(t *testing.T) {
	const minP = 0.25
	th := threshold(minP)
	for _, n := range []int{300, 30_000, 300_000} {
		r := pcg(uint64(n))
		a, _ := sketch.NewHLL(10)
		b, _ := sketch.NewHLL(10)
		for range n {
			x := r.Uint64()
			if x < th {
				a.AddHash(x)
				b.AddHash(x)
			} else if x%3 == 0 {
				b.AddHash(x) // kept by luck of timing
			}
		}
		ea, ca, _ := HLLDistinct(a, minP, 0.95)
		eb, cb, _ := HLLDistinct(b, minP, 0.95)
		if ea != eb || ca != cb {
			t.Errorf("n=%d: %+v (cover %v) with the keys above, %+v (%v) without", n, eb, cb, ea, ca)
		}
	}
}

// TestHLLDistinctSaturated: a sketch whose registers are all at their
// maximum (decoded, or merged: no stream gets there) scaled up from half
// its registers still gives finite bounds within 2^64, the value inside,
// of nonzero width (its registers below the line saw at most 2^63 hashes).
func TestHLLDistinctSaturated(t *testing.T) {
	const p = 10
	h, _ := sketch.NewHLL(p)
	for j := range uint64(1 << p) {
		h.AddHash(j << (64 - p)) // index j, every other bit zero: the top rank
	}
	if !h.Saturated() {
		t.Fatal("not saturated")
	}
	e, cover, err := HLLDistinct(h, 0.5, 0.95)
	if err != nil || cover != 0.5 || !(e.Lower <= e.Value && e.Value <= e.Upper && e.Upper <= 1<<64 && e.Lower < e.Upper) || math.IsNaN(e.Value) {
		t.Errorf("%+v cover %v err %v: want finite bounds within 2^64, of nonzero width", e, cover, err)
	}
}
