package sketch

import (
	"math"

	"github.com/streamstat/streamstat/internal/normal"
)

// Estimate returns the number of distinct items added, with bounds at
// DefaultConfidence.
func (h *HLL) Estimate() Estimate { return h.EstimateAt(DefaultConfidence) }

// EstimateAt returns the number of distinct items added, with bounds at the
// given confidence in (0, 1).
//
// While sparse (up to a few thousand items at p=14), the sketch knows which
// of 2^25 hash buckets were hit, and the estimate is linear counting over
// those buckets (Whang et al. 1990). Items are lost only when two of them
// share a bucket, and the number lost is nearly Poisson with a small mean
// (about n²/2^26), so the bounds are exact Poisson bounds on it: never
// narrower than one item, since no sparse sketch can rule out a collision.
//
// Once dense, the estimate is Ertl's improved raw estimator ("New
// cardinality estimation algorithms for HyperLogLog sketches", 2017,
// Algorithm 6), which needs only a histogram of the registers: about 12 µs
// at p=14, against ~770 µs for axiomhq's per-register math.Pow. Its
// constant α∞ = 1/(2 ln 2) is the large-m limit; at small m that estimator
// is biased (+7% at p=4: the (3 ln 2 - 1)/m of Flajolet et al. 2007 at
// large n, about half that at small n), so we divide by its bias as the
// second-order delta method gives it under the Poisson model of the
// registers (the model Ertl derives the estimator from, his section 2), at
// every n. The standard error is the delta method of the same estimator
// under the same model (first order, plus the second-order terms of the
// register sum, which matter at small m: Flajolet's β_m), less the Poisson
// noise of n itself, which a fixed stream does not have. The bounds are the
// n' whose estimates would lie within z standard errors of this one on the
// log scale (a normal model inverted at the truth, which keeps the misses
// balanced at small m); where only a few items share a register the upper
// bound also holds the collision bound the sparse form uses, and the count of
// nonzero registers is a hard floor. Everything is computed, nothing
// tabulated: the estimator is unbiased within a tenth of its standard error
// at every precision (TestHLLDenseBias), and the bounds cover at the stated
// rate from n=1 to 100·2^p at every precision (TestHLLCoverageGrid).
//
// A sketch whose registers are all at their maximum (2^64 hashes' worth)
// cannot say how many more items it saw: see Saturated.
func (h *HLL) EstimateAt(confidence float64) Estimate {
	checkConfidence(confidence)
	regs, keys, _, _ := h.state()
	if regs == nil {
		return sparseEstimate(keys, h.p, confidence)
	}
	var c [66]uint32
	histogram(regs, &c)
	return denseEstimate(&c, h.p, confidence)
}

// Saturated reports whether every register of h holds its largest value, so
// that h cannot tell how many distinct items it saw beyond a lower bound.
// Its Estimate is then Value = Lower, the smallest number of distinct
// 64-bit hashes that saturates every register with probability at least
// (1-confidence)/2, and Upper = 2^64, the number of distinct 64-bit hashes:
// finite, so that the estimate encodes as JSON. No stream short of about
// 2^64 distinct items saturates a sketch; a decoded or merged one can be.
func (h *HLL) Saturated() bool {
	regs, _, _, _ := h.state()
	if regs == nil {
		return false
	}
	top := byte(64 - h.p + 1)
	for _, r := range regs {
		if r != top {
			return false
		}
	}
	return true
}

// sparseEstimate estimates from the number of distinct sparse keys.
//
// n items hash to keys independently; an item is lost when its key is taken,
// so the keys seen are c = n - L with L the number of lost items, whose mean
// is μ(n) = n - M(1 - (1-1/M)^n), about n²/2M, with M the number of keys
// (sparseKeys). L is nearly Poisson (a sum of many rare, nearly independent
// losses; slightly underdispersed, which errs on the safe side), so the
// bounds are the n whose Poisson probability of losing n - c or more (Upper)
// and n - c or fewer (Lower) items is at least (1-confidence)/2, as
// Clopper and Pearson invert the binomial. The value is linear counting over
// the keys, unbiased to second order. No sparse sketch can rule out a lost
// item, so Upper is at least c + 1 and the answer is never Exact unless
// empty.
func sparseEstimate(keys uint32, p uint8, confidence float64) Estimate {
	return sparseEstimateM(keys, sparseKeys(p), confidence)
}

// sparseEstimateM is sparseEstimate over mm effective keys: sparseKeys(p),
// or the part of them a prefix of the buckets holds (see EstimateBelow).
func sparseEstimateM(keys uint32, mm, confidence float64) Estimate {
	e := Estimate{Confidence: confidence}
	if keys == 0 {
		e.Exact = true
		return e
	}
	c := float64(keys)
	e.Value = mm * math.Log(mm/(mm-c))
	e.Lower, e.Upper = collisionBounds(keys, mm, confidence)
	e.Upper = max(e.Upper, e.Lower+1)
	e.Value = min(max(e.Value, e.Lower), e.Upper)
	return e
}

// sparseKeys is the effective number of sparse keys at precision p: the
// inverse of the probability that two items share a key. Two items share a
// key when they share their 25-bit bucket, except that axiomhq also keeps the
// rank of the hash in the key when the bucket's last 25-p bits are zero, and
// two ranks are equal with probability 1/3.
func sparseKeys(p uint8) float64 {
	share := 1 - 2.0/3*math.Ldexp(1, -(sparsePrecision-int(p)))
	return math.Ldexp(1, sparsePrecision) / share
}

// lostMean is the expected number of items lost to shared keys among n items
// over mm keys: n - mm(1 - (1-1/mm)^n).
func lostMean(n, mm float64) float64 {
	return n + mm*math.Expm1(n*math.Log1p(-1/mm))
}

// collisionBounds returns the integer bounds on n given that n items left
// c distinct keys out of mm, at the given confidence: the smallest and
// largest n not rejected by the Poisson model of the lost items.
func collisionBounds(keys uint32, mm, confidence float64) (lo, hi float64) {
	tail := (1 - confidence) / 2
	c := int64(keys)
	// Upper: the largest n = c + k with P(L >= k | μ(n)) >= tail. The
	// probability falls as k grows (μ grows by less than one per step).
	upOK := func(k int64) bool {
		mu := lostMean(float64(c+k), mm)
		return k == 0 || 1-poissonCDF(k-1, mu) >= tail
	}
	// Lower: the smallest n = c + k with P(L <= k | μ(n)) >= tail.
	loOK := func(k int64) bool {
		return poissonCDF(k, lostMean(float64(c+k), mm)) >= tail
	}
	// μ grows by less than one per item, so both tests are monotone in k;
	// the cap only guards the search (callers stay far below it).
	limit := int64(mm) - c
	return float64(c + firstTrue(loOK, limit)), float64(c + lastTrue(upOK, limit))
}

// lastTrue returns the largest k in [0, limit] with f(k), for f true at 0
// and monotone: true up to some k, false after.
func lastTrue(f func(int64) bool, limit int64) int64 {
	lo, hi := int64(0), int64(1)
	for f(hi) {
		if hi >= limit {
			return limit
		}
		lo, hi = hi, min(2*hi, limit)
	}
	for hi-lo > 1 { // f(lo), !f(hi)
		mid := lo + (hi-lo)/2
		if f(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// firstTrue returns the smallest k in [0, limit] with f(k), for f
// monotone: false up to some k, true after; limit if there is none.
func firstTrue(f func(int64) bool, limit int64) int64 {
	if f(0) || limit <= 0 {
		return 0
	}
	lo, hi := int64(0), int64(1)
	for !f(hi) {
		if hi >= limit {
			return limit
		}
		lo, hi = hi, min(2*hi, limit)
	}
	for hi-lo > 1 { // !f(lo), f(hi)
		mid := lo + (hi-lo)/2
		if f(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// poissonCDF returns P(X <= k) for X Poisson with mean mu, summing the terms
// from k down (each from the last, the first from lgamma), so that it holds
// for any mean without underflow.
func poissonCDF(k int64, mu float64) float64 {
	if k < 0 {
		return 0
	}
	if mu <= 0 {
		return 1
	}
	lg, _ := math.Lgamma(float64(k) + 1)
	t := math.Exp(float64(k)*math.Log(mu) - mu - lg)
	sum := t
	for j := k; j > 0; j-- {
		t *= float64(j) / mu
		sum += t
		if float64(j) < mu && t < sum*1e-17 {
			break
		}
	}
	return min(sum, 1)
}

// denseDiscrete is the expected number of items sharing a register below
// which dense bounds also hold the collision bounds (where n < m/2, so that
// the collision model applies).
const denseDiscrete = 10

// twoTo64 is the number of distinct 64-bit hashes.
const twoTo64 = 1 << 64

// denseEstimate estimates from the histogram c of the registers of a dense
// sketch at precision p.
func denseEstimate(c *[66]uint32, p uint8, confidence float64) Estimate {
	return denseEstimateM(c, math.Ldexp(1, int(p)), p, confidence)
}

// denseEstimateM estimates from the histogram c of m registers of a sketch
// at precision p: all 2^p of them, or the first m, which hold an HLL of m
// registers over the items whose index is below m (see EstimateBelow).
// Nothing in the estimator needs m to be a power of two.
func denseEstimateM(c *[66]uint32, m float64, p uint8, confidence float64) Estimate {
	e := Estimate{Confidence: confidence}
	q := 64 - int(p)
	// The distinct hashes m registers can see: 2^64 for all 2^p of them,
	// the part of the hash space below the line for the first m.
	hashes := math.Ldexp(m, q)
	switch {
	case float64(c[0]) == m: // no item sets no register
		e.Exact = true
		return e
	case float64(c[q+1]) == m:
		// Saturated. Among D distinct hashes, register i is at q+1 when
		// the one hash with index i and all other bits zero is among them,
		// probability D/hashes, about independently for the m registers.
		e.Lower = hashes * math.Pow((1-confidence)/2, 1/m)
		e.Value, e.Upper = e.Lower, hashes
		return e
	}
	raw := ertlEstimate(c, m, p)
	// Divide out the bias, evaluated at the corrected estimate (one fixed
	// point step: the bias varies slowly with λ).
	n := raw
	for range 2 {
		ratio, _ := ertlModel(n/m, m, p)
		n = raw / ratio
	}
	z := normal.Z(confidence)
	e.Value = n
	// The bounds are the n' whose estimates lie within z standard
	// deviations of this one on the log scale, |ln n - ln n'| <=
	// z sd(n')/n': the normal model inverted at the truth (as Wilson's
	// interval is for a proportion). Taking sd at the estimate and a
	// symmetric interval instead misses the truth mostly above at small m.
	// sd(n')/n' changes slowly, so two fixed-point steps converge.
	lo, hi := n, n
	for range 2 {
		lo = n * math.Exp(-z*denseSD(lo, m, p)/lo)
		hi = n * math.Exp(z*denseSD(hi, m, p)/hi)
	}
	// A nonzero register needs a distinct item: a hard floor.
	nonzero := uint32(m) - c[0]
	e.Lower = math.Max(float64(nonzero), lo)
	e.Upper = hi
	// While few items share a register, the estimate is nearly linear
	// counting, whose error is that of a small, discrete number of
	// collisions: a normal model misses its upper tail. Bound the
	// collisions as sparseEstimate does (the count of lost items is
	// underdispersed next to Poisson here, so this errs on the safe side).
	if n < m/2 && lostMean(n, m) < denseDiscrete {
		_, up := collisionBounds(nonzero, m, confidence)
		e.Upper = max(e.Upper, up)
	}
	// No more distinct hashes exist than the registers see (the Poisson
	// model knows no such limit near saturation), and the value stays
	// inside its bounds.
	e.Upper = min(e.Upper, hashes)
	e.Lower = min(e.Lower, e.Upper)
	e.Value = min(max(e.Value, e.Lower), e.Upper)
	return e
}

// denseSD is the standard deviation of the dense estimate at n items: the
// Poisson model's, less the Poisson noise of n itself, variance n, which a
// fixed stream does not have.
func denseSD(n, m float64, p uint8) float64 {
	n = math.Max(n, 1e-3)
	_, relVar := ertlModel(n/m, m, p)
	v := relVar*n*n - n
	if !(v > 0) {
		// Only rounding at tiny λ gets here; the model tends to linear
		// counting's fixed-n variance there.
		v = m * (math.Expm1(n/m) - n/m)
	}
	return math.Sqrt(v)
}

// ertlModel returns, for n = λm items in m registers at precision p (ranks
// up to q+1, q = 64-p) under the Poisson model (Ertl 2017,
// section 2: register values independent with P(K <= k) = exp(-λ 2^-k) for
// k <= q = 64-p), the expectation of Ertl's estimator relative to n to second
// order in 1/m (ratio = E[estimate]/n), and its relative variance to first
// order (variance / n²).
//
// The estimator is F = α∞ m / D(x), x the register histogram divided by m,
// D(x) = σ(x₀) + Σ_{k=1..q} x_k 2^-k + τ(1 - x_{q+1}) 2^-q, and x has mean π
// (the register distribution) and covariance (diag π - ππᵀ)/m. The delta
// method gives Var F / F² = Var_π(w_K) / (m D²) with w = ∇D, and
// E F / F(π) = 1 + Var F/F² - Σ_i D_ii π_i (1-π_i) / (2 m D), where only
// D₀₀ = σ” and D_{q+1,q+1} = τ” 2^-q are nonzero. At large λ the bias term
// is (3 ln 2 - 1)/m, Flajolet et al.'s α_m correction; at small λ about
// half of it.
func ertlModel(lambda, m float64, p uint8) (ratio, relVar float64) {
	q := 64 - int(p)
	var pi, w [66]float64
	pi[0] = math.Exp(-lambda)
	s0, s1, s2 := sigmaDerivs(pi[0])
	w[0] = s1
	d := s0
	top := q // last rank with a non-negligible probability
	for k := 1; k <= q; k++ {
		a := lambda * math.Ldexp(1, -k)
		// P(K = k) = e^-a - e^-2a, without cancellation.
		pi[k] = -math.Exp(-a) * math.Expm1(-a)
		w[k] = math.Ldexp(1, -k)
		d += pi[k] * w[k]
		if a < 1 && pi[k]*w[k] < 1e-16*d {
			// Past the mode, the remaining ranks add less than this
			// term in total (each is under a quarter of the last).
			top = k
			break
		}
	}
	var t2 float64
	if top == q {
		x := math.Exp(-lambda * math.Ldexp(1, -q))
		pi[q+1] = -math.Expm1(-lambda * math.Ldexp(1, -q))
		t0, t1, tt := tauDerivs(x)
		w[q+1] = -t1 * math.Ldexp(1, -q)
		d += t0 * math.Ldexp(1, -q)
		t2 = tt * math.Ldexp(1, -q)
		top = q + 1
	}
	var mean float64
	for k := 0; k <= top; k++ {
		mean += pi[k] * w[k]
	}
	// The register sum alone: w'_0 = 0, w'_k = w_k.
	meanS := mean - pi[0]*w[0]
	var vw, vl, tl float64
	for k := 0; k <= top; k++ {
		dw := w[k] - mean
		vw += pi[k] * dw * dw
		ds := w[k] - meanS
		if k == 0 {
			ds = -meanS
		}
		vl += pi[k] * ds * ds
		tl += pi[k] * ds * ds * ds
	}
	v := vw / (m * d * d)
	curv := s2*pi[0]*(1-pi[0]) + t2*pi[q+1]*(1-pi[q+1])
	const alphaInf = 0.5 / math.Ln2
	ratio = alphaInf / (lambda * d) * (1 + v - curv/(2*m*d))
	// Second order: with δ = D̂/D - 1, Var(1/(1+δ)) = v - 2E[δ³] + 8v², and
	// dividing by the ratio (1+v) takes 2v² off.
	vLin := vl / (m * d * d)
	k3 := tl / (m * m * d * d * d)
	relVar = v + 6*vLin*vLin - 2*k3
	return ratio, relVar
}

// sigmaDerivs returns σ(x), σ'(x) and σ”(x) for x in [0, 1), with
// σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k-1) (Ertl 2017, eq. 40).
func sigmaDerivs(x float64) (s0, s1, s2 float64) {
	if x == 0 {
		return 0, 1, 2
	}
	s0, s1 = x, 1
	xp := x // x^(2^k)
	for k := 1; k < 64; k++ {
		xp *= xp
		if xp == 0 {
			break
		}
		c := math.Ldexp(1, k-1)
		e := math.Ldexp(1, k) // 2^k
		s0 += c * xp
		s1 += c * e * xp / x
		s2 += c * e * (e - 1) * xp / (x * x)
	}
	return s0, s1, s2
}

// tauDerivs returns τ(x), τ'(x) and τ”(x) for x in (0, 1], with
// τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))² 2^-k) / 3 (Ertl 2017, eq. 41).
func tauDerivs(x float64) (t0, t1, t2 float64) {
	t0, t1 = 1-x, -1
	u := x // x^(2^-k)
	for k := 1; k < 64; k++ {
		u = math.Sqrt(u)
		a := math.Ldexp(1, -k)
		u1 := a * u / x                 // d/dx x^a
		u2 := a * (a - 1) * u / (x * x) // d²/dx² x^a
		t0 -= (1 - u) * (1 - u) * a
		t1 += 2 * (1 - u) * u1 * a
		t2 += (-2*u1*u1 + 2*(1-u)*u2) * a
	}
	return t0 / 3, t1 / 3, t2 / 3
}

// linearCountingSD is the standard deviation of linear counting with m
// buckets at n items: sqrt(m(e^t - t - 1)), t = n/m (Whang et al. 1990, eq. 6).
func linearCountingSD(m, n float64) float64 {
	t := n / m
	// e^t - t - 1 loses all precision for tiny t; use its series there.
	v := math.Expm1(t) - t
	if t < 1e-4 {
		v = t * t / 2 * (1 + t/3)
	}
	return math.Sqrt(m * v)
}

// ertlEstimate is Ertl's improved raw estimator (2017, Algorithm 6) over m
// registers of a dense sketch with precision p. Registers hold rho in
// [0, q+1], q = 64-p, as axiomhq defines them.
func ertlEstimate(c *[66]uint32, m float64, p uint8) float64 {
	q := 64 - int(p)
	z := m * ertlTau(1-float64(c[q+1])/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + float64(c[k]))
	}
	z += m * ertlSigma(float64(c[0])/m)
	const alphaInf = 0.5 / math.Ln2
	return alphaInf * m * m / z
}

// histogram counts register values into c, using four partial histograms so
// that runs of equal values do not serialize on one counter.
func histogram(regs []byte, c *[66]uint32) {
	var c1, c2, c3 [66]uint32
	i := 0
	for ; i+4 <= len(regs); i += 4 {
		c[regs[i]&63]++
		c1[regs[i+1]&63]++
		c2[regs[i+2]&63]++
		c3[regs[i+3]&63]++
	}
	for ; i < len(regs); i++ {
		c[regs[i]&63]++
	}
	for k := range c {
		c[k] += c1[k] + c2[k] + c3[k]
	}
}

// ertlSigma is σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k-1) (Ertl 2017, eq. 40).
func ertlSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

// ertlTau is τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))² 2^-k) / 3 (Ertl 2017,
// eq. 41).
func ertlTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}
