package shedding

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/streamstat/streamstat/internal/hashmix"
	"github.com/streamstat/streamstat/internal/normal"
	"github.com/streamstat/streamstat/internal/quickselect"
	"github.com/streamstat/streamstat/sketch"
)

// ThetaDistinct limits and defaults. Memory is at most 2k hashes of 8
// bytes (64 KiB for the default k), and the relative standard error of a
// full sketch is about 1/sqrt(k) (1.6% for the default).
const (
	DefaultThetaK = 4096
	MinThetaK     = 16
	MaxThetaK     = 1 << 26
)

// ThetaDistinct counts distinct keys from the records that key-hash
// shedding kept, with a keep probability that changes over time. It is a
// theta sketch (Dasgupta, Lang, Rhodes and Thaler, "A framework for
// estimating stream expression cardinalities", ICDT 2016; the QuickSelect
// theta sketch of Apache DataSketches): a set of key hashes, all those
// seen below a threshold theta, and the estimate |set|/theta.
//
// # Why theta is the smallest p
//
// Key-hash shedding at p keeps a record iff its key hash h is below
// p·2^64. When p changes over time, a key is kept at every appearance iff
// h < min_t p_t·2^64 over every p ever in force, and a key with a larger
// hash may have been dropped at some of its appearances, or all. So the
// keys with h below theta = min_t p_t are exactly those seen at all, and
// since h is uniform, independent of the key's arrival times, they are a
// uniform hash sample at rate theta of the distinct keys: |set|/theta is
// unbiased (Horvitz–Thompson with inclusion probability theta), whatever
// the sequence of p. Keys with larger hashes are discarded: they were kept
// by luck of timing, and counting them would bias the estimate.
//
// AddHashP lowers theta to the p each kept record carries. An epoch in
// which every record was shed leaves no record to carry its p, so also
// call LowerTheta with the smallest p of every shedder feeding the sketch
// (Summary.MinP) before estimating.
//
// # Bounded memory
//
// When more than 3k/2 hashes are held, theta drops to the (k+1)-th smallest
// and the k below it are kept: the K-minimum-values estimator k/U_(k+1)
// (Bar-Yossef et al., RANDOM 2002; Beyer et al., SIGMOD 2007), unbiased,
// and still of the form |set|/theta, which composes with the shedding
// threshold and with Merge (theta = the smaller of the two, Dasgupta et
// al. Sect. 3).
//
// # Bounds
//
// |set| is Binomial(N, theta) for a fixed theta, and close to it at the
// KMV threshold; the bounds are the Wilson-type interval for N of
// WeightedCount at constant p, with DataSketches' binomial bounds
// (BinomialBoundsN) as the model. The coverage tests check them at 95%.
//
// The zero value is an empty sketch with DefaultThetaK, ready to use. A
// ThetaDistinct is not safe for concurrent use.
type ThetaDistinct struct {
	k     int      // 0 in the zero value: DefaultThetaK
	theta uint64   // when cut, the set is every hash seen below theta
	cut   bool     // theta < 1
	table []uint64 // open addressing, linear probing; 0 marks an empty slot
	shift uint8    // 64 - log2(len(table))
	salt  uint64   // 0: slot by multiplication; else by fmix64(h^salt) (see home)
	n     int      // hashes in table
	zero  bool     // hash 0 is held (it cannot live in the table)

	lastP   float32 // AddHashP's last keep probability, already applied
	scratch []uint64
	// recent caches hashes added by Distinct.Process, by their low bits
	// (0: empty): one below theta is held in the table, for the table
	// drops only hashes at or above theta, and Reset and decoding clear
	// the cache. A key's repeats (a Zipf stream's head) are then found
	// in these 4 KiB rather than in the table, up to 256 times larger.
	recent [recentLen]uint64
}

const recentLen = 512

// NewThetaDistinct returns an empty sketch that keeps between k and 3k/2
// hashes once full; k must be a power of two in [MinThetaK, MaxThetaK].
func NewThetaDistinct(k int) (*ThetaDistinct, error) {
	if err := checkThetaK(uint64(k)); err != nil {
		return nil, err
	}
	return &ThetaDistinct{k: k}, nil
}

func checkThetaK(k uint64) error {
	if k < MinThetaK || k > MaxThetaK || k&(k-1) != 0 {
		return fmt.Errorf("shedding: ThetaDistinct k %d must be a power of two in [%d, %d]: %w", k, MinThetaK, MaxThetaK, ErrInvalidParameter)
	}
	return nil
}

// K returns the nominal number of hashes kept.
func (t *ThetaDistinct) K() int {
	if t.k == 0 {
		return DefaultThetaK
	}
	return t.k
}

// limit is the number of hashes at which the sketch shrinks to k.
func (t *ThetaDistinct) limit() int { return t.K() * 3 / 2 }

// Retained returns the number of hashes held.
func (t *ThetaDistinct) Retained() int {
	if t.zero {
		return t.n + 1
	}
	return t.n
}

// Theta returns the sampling rate of the set: 1 while every distinct key
// seen is held.
func (t *ThetaDistinct) Theta() float64 {
	if !t.cut {
		return 1
	}
	return float64(t.theta) * 0x1p-64
}

// AddHash adds the key with hash h, from a record that was not subject to
// shedding or was kept by key-hash shedding at a p already applied. It
// allocates only while the table grows, never once it holds 3k/2 hashes.
func (t *ThetaDistinct) AddHash(h uint64) {
	if t.cut && h >= t.theta {
		return
	}
	if h == 0 {
		if t.zero {
			return
		}
		t.zero = true
	} else if !t.insert(h) {
		return
	}
	if t.Retained() >= t.limit() {
		t.shrink()
	} else if t.n > len(t.table)*3/4 {
		t.resize(2 * len(t.table))
	}
}

// AddHashP adds the key with hash h from a record kept by key-hash
// shedding at keepP (Record.KeepP; 0 means not shed): theta drops to keepP
// first if it is smaller.
func (t *ThetaDistinct) AddHashP(h uint64, keepP float32) {
	if keepP != t.lastP && keepP > 0 && keepP < 1 {
		t.lastP = keepP
		t.lowerTheta(max(threshold(float64(keepP)), 1))
	}
	t.AddHash(h)
}

// LowerTheta lowers theta to p if p is smaller: call it with the smallest
// keep probability in force while the stream was shed (Summary.MinP of
// every shedder feeding the sketch), since epochs that kept nothing told
// the sketch nothing. p >= 1 changes nothing; p must be positive.
func (t *ThetaDistinct) LowerTheta(p float64) error {
	switch {
	case p >= 1:
		return nil
	case !(p > 0):
		return fmt.Errorf("shedding: ThetaDistinct theta %v must be positive: %w", p, ErrInvalidParameter)
	}
	t.lowerTheta(max(threshold(p), 1))
	return nil
}

// lowerTheta sets theta to th (>= 1) if that is lower, and drops the
// hashes at or above it.
func (t *ThetaDistinct) lowerTheta(th uint64) {
	if t.cut && th >= t.theta {
		return
	}
	t.theta, t.cut = th, true
	t.rebuild(func(h uint64) bool { return h < th }, len(t.table))
}

// insert puts h (non-zero) in the table and reports whether it was new.
func (t *ThetaDistinct) insert(h uint64) bool {
	if t.table == nil {
		t.resize(16)
	}
	mask := uint64(len(t.table) - 1)
	for i := t.home(h); ; i = (i + 1) & mask {
		switch t.table[i] {
		case h:
			return false
		case 0:
			t.table[i] = h
			t.n++
			return true
		}
	}
}

// home returns the slot where the search for h starts. Hashes of keys
// (xxhash) are spread evenly by Fibonacci hashing, the fast default. Hashes
// read from an encoding may have been crafted to share a slot, which would
// make linear probing quadratic: a decoded table that probes too much is
// rebuilt with a salt the input could not foresee (see UnmarshalBinary),
// and slots come from the fmix64 mixer keyed by that salt.
func (t *ThetaDistinct) home(h uint64) uint64 {
	if t.salt != 0 {
		return hashmix.Fmix64(h^t.salt) >> t.shift
	}
	return (h * 0x9e3779b97f4a7c15) >> t.shift
}

// resize rehashes the table into size slots (a power of two).
func (t *ThetaDistinct) resize(size int) {
	t.rebuild(func(uint64) bool { return true }, size)
}

// rebuild keeps the table hashes for which keep holds, in a table of size
// slots. Slot order is not state: the encoding sorts.
func (t *ThetaDistinct) rebuild(keep func(uint64) bool, size int) {
	t.scratch = t.scratch[:0]
	for _, h := range t.table {
		if h != 0 && keep(h) {
			t.scratch = append(t.scratch, h)
		}
	}
	if t.zero && !keep(0) {
		t.zero = false
	}
	if size != len(t.table) {
		t.table = make([]uint64, size)
		t.shift = uint8(64 - bits.TrailingZeros(uint(size)))
	} else {
		clear(t.table)
	}
	t.n = 0
	for _, h := range t.scratch {
		t.insert(h)
	}
}

// shrink drops theta to the (k+1)-th smallest hash held, keeping the k
// below it: the KMV step.
func (t *ThetaDistinct) shrink() {
	k := t.K()
	all := t.scratch[:0]
	if t.zero {
		all = append(all, 0)
	}
	for _, h := range t.table {
		if h != 0 {
			all = append(all, h)
		}
	}
	t.scratch = all
	th := quickselect.Select(all, k)
	// Hashes are distinct, so exactly k lie below th.
	if size := 2 * k; len(t.table) < size {
		t.resize(size)
	}
	t.lowerTheta(th)
}

// Estimate returns the number of distinct keys offered (before shedding)
// with bounds at sketch.DefaultConfidence; see EstimateAt.
func (t *ThetaDistinct) Estimate() sketch.Estimate { return t.EstimateAt(sketch.DefaultConfidence) }

// EstimateAt returns the number of distinct keys offered, with bounds at
// the given confidence in (0, 1): exact while theta is 1, else
// Retained/Theta with the interval described under Bounds.
func (t *ThetaDistinct) EstimateAt(confidence float64) sketch.Estimate {
	checkConfidence(confidence)
	r := float64(t.Retained())
	if !t.cut {
		return sketch.Estimate{Value: r, Lower: r, Upper: r, Confidence: confidence, Exact: true}
	}
	th := t.Theta()
	v := r / th
	lo, hi := normal.WilsonBounds(r, v, (1-th)/th, normal.Z(confidence), 0.5/th)
	return sketch.Estimate{Value: v, Lower: lo, Upper: hi, Confidence: confidence}
}

// Merge adds o's keys to t: theta becomes the smaller of the two, and t
// holds the union of the hashes below it, as a sketch of both streams
// would. The nominal sizes may differ: t keeps its own. o is not modified;
// a nil o is an empty sketch.
func (t *ThetaDistinct) Merge(o *ThetaDistinct) error {
	if o == nil || o == t {
		return nil
	}
	if o.salt != 0 && t.salt == 0 {
		// o was decoded from bytes whose hashes crowded one slot: do not
		// take them into a table they could crowd in turn.
		t.salt = hashmix.SplitMix64(o.salt) | 1
		t.resize(max(len(t.table), 16))
	}
	if t.n == 0 && !t.zero && !t.cut && t.salt == 0 && o.salt == 0 && t.K() == o.K() && len(o.table) > 0 {
		// An empty t takes o's table as it is: adding o's hashes one by
		// one gives the same set and theta (o holds fewer than the limit),
		// with a probe into a growing table for each. (An answer merges
		// the workers' sketches into an empty one: at k = 2^14 the first
		// merge cost distinct --shed 3% of its CPU.)
		t.table = append(t.table[:0], o.table...)
		t.shift, t.n, t.zero, t.theta, t.cut = o.shift, o.n, o.zero, o.theta, o.cut
		return nil
	}
	if o.cut {
		t.lowerTheta(o.theta)
	}
	if o.zero {
		t.AddHash(0)
	}
	for _, h := range o.table {
		if h != 0 {
			t.AddHash(h)
		}
	}
	return nil
}

// Reset empties t, keeping its k and its memory.
func (t *ThetaDistinct) Reset() {
	clear(t.table)
	clear(t.recent[:])
	t.n, t.zero, t.cut, t.theta, t.lastP = 0, false, false, 0, 0
}

// Clone returns an independent copy of t.
func (t *ThetaDistinct) Clone() *ThetaDistinct {
	c := *t
	c.table = slices.Clone(t.table)
	c.scratch = nil
	return &c
}

// sorted returns the hashes held, in increasing order, in t.scratch.
func (t *ThetaDistinct) sorted() []uint64 {
	s := t.scratch[:0]
	if t.zero {
		s = append(s, 0)
	}
	for _, h := range t.table {
		if h != 0 {
			s = append(s, h)
		}
	}
	slices.Sort(s)
	t.scratch = s
	return s
}
