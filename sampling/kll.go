package sampling

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// KLL parameter limits. k sets accuracy and space: the sketch keeps about
// 3k values (k/(1-2/3) plus 8 per level past the ~log_{3/2}(k/8)-th) and
// answers rank queries to within RankError() ~ 2.3/k^0.97 of the true
// normalized rank (1.33% at the default 200).
const (
	DefaultKLLK = 200
	MinKLLK     = 8
	MaxKLLK     = 65535
)

// kllMinWidth is the smallest capacity of any level (m in the DataSketches
// code): capacities decay geometrically from k at the top but never below it.
const kllMinWidth = 8

// kllMaxLevels bounds the number of levels: an item at level h stands for
// 2^h values, so 64 levels already exceed any uint64 count.
const kllMaxLevels = 64

// KLL is a quantile sketch for float64 values: the KLL sketch of Karnin, Lang
// and Liberty ("Optimal Quantile Approximation in Streams", FOCS 2016), in
// the form Apache DataSketches ships (KllDoublesSketch): a hierarchy of
// compactors whose capacities decay by a factor c = 2/3 per level below the
// top (k at the top, never below 8), lazy compaction (a level is compacted
// only when the whole buffer is full, and then only the lowest level over its
// capacity), and random-offset compaction (sort a level, keep the items at
// even or at odd positions, chosen by a fair coin, and promote them with
// double weight). An item at level h stands for 2^h values, so the total
// weight is always exactly Count().
//
// The coin comes from a PCG generator (math/rand/v2) seeded by NewKLL; its
// state is part of the sketch and of its encoding, so a sketch restored from
// its encoding goes on exactly as the original would, and two sketches fed
// the same values with the same seed are identical.
//
// # Ranks and quantiles
//
// Ranks are inclusive: Rank(x) is the fraction of values <= x, and
// Quantile(q) is the smallest retained value whose rank is at least q, with
// Quantile(0) = Min() and Quantile(1) = Max() exact. While no compaction has
// happened (up to k values) every answer is exact and RankError is 0.
//
// # Non-finite input
//
// NaN has no rank: NaN values are left out and counted by NaNs. ±Inf are
// ordinary values (the smallest and largest possible). -0 is stored as +0.
//
// The zero value is an empty sketch with k = DefaultKLLK and seed 0, ready to
// use (the same as NewKLL(DefaultKLLK, 0)). A KLL is not safe for concurrent
// use: even queries cache a sorted view of the retained values.
type KLL struct {
	k         int
	numLevels int // 0 until initialized
	// levels[h] is where level h starts in items, levels[numLevels] ==
	// len(items); items[:levels[0]] is free space that level 0 grows down
	// into. Levels above 0 are sorted; level 0 is not.
	levels [kllMaxLevels + 1]uint32
	items  []float64
	n      uint64 // values added (the total weight)
	nans   uint64
	min    float64
	max    float64
	rng    rand.PCG

	// depthCap[d] is the capacity of the level d below the top; capacity
	// is their sum over the current levels, the buffer's working length.
	depthCap [kllMaxLevels]uint32
	capacity int

	view     []kllEntry // sorted retained values with cumulative weights
	viewTmp  []kllEntry // the other buffer of the merges that build view
	viewOK   bool
	pcgState [20]byte // scratch for the coin's marshaled state
}

// NewKLL returns an empty KLL with parameter k in [MinKLLK, MaxKLLK] (0 means
// DefaultKLLK) whose compaction coin is seeded with seed.
func NewKLL(k int, seed uint64) (*KLL, error) {
	if k == 0 {
		k = DefaultKLLK
	}
	if k < MinKLLK || k > MaxKLLK {
		return nil, fmt.Errorf("sampling: KLL k %d outside [%d, %d]: %w", k, MinKLLK, MaxKLLK, ErrInvalidParameter)
	}
	s := new(KLL)
	s.setShape(k, 1)
	s.rng.Seed(seed, 0)
	return s, nil
}

// init makes the zero value the default empty sketch.
func (s *KLL) init() {
	if s.numLevels == 0 {
		s.setShape(DefaultKLLK, 1)
	}
}

// setShape sets k and the number of levels and the capacities they imply.
func (s *KLL) setShape(k, numLevels int) {
	s.k, s.numLevels = k, numLevels
	for d := range s.depthCap {
		s.depthCap[d] = uint32(kllDepthCap(k, d))
	}
	s.capacity = s.totalCap(numLevels)
}

// totalCap is the sum of the level capacities of a numLevels-level sketch.
func (s *KLL) totalCap(numLevels int) int {
	t := 0
	for _, c := range s.depthCap[:numLevels] {
		t += int(c)
	}
	return t
}

// levelCap is the capacity of level h.
func (s *KLL) levelCap(h int) int { return int(s.depthCap[s.numLevels-1-h]) }

// K returns the sketch's parameter k.
func (s *KLL) K() int {
	if s.k == 0 {
		return DefaultKLLK
	}
	return s.k
}

// Count is the number of values added (NaNs excluded).
func (s *KLL) Count() uint64 { return s.n }

// NaNs is the number of NaN values left out.
func (s *KLL) NaNs() uint64 { return s.nans }

// Retained is the number of values the sketch holds.
func (s *KLL) Retained() int {
	return int(s.levels[s.numLevels] - s.levels[0])
}

// Reset empties the sketch, keeping k and the coin's state.
func (s *KLL) Reset() {
	s.init()
	s.setShape(s.k, 1)
	s.levels = [kllMaxLevels + 1]uint32{}
	s.items = s.items[:0]
	s.n, s.nans, s.min, s.max = 0, 0, 0, 0
	s.viewOK = false
}

// Add adds x. It does not allocate once the sketch has grown to its working
// size (a new level, about every doubling of Count, reuses spare capacity
// allocated eight levels at a time).
func (s *KLL) Add(x float64) {
	if x != x {
		s.nans++
		return
	}
	if s.numLevels == 0 {
		s.init()
	}
	x += 0 // -0 -> +0: equal values, equal state
	if s.levels[0] == 0 {
		s.makeRoom()
	}
	s.levels[0]--
	s.items[s.levels[0]] = x
	if s.n == 0 {
		s.min, s.max = x, x
	} else if x < s.min {
		s.min = x
	} else if x > s.max {
		s.max = x
	}
	s.n++
	s.viewOK = false
}

// kllDepthCap is the capacity of a level depth levels below the top:
// round(k * (2/3)^depth), but at least kllMinWidth. Integer arithmetic (as
// DataSketches' intCapAux) keeps it exact on every platform.
func kllDepthCap(k, depth int) int {
	if depth > 30 { // k*(2/3)^23 < 8 for every k <= MaxKLLK
		return kllMinWidth
	}
	// (2k * 2^depth / 3^depth + 1) / 2 rounds k*(2/3)^depth to nearest;
	// 2k*2^30 < 2^48 cannot overflow.
	pow3 := uint64(1)
	for range depth {
		pow3 *= 3
	}
	c := int(((uint64(2*k)<<depth)/pow3 + 1) / 2)
	return max(c, kllMinWidth)
}

func (s *KLL) pop(h int) int { return int(s.levels[h+1] - s.levels[h]) }

func (s *KLL) level(h int) []float64 { return s.items[s.levels[h]:s.levels[h+1]] }

// coin is the random offset of one compaction: 0 keeps the items at even
// positions, 1 those at odd positions.
func (s *KLL) coin() int { return int(s.rng.Uint64() >> 63) }

// makeRoom frees at least one slot below level 0. The buffer is normally
// s.capacity long; only a freshly decoded or new sketch is shorter, and it
// grows first.
func (s *KLL) makeRoom() {
	if len(s.items) < s.capacity {
		s.grow(s.capacity)
		return
	}
	s.compressOne()
}

// grow lengthens the buffer to newLen, moving the retained items to its end
// (free space stays at the front). Spare capacity for eight more levels is
// allocated at once, so a long stream reallocates only every ~256-fold
// growth of its count.
func (s *KLL) grow(newLen int) {
	old := len(s.items)
	shift := newLen - old
	used := s.items[s.levels[0]:old]
	if cap(s.items) >= newLen {
		s.items = s.items[:newLen]
		copy(s.items[int(s.levels[0])+shift:], used)
	} else {
		buf := make([]float64, newLen, max(newLen, s.totalCap(min(s.numLevels+8, kllMaxLevels))))
		copy(buf[int(s.levels[0])+shift:], used)
		s.items = buf
	}
	for h := 0; h <= s.numLevels; h++ {
		s.levels[h] += uint32(shift)
	}
}

// compressOne compacts the lowest level that is at or over its capacity,
// adding a level on top first if that is the top level. The buffer must be
// full (levels[0] == 0 and len(items) == capacity). This is
// DataSketches' compressWhileUpdatingSketch, in place, without scratch space.
func (s *KLL) compressOne() {
	h := 0
	for s.pop(h) < s.levelCap(h) {
		h++ // terminates: a full buffer has some level at capacity
	}
	if h == s.numLevels-1 {
		// The new level's capacity shifts every depth by one; the total
		// grows by the capacity of the new bottom depth.
		s.capacity += int(s.depthCap[s.numLevels])
		s.grow(s.capacity)
		s.levels[s.numLevels+1] = s.levels[s.numLevels]
		s.numLevels++
	}
	items := s.items
	rawBeg, rawEnd := int(s.levels[h]), int(s.levels[h+1])
	popAbove := int(s.levels[h+2]) - rawEnd
	if h == 0 {
		// Sorting all of level 0, not just the part that is compacted,
		// makes the leftover of an odd level its smallest item rather than
		// whichever arrived last: the order of level 0 is then never
		// observable, so it need not be encoded.
		slices.Sort(items[rawBeg:rawEnd])
	}
	odd := (rawEnd - rawBeg) & 1
	adjBeg := rawBeg + odd
	half := (rawEnd - adjBeg) / 2
	off := s.coin()
	if popAbove == 0 {
		// Halve up into [adjBeg+half, rawEnd), back to front.
		for i := half - 1; i >= 0; i-- {
			items[adjBeg+half+i] = items[adjBeg+2*i+off]
		}
	} else {
		// Halve down into [adjBeg, adjBeg+half), then merge with the level
		// above into [adjBeg+half, rawEnd+popAbove).
		for i := range half {
			items[adjBeg+i] = items[adjBeg+2*i+off]
		}
		mergeUp(items, adjBeg, half, rawEnd, popAbove)
	}
	s.levels[h+1] = uint32(rawEnd - half)
	s.levels[h] = s.levels[h+1] - uint32(odd)
	if odd == 1 {
		items[s.levels[h]] = items[rawBeg] // the leftover stays at level h
	}
	// Levels below h move up by half, into the space freed.
	if h > 0 {
		lo := int(s.levels[0])
		copy(items[lo+half:rawBeg+half], items[lo:rawBeg])
		for i := range h {
			s.levels[i] += uint32(half)
		}
	}
}

// mergeUp merges the sorted runs a = items[aBeg:aBeg+aLen] and
// b = items[bBeg:bBeg+bLen], where bBeg == aBeg+2*aLen, into
// items[aBeg+aLen:bBeg+bLen]. Writing front to back never overtakes an
// unread item of b, and once a is used up the rest of b is already in place.
func mergeUp(items []float64, aBeg, aLen, bBeg, bLen int) {
	i, aEnd := aBeg, aBeg+aLen
	j, bEnd := bBeg, bBeg+bLen
	o := aEnd
	for i < aEnd && j < bEnd {
		if items[j] < items[i] {
			items[o] = items[j]
			j++
		} else {
			items[o] = items[i]
			i++
		}
		o++
	}
	copy(items[o:], items[i:aEnd])
}
