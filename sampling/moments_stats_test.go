package sampling

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// mkNeumaier is Neumaier's compensated sum (improved Kahan-Babuska), for the
// reference computations.
type mkNeumaier struct{ sum, c float64 }

func (k *mkNeumaier) add(x float64) {
	t := k.sum + x
	if math.Abs(k.sum) >= math.Abs(x) {
		k.c += (k.sum - t) + x
	} else {
		k.c += (x - t) + k.sum
	}
	k.sum = t
}

func (k *mkNeumaier) value() float64 { return k.sum + k.c }

// TestMomentsCatastrophicCancellation: 1e8 values 1e9 + U[0,1). The
// textbook formula sum(x^2)/n - mean^2 cancels away every significant digit;
// Moments agrees with a compensated two-pass computation (mean first, then
// the sum of squared deviations) to 1e-9, relative. The two-pass reference
// regenerates the stream from the same seed instead of storing it.
func TestMomentsCatastrophicCancellation(t *testing.T) {
	n := 100_000_000
	if testing.Short() {
		n = 1_000_000
	}
	const seed1, seed2 = 0x5eed, 0xca5cade
	stream := func(f func(float64)) {
		g := rand.NewPCG(seed1, seed2)
		for range n {
			f(1e9 + mkUniform(g))
		}
	}
	var m Moments
	var sum, sumSq float64 // the naive formula
	var plain struct{ n, mean, m2 float64 }
	stream(func(x float64) {
		m.Add(x)
		sum += x
		sumSq += x * x
		plain.n++ // uncompensated Welford, for the record
		d := x - plain.mean
		plain.mean += d / plain.n
		plain.m2 += d * (x - plain.mean)
	})
	var s1 mkNeumaier
	stream(s1.add)
	mean := s1.value() / float64(n)
	var s2 mkNeumaier
	stream(func(x float64) { d := x - mean; s2.add(d * d) })
	ref := s2.value() / float64(n)

	naive := sumSq/float64(n) - (sum/float64(n))*(sum/float64(n))
	naiveErr := mkRelErr(naive, ref)
	ourErr := mkRelErr(m.PopulationVariance(), ref)
	t.Logf("n=%d: reference variance %.17g; naive %.6g (relative error %.3g); Moments %.17g (relative error %.3g); plain Welford relative error %.3g",
		n, ref, naive, naiveErr, m.PopulationVariance(), ourErr, mkRelErr(plain.m2/plain.n, ref))
	if !(naive < 0 || naiveErr > 1e-3) {
		t.Errorf("the naive formula was accurate (%g vs %g): the test no longer shows cancellation", naive, ref)
	}
	if ourErr > 1e-9 {
		t.Errorf("population variance %.17g, two-pass %.17g: relative error %g > 1e-9", m.PopulationVariance(), ref, ourErr)
	}
	if e := mkRelErr(m.Mean(), mean); e > 1e-15 {
		t.Errorf("mean %.17g, two-pass %.17g: relative error %g", m.Mean(), mean, e)
	}
	if e := mkRelErr(m.Variance(), ref*float64(n)/float64(n-1)); e > 1e-9 {
		t.Errorf("sample variance relative error %g", e)
	}
}

func TestStudentTQuantile(t *testing.T) {
	// Reference values: mpmath, 30 digits, inverting the regularized
	// incomplete beta function.
	for _, tc := range []struct{ p, nu, want float64 }{
		{0.975, 1, 12.706204736174693},
		{0.975, 2, 4.3026527297494618},
		{0.975, 2.5, 3.5746548420036818},
		{0.975, 3, 3.1824463052837084},
		{0.975, 5, 2.5705818356363148},
		{0.975, 10, 2.2281388519862742},
		{0.975, 30, 2.0422724563012379},
		{0.975, 99, 1.9842169515864171},
		{0.975, 100, 1.9839715185235519},
		{0.975, 199.5, 1.9719263079015247},
		{0.975, 200, 1.971896223633909},
		{0.975, 1000, 1.9623390808264081},
		{0.975, 1e6, 1.9599663568141067},
		{0.995, 1, 63.656741162871524},
		{0.995, 10, 3.1692726726169507},
		{0.9, 5, 1.4758840488244813},
		{0.6, 4, 0.27072229470759736},
		{0.9995, 3, 12.923978636687964},
		{0.9995, 250, 3.3298672056731512},
		{0.9999995, 199.9, 5.0483661792531387},
		{0.9999995, 200, 5.0482856598700382},
		{0.9999995, 999.5, 4.9223049401564916},
		{0.9999995, 1000, 4.9222895234460738},
		{0.975, 999.5, 1.9623402703838454},
		{0.9995, 5000, 3.2924737233708823},
	} {
		t.Run(fmt.Sprintf("p=%v/nu=%v", tc.p, tc.nu), func(t *testing.T) {
			got := studentTQuantile(tc.p, tc.nu)
			if e := mkRelErr(got, tc.want); e > 1e-11 {
				t.Errorf("t quantile %.17g, want %.17g (relative error %.2g)", got, tc.want, e)
			}
		})
	}
}

// TestMomentsMeanIntervalCoverage: over many samples of normal data, the 95%
// interval holds the true mean in 93%-97% of them. At n = 5 that needs the
// t quantile; the normal one would cover only ~88%.
func TestMomentsMeanIntervalCoverage(t *testing.T) {
	trials := 10000
	if testing.Short() {
		trials = 2000
	}
	for _, tc := range []struct {
		n          int
		confidence float64
	}{{100, 0.95}, {5, 0.95}, {30, 0.90}, {1000, 0.99}} {
		t.Run(fmt.Sprintf("n=%d/confidence=%v", tc.n, tc.confidence), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.n), 0xc0))
			const mu, sigma = 5.0, 2.0
			hits, zHits := 0, 0
			z := math.Sqrt2 * math.Erfinv(tc.confidence)
			for range trials {
				var m Moments
				for range tc.n {
					m.Add(mu + sigma*r.NormFloat64())
				}
				mean, lo, hi := m.MeanInterval(tc.confidence)
				if lo <= mu && mu <= hi {
					hits++
				}
				if !(lo <= mean && mean <= hi) {
					t.Fatalf("mean %v outside its interval [%v, %v]", mean, lo, hi)
				}
				if h := z * m.StdDev() / math.Sqrt(float64(tc.n)); math.Abs(mean-mu) <= h {
					zHits++
				}
			}
			cov := float64(hits) / float64(trials)
			t.Logf("coverage %.4f (normal approximation: %.4f)", cov, float64(zHits)/float64(trials))
			if lo, hi := tc.confidence-0.02, tc.confidence+0.02; cov < lo || cov > hi {
				t.Errorf("coverage %.4f outside [%.2f, %.2f]", cov, lo, hi)
			}
		})
	}
}

func TestMomentsMeanIntervalEdges(t *testing.T) {
	var m Moments
	if v, lo, hi := m.MeanInterval(0.95); !math.IsNaN(v) || !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("empty: %v [%v, %v]", v, lo, hi)
	}
	m.Add(4)
	if v, lo, hi := m.MeanInterval(0.95); v != 4 || !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		t.Errorf("one value: %v [%v, %v]", v, lo, hi)
	}
	m.Add(4)
	if v, lo, hi := m.MeanInterval(0.95); v != 4 || lo != 4 || hi != 4 {
		t.Errorf("constant: %v [%v, %v]", v, lo, hi)
	}
	m.Add(7)
	// mean 5, s = sqrt(3), t_{0.975,2} = 4.3027: half-width 4.3027.
	if v, lo, hi := m.MeanInterval(0.95); v != 5 || mkRelErr(hi-v, 4.3026527297494618) > 1e-12 || mkRelErr(v-lo, hi-v) > 1e-15 {
		t.Errorf("{4,4,7}: %v [%v, %v]", v, lo, hi)
	}
	for _, c := range []float64{0, 1, -0.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("confidence %v did not panic", c)
				}
			}()
			m.MeanInterval(c)
		}()
	}
}
