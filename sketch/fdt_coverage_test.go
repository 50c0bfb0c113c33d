package sketch

import (
	"flag"
	"fmt"
	"testing"
)

var gdTrials = flag.Int("gd.trials", 200, "seeds per cell of TestGroupDistinctCoverage")

// TestGroupDistinctCoverage: over a grid of K, numbers of groups and
// skews of their sizes, the 95% bounds of every group (those outside the
// sample too) hold its true number of distinct values for at least 93% of
// (group, seed) cases, and neither tail misses more than 5%.
func TestGroupDistinctCoverage(t *testing.T) {
	trials := *gdTrials
	if testing.Short() {
		trials = 15
	}
	for _, k := range []int{64, 1024} {
		for _, groups := range []int{10, 300} {
			for _, skew := range []float64{0, 1.1} {
				name := fmt.Sprintf("k=%d,groups=%d,skew=%g", k, groups, skew)
				t.Run(name, func(t *testing.T) {
					sizes := zipfSizes(groups, 20*k, skew)
					keys := make([][]byte, groups)
					hashes := make([]uint64, groups)
					for g := range keys {
						keys[g] = gdKey(g)
						hashes[g] = Hash(keys[g])
					}
					var cases, below, above int
					for seed := range trials {
						gd, _ := NewGroupDistinct(k)
						for _, p := range gdStream(uint64(seed)+1000*uint64(k), sizes) {
							gd.AddPairGroupHash(p.hash, hashes[p.group], keys[p.group])
						}
						if gd.Exact() {
							t.Fatal("the stream fits the sketch: no sampling tested")
						}
						for g, n := range sizes {
							e := gd.EstimateHashAt(hashes[g], 0.95)
							if !(e.Lower <= e.Value && e.Value <= e.Upper) {
								t.Fatalf("group %d: value outside its bounds: %v", g, e)
							}
							cases++
							switch {
							case float64(n) < e.Lower:
								below++
							case float64(n) > e.Upper:
								above++
							}
						}
					}
					cov := 1 - float64(below+above)/float64(cases)
					t.Logf("%s: coverage %.4f over %d cases (truth below %d, above %d)", name, cov, cases, below, above)
					if cov < 0.93 || float64(below) > 0.05*float64(cases) || float64(above) > 0.05*float64(cases) {
						t.Errorf("coverage %.4f (below %d, above %d of %d), want >= 0.93 and each tail <= 5%%", cov, below, above, cases)
					}
				})
			}
		}
	}
}

// TestGroupDistinctTopGroups: on a Zipf(1.1) spread of group sizes, the
// 20 groups with the most distinct values come out as the top 20:
// precision and recall 1. The 20th and 21st groups differ by 5.5%, which
// takes about 5000 retained pairs of each to tell apart at 4 standard
// deviations: K = 2^20 over 2M distinct pairs (theta about 1/2).
func TestGroupDistinctTopGroups(t *testing.T) {
	sizes := zipfSizes(2000, 2_000_000, 1.1)
	if testing.Short() {
		t.Skip("2M pairs per seed: run without -short")
	}
	seeds := 3
	for seed := range seeds {
		gd := gdFeed(t, 1<<20, gdStream(uint64(seed)+77, sizes))
		if gd.Exact() {
			t.Fatal("the stream fits the sketch: no sampling tested")
		}
		top := gd.Top(20)
		want := map[string]bool{}
		for g := range 20 {
			want[string(gdKey(g))] = true
		}
		for _, c := range top {
			if !want[string(c.Key)] {
				t.Fatalf("seed %d: %s in the top 20, not one of the 20 largest groups", seed, c.Key)
			}
		}
		if len(top) != 20 {
			t.Fatalf("seed %d: %d groups listed", seed, len(top))
		}
	}
}
