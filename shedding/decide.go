package shedding

import (
	"math"

	"github.com/streamstat/streamstat/internal/hashmix"
)

// Keep probabilities live on a grid: every p the Controller sets is a
// multiple of PStep = 2^-16 in [PStep, 1]. On that grid three
// representations of p agree exactly, which replay needs: the float64 the
// controller holds, the float32 Record.KeepP a kept record carries
// (16 significant bits fit its 24-bit mantissa), and the key-hash
// threshold p·2^64 (= k·2^48, an integer). A record's HT weight 1/KeepP is
// therefore the exact inverse of the probability that decided it.
const (
	PStep = 1.0 / (1 << 16)
	pBits = 16
)

// Quantize returns the largest multiple of PStep at most p, clamped to
// [PStep, 1]; NaN gives 1 (no shedding).
func Quantize(p float64) float64 {
	switch {
	case !(p < 1): // p >= 1 or NaN
		return 1
	case p <= PStep:
		return PStep
	}
	return math.Floor(p*(1<<pBits)) / (1 << pBits)
}

// onGrid reports whether p is a value Quantize returns.
func onGrid(p float64) bool { return p >= PStep && p <= 1 && Quantize(p) == p }

// threshold returns t = p·2^64 for p < 1: a hash h is below the keep line
// iff h < t. For p = 1 it returns 0, and callers test p == 1 first.
func threshold(p float64) uint64 {
	if p >= 1 {
		return 0
	}
	return uint64(p * 0x1p64)
}

// KeepKey reports whether key-hash shedding at keep probability p (on the
// grid, see Quantize) keeps a record whose key hashes to h: h < p·2^64.
// All records of a key are kept or dropped alike, and a key kept at p is
// kept at every p' >= p.
func KeepKey(h uint64, p float64) bool { return p >= 1 || h < threshold(p) }

// KeepRandom reports whether random shedding at keep probability p keeps
// the record with key hash h at position seq (its index among the records
// offered to the shedder) under the given salt. It is a Bernoulli(p)
// decision per record, a pure function of its arguments: the remix of
// (h, seq, salt) is a full-avalanche bijection of h for each seq, so two
// records of one key are decided independently, and the decision is
// independent of KeepKey's, which looks at h itself.
func KeepRandom(h, seq, salt uint64, p float64) bool {
	return p >= 1 || remix(h, seq, hashmix.SplitMix64(salt)) < threshold(p)
}

// remix scrambles a record's hash with its position and a mixed salt
// (splitmix64 of the salt). The position enters as a Weyl sequence
// seq·phi + salt, distinct for every seq and, for two random salts,
// disjoint sets of values; fmix64 then gives every (hash, position) pair
// an unrelated output. (With the raw salt, two small salts would offer
// nearly the same inputs, and two shedders would decide nearly alike.)
func remix(h, seq, mixedSalt uint64) uint64 {
	return hashmix.Fmix64(h ^ (seq*0x9e3779b97f4a7c15 + mixedSalt))
}

// weight is the HT weight of a record kept at keepP: 1/keepP, and 1 for a
// record never subject to shedding (KeepP 0).
func weight(keepP float32) float64 {
	if keepP <= 0 || keepP >= 1 {
		return 1
	}
	return 1 / float64(keepP)
}
