package sampling

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kllProbeQs are the quantiles whose rank error the statistical tests check.
var kllProbeQs = []float64{0.01, 0.1, 0.5, 0.9, 0.99}

// kllTrialError returns the largest rank error, over kllProbeQs, of s fed
// the values 0..n-1 in some order: for Quantile(q) = v the true inclusive
// rank is (v+1)/n; for Rank(x) at x = floor(q*n) it is (x+1)/n.
func kllTrialError(s *KLL, n int) float64 {
	worst := 0.0
	for _, q := range kllProbeQs {
		v := s.Quantile(q)
		worst = max(worst, math.Abs((v+1)/float64(n)-q))
		x := math.Floor(q * float64(n))
		worst = max(worst, math.Abs(s.Rank(x)-(x+1)/float64(n)))
	}
	return worst
}

// kllCheckTrials asserts that at least KLLRankErrorConfidence of the trials
// stayed within eps (RankError's promise is for all ranks at once, so for a
// handful of probes the failure rate should be well below 1%).
func kllCheckTrials(t *testing.T, errs []float64, eps float64) {
	t.Helper()
	fails, worst := 0, 0.0
	for _, e := range errs {
		if e > eps {
			fails++
		}
		worst = max(worst, e)
	}
	allowed := int(math.Floor((1 - KLLRankErrorConfidence) * float64(len(errs))))
	t.Logf("%d trials: worst rank error %.5f = %.2f eps (eps %.5f), %d beyond eps (allowed %d)", len(errs), worst, worst/eps, eps, fails, allowed)
	if fails > allowed {
		t.Errorf("%d of %d trials had a rank error beyond eps = %.5f (allowed %d)", fails, len(errs), eps, allowed)
	}
}

func kllTrialSize(t *testing.T) (trials, n int) {
	if testing.Short() {
		return 20, 10_000
	}
	return 200, 100_000
}

// TestKLLRankErrorBound: over many trials the true rank of every probed
// quantile (and the estimated rank of every probed value) lies within
// RankError of the truth, for shuffled and for adversarially ordered streams.
func TestKLLRankErrorBound(t *testing.T) {
	trials, n := kllTrialSize(t)
	for _, k := range []int{200, 50} {
		for oi, o := range kllOrders {
			t.Run(fmt.Sprintf("k=%d/%s/n=%d", k, o.name, n), func(t *testing.T) {
				t.Parallel()
				vals := make([]float64, n)
				errs := make([]float64, trials)
				var eps float64
				for tr := range trials {
					g := rand.NewPCG(uint64(1000*k+oi), uint64(tr))
					o.fill(vals, g)
					s := mkKLL(t, k, uint64(tr)*7919+uint64(oi))
					for _, x := range vals {
						s.Add(x)
					}
					eps = s.RankError()
					errs[tr] = kllTrialError(s, n)
				}
				kllCheckTrials(t, errs, eps)
			})
		}
	}
}

// TestKLLRankErrorLargeStream repeats the check with a million values, where
// the sketch has ~13 levels.
func TestKLLRankErrorLargeStream(t *testing.T) {
	if testing.Short() {
		t.Skip("1e6-value trials skipped under -short")
	}
	const n, trials = 1_000_000, 12
	for oi, o := range kllOrders[:2] {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			vals := make([]float64, n)
			errs := make([]float64, trials)
			var eps float64
			for tr := range trials {
				o.fill(vals, rand.NewPCG(77, uint64(tr)))
				s := mkKLL(t, 200, uint64(tr)+uint64(oi)<<32)
				for _, x := range vals {
					s.Add(x)
				}
				eps = s.RankError()
				errs[tr] = kllTrialError(s, n)
			}
			kllCheckTrials(t, errs, eps)
		})
	}
}

// TestKLLRankErrorAfterMerge splits each stream into uneven shards, sketches
// each with its own seed and merges them (one after another, or as a binary
// tree): the merged sketch keeps the same guarantee. Sorted streams make
// every shard cover a distinct range, the hard case for merging.
func TestKLLRankErrorAfterMerge(t *testing.T) {
	trials, n := kllTrialSize(t)
	trials /= 2
	const shards = 16
	for oi, o := range kllOrders[:2] {
		for _, tree := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tree=%v", o.name, tree), func(t *testing.T) {
				t.Parallel()
				vals := make([]float64, n)
				errs := make([]float64, trials)
				var eps float64
				for tr := range trials {
					g := rand.NewPCG(uint64(oi), uint64(tr)+1<<40)
					o.fill(vals, g)
					// Uneven cut points.
					cuts := []int{0}
					for i := 1; i < shards; i++ {
						cuts = append(cuts, int(float64(n)*math.Pow(float64(i)/shards, 1.5)))
					}
					cuts = append(cuts, n)
					parts := make([]*KLL, shards)
					for i := range parts {
						parts[i] = mkKLL(t, 200, uint64(tr)<<8|uint64(i))
						for _, x := range vals[cuts[i]:cuts[i+1]] {
							parts[i].Add(x)
						}
					}
					for len(parts) > 1 {
						if tree {
							var next []*KLL
							for i := 0; i+1 < len(parts); i += 2 {
								if err := parts[i].Merge(parts[i+1]); err != nil {
									t.Fatal(err)
								}
								next = append(next, parts[i])
							}
							parts = next
						} else {
							if err := parts[0].Merge(parts[len(parts)-1]); err != nil {
								t.Fatal(err)
							}
							parts = parts[:len(parts)-1]
						}
					}
					s := parts[0]
					if s.Count() != uint64(n) {
						t.Fatalf("merged count %d, want %d", s.Count(), n)
					}
					mkCheckKLL(t, s)
					eps = s.RankError()
					errs[tr] = kllTrialError(s, n)
				}
				kllCheckTrials(t, errs, eps)
			})
		}
	}
}
