package sketch

import (
	"encoding/binary"
	"math"
)

// minBelowRegisters is the fewest registers EstimateBelow reads in a dense
// sketch: the estimator and its bounds are tested from 2^MinPrecision up.
const minBelowRegisters = 1 << MinPrecision

// EstimateBelow returns the number of distinct items added whose hash lies
// below cover·2^64, with bounds at the given confidence in (0, 1), and
// cover: frac rounded down to a part of the hash space the sketch can tell
// apart from the rest.
//
// A hash's top p bits are its register index, and while the sketch is
// sparse its top 25 bits are its bucket, so the items with a hash below
// j/2^p·2^64 are exactly those that reached the first j registers (below
// j/2^25·2^64, the first j buckets). Those registers (buckets) are an HLL
// of their own, over those items only, whatever else was added: EstimateBelow
// estimates it as EstimateAt estimates a whole sketch, with j registers
// (Ertl's estimator needs no power of two) or j buckets. Dense, cover is
// floor(frac·2^p)/2^p; sparse, floor(frac·2^25)/2^25. A dense sketch
// below 2^MinPrecision registers (frac·2^p < 16) tells nothing that its
// estimator is tested for: cover is 0, with an inexact zero Estimate.
// frac >= 1 gives EstimateAt's answer and cover 1; frac <= 0 or NaN gives
// cover 0.
//
// Use it where items with larger hashes may have been dropped, and those
// below were all kept: key-hash sampling at a rate that changed over time
// (package shedding), whose smallest rate bounds the part of the hash space
// that is complete.
func (h *HLL) EstimateBelow(frac, confidence float64) (e Estimate, cover float64) {
	checkConfidence(confidence)
	if frac >= 1 {
		return h.EstimateAt(confidence), 1
	}
	none := Estimate{Confidence: confidence}
	if !(frac > 0) {
		return none, 0
	}
	regs, _, stream, _ := h.state()
	if regs != nil {
		j := int(math.Floor(frac * float64(len(regs))))
		if j < minBelowRegisters {
			return none, 0
		}
		var c [66]uint32
		histogram(regs[:j], &c)
		return denseEstimateM(&c, float64(j), h.p, confidence), float64(j) / float64(len(regs))
	}
	const buckets = 1 << sparsePrecision
	j := uint32(math.Floor(frac * buckets))
	keys := sparseKeysBelow(stream, j)
	cover = float64(j) / buckets
	return sparseEstimateM(keys, sparseKeys(h.p)*cover, confidence), cover
}

// sparseKeysBelow counts the keys of a compacted sparse stream (sorted,
// as uvarint deltas) whose bucket is below j. axiomhq's key is the bucket
// shifted left 1, or, for a bucket whose low 25-p bits are zero, shifted
// left 7 with the rank and a flag bit 1 below it (see sparseKeys).
func sparseKeysBelow(stream []byte, j uint32) uint32 {
	var n, key uint32
	for len(stream) > 0 {
		d, w := binary.Uvarint(stream)
		if w <= 0 {
			break // state() reads streams axiomhq built and validated
		}
		stream = stream[w:]
		key += uint32(d)
		b := key >> 1
		if key&1 == 1 {
			b = key >> 7
		}
		if b < j {
			n++
		}
	}
	return n
}
