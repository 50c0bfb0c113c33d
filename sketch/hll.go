package sketch

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/axiomhq/hyperloglog"
	"github.com/streamstat/streamstat/internal/normal"
)

// HLL precision limits. Precision p gives m = 2^p registers and a relative
// standard error of about 1.04/sqrt(m) once the sketch is dense: 0.81% at the
// default 14.
const (
	MinPrecision     = 4
	MaxPrecision     = 18
	DefaultPrecision = 14
)

// sparsePrecision is axiomhq/hyperloglog's sparse index width (pp in its
// source): while sparse, a sketch tracks which of 2^25 hash buckets are hit.
const sparsePrecision = 25

// HLL estimates the number of distinct items in a stream (HyperLogLog, with a
// sparse representation for small cardinalities). Storage and updates are
// github.com/axiomhq/hyperloglog's; the estimator and its bounds are ours (see
// Estimate).
//
// The zero value is an empty sketch at DefaultPrecision, ready to use. An HLL
// is not safe for concurrent use: even Estimate compacts internal state.
type HLL struct {
	sk  *hyperloglog.Sketch
	p   uint8
	buf []byte // scratch for reading axiomhq's documented encoding
}

// NewHLL returns an empty HLL with 2^precision registers; precision must be
// in [MinPrecision, MaxPrecision].
func NewHLL(precision int) (*HLL, error) {
	if precision < MinPrecision || precision > MaxPrecision {
		return nil, fmt.Errorf("sketch: HLL precision %d outside [%d, %d]: %w", precision, MinPrecision, MaxPrecision, ErrInvalidParameter)
	}
	h := &HLL{p: uint8(precision)}
	h.sk = newSparse(h.p)
	return h, nil
}

func newSparse(p uint8) *hyperloglog.Sketch {
	sk, err := hyperloglog.NewSketch(p, true)
	if err != nil {
		panic(err) // p was validated by every caller
	}
	return sk
}

func (h *HLL) init() {
	if h.sk == nil {
		if h.p == 0 {
			h.p = DefaultPrecision
		}
		h.sk = newSparse(h.p)
	}
}

// Precision returns p; the sketch has 2^p registers.
func (h *HLL) Precision() int {
	h.init()
	return int(h.p)
}

// AddHash adds an item by its 64-bit xxhash (see Hash). It does not allocate
// once the sketch is dense; while sparse, it allocates only when it compacts
// its buffer of recent hashes, amortized well below one allocation per call.
func (h *HLL) AddHash(x uint64) {
	if h.sk == nil {
		h.init()
	}
	h.sk.InsertHash(x)
}

// Add adds the item b.
func (h *HLL) Add(b []byte) { h.AddHash(Hash(b)) }

// AddString adds the item s.
func (h *HLL) AddString(s string) { h.AddHash(HashString(s)) }

// Reset empties the sketch, keeping its precision.
func (h *HLL) Reset() {
	h.init()
	h.sk = newSparse(h.p)
}

// Clone returns an independent copy of h.
func (h *HLL) Clone() *HLL {
	h.init()
	return &HLL{sk: h.sk.Clone(), p: h.p}
}

// dense reports whether the sketch is dense and, if it is, returns its m
// registers (aliasing h.buf). While sparse it compacts the sketch and returns
// the number of distinct sparse keys instead. Both read axiomhq's documented
// version 2 encoding, the only access it gives to its registers.
func (h *HLL) state() (regs []byte, sparseKeys uint32, sparseStream []byte, last uint32) {
	h.init()
	h.buf, _ = h.sk.AppendBinary(h.buf[:0])
	if h.buf[3] == 1 {
		// Compact the sparse buffer into the sorted list (this may turn
		// the sketch dense), then read again.
		h.sk.Estimate()
		h.buf, _ = h.sk.AppendBinary(h.buf[:0])
	}
	if h.buf[3] == 0 {
		return h.buf[8:], 0, nil, 0
	}
	// Sparse, compacted: [hdr 4][tmp set count 4 = 0][count 4][last 4][size 4][stream].
	b := h.buf[8:]
	count := binary.BigEndian.Uint32(b[0:])
	last = binary.BigEndian.Uint32(b[4:])
	return nil, count, b[12:], last
}

// Estimate returns the number of distinct items added, with bounds at
// DefaultConfidence.
func (h *HLL) Estimate() Estimate { return h.EstimateAt(DefaultConfidence) }

// EstimateAt returns the number of distinct items added, with bounds at the
// given confidence in (0, 1).
//
// While sparse (up to a few thousand items at p=14), the sketch knows which
// of 2^25 hash buckets were hit, and the estimate is linear counting over
// those buckets (Whang et al. 1990): nearly exact, and the bounds say so.
// Once dense, the estimate is Ertl's improved raw estimator ("New cardinality
// estimation algorithms for HyperLogLog sketches", 2017, Algorithm 6), which
// is unbiased over the whole range without empirical bias tables and needs
// only a histogram of the registers: about 10 µs at p=14, against ~770 µs for
// axiomhq's per-register math.Pow.
func (h *HLL) EstimateAt(confidence float64) Estimate {
	checkConfidence(confidence)
	z := normal.Z(confidence)
	regs, keys, _, _ := h.state()
	e := Estimate{Confidence: confidence}
	if regs == nil {
		if keys == 0 {
			e.Exact = true
			return e
		}
		const mm = 1 << sparsePrecision
		c := float64(keys)
		n := mm * math.Log(mm/(mm-c))
		sd := linearCountingSD(mm, n)
		// The truth is an integer, so rounding the bounds inwards to
		// integers covers exactly the same truths. Distinct keys come from
		// distinct items, so c is a hard floor.
		e.Lower = math.Max(c, math.Ceil(n-z*sd))
		e.Upper = math.Max(e.Lower, math.Floor(n+z*sd))
		e.Value = min(max(n, e.Lower), e.Upper)
		return e
	}
	n := ertlEstimate(regs, h.p)
	sd := denseSD(n, h.p)
	e.Value = n
	e.Lower = math.Max(0, n-z*sd)
	e.Upper = n + z*sd
	return e
}

// denseSD is the standard deviation of the dense estimate at n distinct
// items. Ertl's estimator is nearly efficient, so its variance is close to the
// Cramér–Rao bound of the Poisson model (Ertl 2017, section 4): m/I(λ) with
// λ = n/m and I the Fisher information of one register, whose value K has
// P(K <= k) = exp(-λ 2^-k) for k <= q. That model also counts the Poisson
// noise of n itself, variance n, which a fixed stream does not have, so we
// subtract it. The result falls from 1.04/sqrt(m) at large n to the linear
// counting error at small n, and matches simulation within a few percent
// everywhere (0.584% against 0.602% measured at n=1e4, p=14; 0.746% against
// 0.748% at n=1e5), which keeps the bounds calibrated rather than padded.
func denseSD(n float64, p uint8) float64 {
	m := math.Ldexp(1, int(p))
	lambda := n / m
	q := 64 - int(p)
	info := 0.0
	hi := math.Exp(-lambda) // P(K <= k-1) as k advances
	info += hi              // k = 0: P = e^-λ, dP/dλ = -e^-λ
	for k := 1; k <= q; k++ {
		a := math.Ldexp(1, -k)
		lo := math.Exp(-lambda * a)
		prob := lo - hi
		d := -a*lo + 2*a*hi
		if prob > 0 {
			info += d * d / prob
		}
		hi = lo
	}
	a := math.Ldexp(1, -q)
	if prob := -math.Expm1(-lambda * a); prob > 0 {
		d := a * math.Exp(-lambda*a)
		info += d * d / prob
	}
	if v := m/info - n; info > 0 && v > 0 {
		return math.Sqrt(v)
	}
	return linearCountingSD(m, n)
}

// linearCountingSD is the standard deviation of linear counting with m
// buckets at n items: sqrt(m(e^t - t - 1)), t = n/m (Whang et al. 1990, eq. 6).
// For small t the dense HLL estimator behaves like linear counting, so its
// error there is smaller than the asymptotic 1.04/sqrt(m).
func linearCountingSD(m, n float64) float64 {
	t := n / m
	// e^t - t - 1 loses all precision for tiny t; use its series there.
	v := math.Expm1(t) - t
	if t < 1e-4 {
		v = t * t / 2 * (1 + t/3)
	}
	return math.Sqrt(m * v)
}

// ertlEstimate is Ertl's improved raw estimator (2017, Algorithm 6) over the
// registers of a dense sketch with precision p. Registers hold rho in
// [0, q+1], q = 64-p, as axiomhq defines them.
func ertlEstimate(regs []byte, p uint8) float64 {
	var c [66]uint32
	histogram(regs, &c)
	m := float64(len(regs))
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
