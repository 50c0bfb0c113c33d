package shedding

import (
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/normal"
	"github.com/streamstat/streamstat/sketch"
)

// HLLDistinct returns the number of distinct keys offered to key-hash
// shedders, from a plain sketch.HLL fed the keys they kept (every record
// they passed, at any p, with AddHash) and minP, the smallest keep
// probability in force (their Group's Summary().MinP), with bounds at the
// given confidence in (0, 1). cover is the fraction of the hash space the
// answer is read from (see below); 1 while nothing was shed, when the
// answer is the HLL's own Estimate.
//
// # Why the first registers are complete
//
// Key-hash shedding at p keeps the keys whose hash is below p·2^64, so a
// key whose hash is below minP·2^64 was kept at every appearance, and a
// key above it may have been dropped at some or all of its appearances
// (see ThetaDistinct). An HLL's register index is the hash's top bits, so
// its first m' = floor(minP·m) registers (of m) saw exactly the keys with
// a hash below cover·2^64, cover = m'/m <= minP: every one, shed or not
// at other times, and nothing else. They are an HLL of m' registers over
// those keys (sketch.HLL.EstimateBelow; while sparse, the same holds of
// its 2^25 buckets). Key hashes are uniform and independent of the
// arrival times, so the n' keys below are Binomial(N, cover) of the N
// keys offered, whatever the sequence of p: n'/cover is unbiased for N.
// The operator is then the plain HLL's, at no cost per record over
// counting without shedding: the shedder already dropped the keys above
// the line.
//
// # Bounds
//
// Two independent errors add up: the HLL's on n' (its bounds at the
// confidence), and the binomial thinning (the Wilson-type interval of
// ThetaDistinct at rate cover); the bounds take each side's two
// deviations in quadrature, as for a sum of independent normal errors.
// The coverage test checks them over a grid of minP (1 down to 2^-16) and
// N (1 to 100·m, sparse and dense).
//
// # Cost against ThetaDistinct
//
// Under heavy shedding the answer rests on m' registers, not on the k
// hashes a ThetaDistinct keeps below its threshold: a relative error of
// about 1.04/sqrt(minP·m) against 1/sqrt(k) (at m = k = 2^14: 2.6% at
// minP = 0.1, 8% at 0.01, 26% at 2^-10, against 0.8%). A dense sketch
// with fewer than 16 registers below the line (minP·m < 16) tells nothing
// its estimator is tested for: cover is then 0 and the answer says
// nothing (0, with bounds 0 and 2^64): with ControllerConfig.MinP at its
// default, 2^-10, take m >= 2^14. (While sparse, the sketch reads its
// buckets whatever minP·m; but where it may turn dense, with minP·m < 16,
// whether it answers at all depends on how many keys it holds, and the
// answers it gives are those of the trials with the fewest keys below the
// line, low: at m = 16, minP = 0.5 and 16 keys, 29 of 1000 trials answered
// and 22 of those held the truth. m >= 16/minP avoids that.) Prefer
// ThetaDistinct where shedding is heavy and accuracy matters more than
// the cost per record.
//
// h is compacted, as by its Estimate, and not otherwise modified.
func HLLDistinct(h *sketch.HLL, minP, confidence float64) (e sketch.Estimate, cover float64, err error) {
	checkConfidence(confidence)
	if !(minP > 0 && minP <= 1) {
		return sketch.Estimate{}, 0, fmt.Errorf("shedding: HLLDistinct minimum p %v outside (0, 1]: %w", minP, ErrInvalidParameter)
	}
	below, cover := h.EstimateBelow(minP, confidence)
	switch {
	case cover == 1:
		return below, 1, nil
	case cover == 0:
		return unknown(confidence), 0, nil
	}
	z := normal.Z(confidence)
	v := below.Value / cover
	// The thinning: below.Value as if it counted n' exactly.
	bLo, bHi := normal.WilsonBounds(0, v, (1-cover)/cover, z, 0.5/cover)
	// The HLL's error on n', in keys offered.
	hLo, hHi := (below.Value-below.Lower)/cover, (below.Upper-below.Value)/cover
	e = sketch.Estimate{
		Value:      v,
		Lower:      max(0, v-math.Hypot(v-bLo, hLo)),
		Upper:      v + math.Hypot(bHi-v, hHi),
		Confidence: confidence,
	}
	// No more keys than 64-bit hashes, even scaled up from a saturated
	// sketch (see sketch.HLL.Saturated).
	e.Upper = min(e.Upper, 1<<64)
	e.Value, e.Lower = min(e.Value, e.Upper), min(e.Lower, e.Upper)
	return e, cover, nil
}

// unknown is HLLDistinct's answer when no register is read below minP:
// the HLL's keys were not spread over its registers, so its own estimate
// means nothing, and no bound but the number of 64-bit hashes holds.
func unknown(confidence float64) sketch.Estimate {
	return sketch.Estimate{Upper: 1 << 64, Confidence: confidence}
}
