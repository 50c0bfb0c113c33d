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
// # What was shed
//
// Records that were shed leave no trace among the kept ones: 150 records
// kept at p = 1, then 50 offered at p = 0.01 and all shed (as happens
// 61% of the time), look exactly like 150 records never shed. Tell the
// count what was shed with AddShed (a shedder knows: Summary.Shed and
// MinP, or per batch): then it is never Exact once anything was shed, and
// its upper bound allows for the records that may hide behind the
// smallest p met. Without AddShed the count can only see the p its kept
// records carry.
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
	n    uint64  // records kept
	one  uint64  // of which never subject to shedding (p = 1)
	sum  float64 // sum of 1/p
	v    float64 // sum of (1-p)/p^2
	shed uint64  // records shed, as told by AddShed
	maxW float64 // largest 1/p < 1/1 met, kept or shed; 0 if none
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
	if inv == 1 {
		w.one += n
	} else if n > 0 {
		w.maxW = max(w.maxW, inv)
	}
}

// AddShed tells the count that n records offered at keep probability
// keepP, in (0, 1), were shed: some or all of them might have been
// counted had they been kept. When only a summary is at hand,
// AddShed(s.Shed, float32(s.MinP)) is right, if cautious: the bounds
// allow for records shed at the smallest p. keepP outside (0, 1) is a
// programming error (records at p = 1 are never shed) and panics.
func (w *WeightedCount) AddShed(n uint64, keepP float32) {
	if !(keepP > 0 && keepP < 1) {
		panic(fmt.Sprintf("shedding: WeightedCount.AddShed at keep probability %v outside (0, 1)", keepP))
	}
	if n > 0 {
		w.shed += n
		w.maxW = max(w.maxW, 1/float64(keepP))
	}
}

// Merge adds o's counts to w: the count of both streams.
func (w *WeightedCount) Merge(o *WeightedCount) {
	w.n += o.n
	w.one += o.one
	w.sum += o.sum
	w.v += o.v
	w.shed += o.shed
	w.maxW = max(w.maxW, o.maxW)
}

// Kept returns the number of records counted.
func (w *WeightedCount) Kept() uint64 { return w.n }

// Shed returns the number of records AddShed was told were shed.
func (w *WeightedCount) Shed() uint64 { return w.shed }

// Value returns the HT estimate of the records offered: sum(1/p).
func (w *WeightedCount) Value() float64 { return w.sum }

// Variance returns the estimated sampling variance of Value.
func (w *WeightedCount) Variance() float64 { return w.v }

// Estimate returns the estimated number of records offered with bounds at
// sketch.DefaultConfidence; see EstimateAt.
func (w *WeightedCount) Estimate() sketch.Estimate { return w.EstimateAt(sketch.DefaultConfidence) }

// EstimateAt returns the estimated number of records offered, with bounds
// at the given confidence in (0, 1). It is exact only when nothing was
// shed: every record kept at p = 1 and none shed (AddShed).
//
// The bounds are those of Fay and Feuer ("Confidence intervals for
// directly standardized rates: a method based on the gamma distribution",
// Statistics in Medicine 16, 1997, eqs. 3-4) for a weighted sum of counts,
// with the binomial variance of shedding in place of the Poisson one: the
// records kept at p < 1 give y = sum(1/p) and v = sum((1-p)/p^2), and the
// part of the count they stand for lies between the alpha/2-quantile of a
// gamma of mean y and variance v and the (1-alpha/2)-quantile of one of
// mean y + W and variance v + W(W-1), W the largest 1/p met, kept or shed.
// That W is one more record of the rarest kind, not yet seen: it is what
// keeps the upper bound honest when few or no records were kept from a
// low-p period, where a normal approximation collapses. The records kept
// at p = 1 are added exactly, and the lower bound is at least the records
// kept. For a constant p the interval is close to the exact one for N of
// Binomial(N, p) (Garwood's for Poisson as p -> 0), and it is calibrated
// (about 95% at 95%) once a few dozen records are kept; with fewer it is
// conservative. The coverage tests run it over schedules of p that change
// over time: bursts of low p, zigzags, a few records kept from a low-p
// period.
func (w *WeightedCount) EstimateAt(confidence float64) sketch.Estimate {
	checkConfidence(confidence)
	if w.n == w.one && w.shed == 0 {
		return sketch.Estimate{Value: w.sum, Lower: w.sum, Upper: w.sum, Confidence: confidence, Exact: true}
	}
	alpha := 1 - confidence
	one := float64(w.one)
	y, v := w.sum-one, w.v // the part kept at p < 1
	lo := one
	if y > 0 && v > 0 {
		lo += gammaQuantile(alpha/2, y*y/v) * v / y
	}
	lo = max(lo, float64(w.n))
	y2, v2 := y+w.maxW, v+w.maxW*(w.maxW-1)
	hi := one + gammaQuantile(1-alpha/2, y2*y2/v2)*v2/y2
	return sketch.Estimate{Value: w.sum, Lower: lo, Upper: max(hi, w.sum), Confidence: confidence}
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
