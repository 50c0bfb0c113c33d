package shedding

import (
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/normal"
	"github.com/streamstat/streamstat/sketch"
)

// WeightedCount counts records kept by a shedder and estimates how many
// were offered: the Horvitz–Thompson estimator (Horvitz and Thompson, "A
// generalization of sampling without replacement from a finite universe",
// JASA 47, 1952, eq. 2.1) sum(1/p_i) over the kept records, each with the
// keep probability p_i (Record.KeepP) it was kept under. It is unbiased
// whatever the p_i, as long as each record's inclusion was an independent
// Bernoulli(p_i) trial, which the Random policy guarantees; the variance
// sum((1-p_i)/p_i) over the offered records is estimated, also unbiasedly,
// by sum((1-p_i)/p_i^2) over the kept ones (ibid., eq. 2.4 with independent
// inclusions).
//
// Under KeyHash shedding the inclusions of one key's records are not
// independent (they are kept or dropped together): the value is still
// unbiased but the variance is larger than Variance says unless keys are
// distinct. Under Priority shedding inclusion depends on the score: see
// Priority.
//
// The zero value is an empty count, ready to use. A WeightedCount is not
// safe for concurrent use.
type WeightedCount struct {
	n   uint64  // records kept
	sum float64 // sum of 1/p
	v   float64 // sum of (1-p)/p^2
}

// Add counts one kept record with keep probability keepP (0 means never
// subject to shedding, the same as 1).
func (w *WeightedCount) Add(keepP float32) { w.AddN(1, keepP) }

// AddN counts n kept records with one keep probability, as a batch shed
// under one p carries.
func (w *WeightedCount) AddN(n uint64, keepP float32) {
	inv := weight(keepP)
	f := float64(n)
	w.n += n
	w.sum += f * inv
	w.v += f * (inv - 1) * inv // (1-p)/p^2 = (1/p - 1)/p
}

// Merge adds o's counts to w: the count of both streams.
func (w *WeightedCount) Merge(o *WeightedCount) {
	w.n += o.n
	w.sum += o.sum
	w.v += o.v
}

// Kept returns the number of records counted.
func (w *WeightedCount) Kept() uint64 { return w.n }

// Value returns the HT estimate of the records offered: sum(1/p).
func (w *WeightedCount) Value() float64 { return w.sum }

// Variance returns the estimated sampling variance of Value.
func (w *WeightedCount) Variance() float64 { return w.v }

// Estimate returns the estimated number of records offered with bounds at
// sketch.DefaultConfidence; see EstimateAt.
func (w *WeightedCount) Estimate() sketch.Estimate { return w.EstimateAt(sketch.DefaultConfidence) }

// EstimateAt returns the estimated number of records offered, with bounds
// at the given confidence in (0, 1). With no shedding (every p = 1) it is
// exact. Otherwise the bounds are those of a Wilson-type interval for N
// with a continuity correction of half a kept record (see htBounds), which
// for a constant p is exactly sampling.KeySampler.ScaleCount's interval for
// a Binomial(N, p) count; the lower bound is at least the records kept.
// They rest on a normal approximation: trust them from a few dozen kept
// records on. With nothing kept the count is an exact 0: the records that
// were shed left no trace here, so read the shedder's Summary to know
// whether any were.
func (w *WeightedCount) EstimateAt(confidence float64) sketch.Estimate {
	checkConfidence(confidence)
	k := float64(w.n)
	if w.v == 0 || w.n == 0 {
		return sketch.Estimate{Value: w.sum, Lower: w.sum, Upper: w.sum, Confidence: confidence, Exact: true}
	}
	lo, hi := htBounds(k, w.sum, w.v/w.sum, normal.Z(confidence), w.sum/(2*k))
	return sketch.Estimate{Value: w.sum, Lower: lo, Upper: hi, Confidence: confidence}
}

// htBounds returns bounds on N from a HT estimate s of N made from k kept
// records, when the estimate's variance is about N·v (v = (1-p)/p for a
// constant p; in general the estimated variance divided by s) and c is
// half a kept record in units of N (1/(2p); s/(2k) in general). They are
// the N with |s - N| <= z·sqrt(N·v) + c: a quadratic in sqrt(N) each way.
// This is Wilson's construction ("Probable inference, the law of
// succession, and statistical inference", JASA 22, 1927), the variance
// taken at the bound rather than at s, with a continuity correction; for a
// constant p it is sampling.KeySampler.ScaleCount's interval. The lower
// bound is at least k.
func htBounds(k, s, v, z, c float64) (lo, hi float64) {
	zs := z * math.Sqrt(v)
	// x² ∓ zs·x - t = 0 for x = sqrt(N).
	root := func(t, sign float64) float64 {
		x := (sign*zs + math.Sqrt(zs*zs+4*t)) / 2
		return x * x
	}
	hi = root(s+c, 1)
	lo = k
	if s-c > 0 {
		lo = max(k, root(s-c, -1))
	}
	return lo, hi
}

// Unit is the fixed-point scale of shed record weights in integer
// sketches: a record kept at p adds Units(p) = round(Unit/p) to a CountMin
// or TopK counter instead of 1, so their counters hold HT estimates in
// units of 1/Unit record, and FromUnits turns an answer back into records.
// With p on the PStep grid the rounding error is below 2^-17 of a record's
// weight; 2^48 records of weight 1 fit a counter.
const Unit = 1 << 16

// Units returns round(Unit/keepP), the fixed-point weight of a record kept
// at keepP; Unit for keepP 0 (never shed) or 1.
func Units(keepP float32) uint64 {
	if keepP <= 0 || keepP >= 1 {
		return Unit
	}
	return uint64(math.Round(Unit / float64(keepP)))
}

// FromUnits converts an estimate of a sketch fed with Units(p) per record
// into records.
func FromUnits(e sketch.Estimate) sketch.Estimate {
	e.Value /= Unit
	e.Lower /= Unit
	e.Upper /= Unit
	return e
}

// Widen returns e, a sketch's answer computed from kept records only,
// with its bounds widened by the sampling error of shedding: a normal
// error of the given variance at the given confidence,
// [Lower - z·sd, Upper + z·sd] (Lower kept at 0 or more). The sketch's
// error and the sampling error are independent, and by the union bound the
// truth lies in the widened bounds with probability at least
// e.Confidence + confidence - 1 (the result's Confidence; for 95% overall
// query the sketch at 0.975 and widen at 0.975). An exact e gets the
// sampling confidence; a zero variance leaves e as it is.
//
// For a per-key count of a sketch fed under Random shedding, the variance
// is about Summary.CountVariance of the count.
func Widen(e sketch.Estimate, variance, confidence float64) sketch.Estimate {
	checkConfidence(confidence)
	if !(variance > 0) {
		return e
	}
	d := normal.Z(confidence) * math.Sqrt(variance)
	c := confidence
	if !e.Exact {
		c = max(0, e.Confidence+confidence-1)
	}
	return sketch.Estimate{Value: e.Value, Lower: max(0, e.Lower-d), Upper: e.Upper + d, Confidence: c}
}

// checkConfidence panics on a confidence outside (0, 1): a programming
// error, not bad input.
func checkConfidence(c float64) {
	if !(c > 0 && c < 1) {
		panic(fmt.Sprintf("shedding: confidence %v outside (0, 1)", c))
	}
}
