package sketch

import (
	"fmt"
	"math"
	"math/bits"
)

// CountMin limits and defaults.
const (
	// DefaultCountMinEpsilon and DefaultCountMinDelta give the shape of the
	// zero value: 4096 columns by 5 rows (160 KiB), overestimating by at
	// most 0.066% of the stream total with probability 99.3%.
	DefaultCountMinEpsilon = 0.001
	DefaultCountMinDelta   = 0.01
	// MaxCountMinCounters caps width*depth (8 GiB of counters), so that a
	// typo in epsilon cannot take a machine down.
	MaxCountMinCounters = 1 << 30
	// MaxCountMinDepth caps the number of rows: 64 rows already give a
	// failure probability of e^-64, about 1.6e-28.
	MaxCountMinDepth = 64
)

// CountMin estimates how often each item occurs in a stream (Cormode and
// Muthukrishnan, "An improved data stream summary: the count-min sketch and
// its applications", J. Algorithms 55(1), 2005). A sketch of width w and
// depth d never underestimates a frequency f, and overestimates it by at most
// epsilon*N, epsilon = e/w, with probability at least 1-delta, delta = e^-d,
// where N is the sum of all weights added (their Theorem 1).
//
// Updates are conservative by default (Estan and Varghese, "New directions
// in traffic measurement and accounting", SIGCOMM 2002): an add raises each
// of the item's d counters only as far as the new minimum requires. Every
// counter stays at or below the one plain update would hold, so the bound
// above still holds, and on skewed streams the error is little more than
// half that of plain update (0.57 times its mean absolute error on a
// Zipf(1.1) stream). Plain update (SetConservative(false)) makes the sketch
// linear: a sketch of a whole stream then equals, byte for byte, the Merge of
// sketches of its parts.
//
// Queries answer at confidence 1-Delta (99.3% for the default shape), the
// sketch's own guarantee, rather than DefaultConfidence; EstimateHashAt
// answers at any other.
//
// Counters are uint64 and saturate at math.MaxUint64 rather than wrap, as
// does the total.
//
// The zero value is an empty, conservative sketch of the default shape
// (DefaultCountMinEpsilon, DefaultCountMinDelta), which allocates its
// counters on first use. A CountMin is not safe for concurrent use.
type CountMin struct {
	counts []uint64 // depth rows of width counters, row-major
	total  uint64   // N, the sum of all weights added
	plain  bool     // plain update instead of conservative
	width  int
	depth  int
	shift  uint    // log2(width): bits of hash per row
	mask   uint64  // width - 1
	per    int     // rows served by one 64-bit word of mixed hash
	eps    float64 // e/width
	conf   float64 // 1 - e^-depth
}

// NewCountMin returns an empty, conservative CountMin that overestimates any
// frequency by at most epsilon*N with probability at least 1-delta, both in
// (0, 1). Its width is the smallest power of two >= e/epsilon and its depth
// ceil(ln(1/delta)); Epsilon and Delta report the (never worse) guarantee
// that shape gives.
func NewCountMin(epsilon, delta float64) (*CountMin, error) {
	if !(epsilon > 0 && epsilon < 1) {
		return nil, fmt.Errorf("sketch: CountMin epsilon %v outside (0, 1): %w", epsilon, ErrInvalidParameter)
	}
	if !(delta > 0 && delta < 1) {
		return nil, fmt.Errorf("sketch: CountMin delta %v outside (0, 1): %w", delta, ErrInvalidParameter)
	}
	// The relative slack keeps e.g. epsilon = e/4096 at width 4096 and
	// delta = e^-5 at depth 5 despite rounding in the division and log.
	const slack = 1 - 1e-12
	cols := math.Ceil(math.E / epsilon * slack)
	rows := math.Max(1, math.Ceil(-math.Log(delta)*slack))
	if rows > MaxCountMinDepth {
		return nil, fmt.Errorf("sketch: CountMin delta %v needs depth %.0f, more than %d: raise delta: %w", delta, rows, MaxCountMinDepth, ErrInvalidParameter)
	}
	if cols*rows > MaxCountMinCounters {
		return nil, fmt.Errorf("sketch: CountMin epsilon %v and delta %v need at least %.3g counters, more than %d (8 GiB): raise epsilon or delta: %w",
			epsilon, delta, cols*rows, MaxCountMinCounters, ErrInvalidParameter)
	}
	w := 1 << bits.Len64(uint64(cols)-1)
	return NewCountMinWidthDepth(w, int(rows))
}

// NewCountMinWidthDepth returns an empty, conservative CountMin of the given
// shape: width a power of two (columns index by mask), depth in
// [1, MaxCountMinDepth], width*depth at most MaxCountMinCounters.
func NewCountMinWidthDepth(width, depth int) (*CountMin, error) {
	if err := checkCountMinShape(uint64(width), uint64(depth)); err != nil {
		if width <= 0 || depth <= 0 {
			return nil, fmt.Errorf("sketch: CountMin width %d and depth %d must be positive: %w", width, depth, ErrInvalidParameter)
		}
		return nil, fmt.Errorf("%v: %w", err, ErrInvalidParameter)
	}
	c := &CountMin{}
	c.setShape(width, depth)
	c.counts = make([]uint64, width*depth)
	return c, nil
}

// checkCountMinShape reports why a shape is unusable, without a sentinel.
func checkCountMinShape(w, d uint64) error {
	switch {
	case w == 0:
		return fmt.Errorf("sketch: CountMin width 0: the width must be a power of two >= 1")
	case w > MaxCountMinCounters:
		return fmt.Errorf("sketch: CountMin width %d exceeds %d", w, MaxCountMinCounters)
	case w&(w-1) != 0:
		return fmt.Errorf("sketch: CountMin width %d is not a power of two (try %d)", w, uint64(1)<<bits.Len64(w))
	case d == 0 || d > MaxCountMinDepth:
		return fmt.Errorf("sketch: CountMin depth %d outside [1, %d]", d, MaxCountMinDepth)
	case w*d > MaxCountMinCounters:
		return fmt.Errorf("sketch: CountMin width %d times depth %d is %d counters, more than %d (8 GiB): lower the width or depth", w, d, w*d, MaxCountMinCounters)
	}
	return nil
}

func (c *CountMin) setShape(width, depth int) {
	c.width, c.depth = width, depth
	c.shift = uint(bits.TrailingZeros64(uint64(width)))
	c.mask = uint64(width) - 1
	c.eps, c.conf = math.E/float64(width), -math.Expm1(-float64(depth))
	c.per = MaxCountMinDepth // width 1 uses no hash bits at all
	if c.shift > 0 {
		c.per = 64 / int(c.shift)
	}
}

// init gives the zero value its default shape.
func (c *CountMin) init() {
	if c.width == 0 {
		c.setShape(4096, 5) // NewCountMin(DefaultCountMinEpsilon, DefaultCountMinDelta)
	}
	if c.counts == nil {
		c.counts = make([]uint64, c.width*c.depth)
	}
}

// shaped gives the zero value its default shape without allocating.
func (c *CountMin) shaped() *CountMin {
	if c.width == 0 {
		c.setShape(4096, 5)
	}
	return c
}

// Width returns the number of counters per row.
func (c *CountMin) Width() int { return c.shaped().width }

// Depth returns the number of rows.
func (c *CountMin) Depth() int { return c.shaped().depth }

// Epsilon returns e/Width: with probability 1-Delta an estimate exceeds the
// truth by at most Epsilon*Total.
func (c *CountMin) Epsilon() float64 { return c.shaped().eps }

// Delta returns e^-Depth, the probability that an estimate exceeds the truth
// by more than Epsilon*Total.
func (c *CountMin) Delta() float64 { return math.Exp(-float64(c.Depth())) }

// Total returns N, the sum of all weights added (saturating).
func (c *CountMin) Total() uint64 { return c.total }

// Conservative reports whether adds use conservative update (the default).
func (c *CountMin) Conservative() bool { return !c.plain }

// SetConservative chooses conservative (true, the default) or plain update
// for later adds. Switching mid-stream is allowed: every counter still lies
// between the truth and the plain-update counter, so the bounds hold.
func (c *CountMin) SetConservative(on bool) { c.plain = !on }

// Reset empties the sketch, keeping its shape and update mode.
func (c *CountMin) Reset() {
	clear(c.counts)
	c.total = 0
}

// Clone returns an independent copy of c.
func (c *CountMin) Clone() *CountMin {
	d := *c
	if c.counts != nil {
		d.counts = append([]uint64(nil), c.counts...)
	}
	return &d
}

// Row indexes.
//
// Each row's column is a disjoint log2(width)-bit field of a mixed hash, so
// the rows of one item are independent whenever the hash bits are (the model
// behind the e^-d bound), and a mask replaces the modulo. The default shape
// needs 5*12 = 60 bits: one word. Wider or deeper sketches draw further words
// from the SplitMix64 sequence seeded with the hash (Steele et al.,
// "Fast splittable pseudorandom number generators", OOPSLA 2014).
//
// We do not use Kirsch and Mitzenmacher's h1 + i*h2: with a power-of-two
// width, two items whose h1 and h2 agree modulo the width collide in every
// row, so an all-row collision has probability about 1/w^2 instead of 1/w^d,
// and forcing h2 odd makes the difference of two h2s even, which couples
// rows further.
//
// The hash is mixed first because the pipeline uses the same xxhash to
// partition and to shed by key: inside one partition some hash bits are
// constant, and slicing the raw hash would leave part of each row unused.

const golden = 0x9e3779b97f4a7c15 // 2^64 / phi, SplitMix64's increment

// mix64 is SplitMix64's output function (Stafford's "Mix13" variant of
// MurmurHash3's finalizer): a bijection with full avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// nextWord returns word k >= 1 of the SplitMix64 sequence seeded with h;
// word 0 is mix64(h + golden). Callers slice it into row columns.
//
//go:noinline
func nextWord(h uint64, k int) uint64 { return mix64(h + uint64(k+1)*golden) }

// satAdd returns a+b, or math.MaxUint64 if that overflows.
func satAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	return s | -carry
}

// AddHash adds count occurrences of the item with 64-bit hash h (see Hash).
// It does not allocate, except once on a zero value.
func (c *CountMin) AddHash(h, count uint64) {
	if c.counts == nil {
		c.init()
	}
	c.total = satAdd(c.total, count)
	if c.plain {
		c.addPlain(h, count)
	} else {
		c.addConservative(h, count)
	}
}

// Add adds count occurrences of the item b.
func (c *CountMin) Add(b []byte, count uint64) { c.AddHash(Hash(b), count) }

// AddString adds count occurrences of the item s.
func (c *CountMin) AddString(s string, count uint64) { c.AddHash(HashString(s), count) }

func (c *CountMin) addPlain(h, count uint64) {
	counts, w, mask, shift, per := c.counts, c.width, c.mask, c.shift, c.per
	x, word, left := mix64(h+golden), 0, per
	for base := 0; base < len(counts); base += w {
		if left == 0 {
			word++
			x, left = nextWord(h, word), per
		}
		j := base + int(x&mask)
		x >>= shift
		left--
		counts[j] = satAdd(counts[j], count)
	}
}

// addConservative sets each of the item's counters to max(counter, m+count),
// m the item's current estimate: the least change that keeps every counter
// at or above the item's true frequency.
func (c *CountMin) addConservative(h, count uint64) {
	if c.depth > len(cuColumns{}) {
		c.addConservativeDeep(h, count)
		return
	}
	// Remember the columns of pass 1 for pass 2: recomputing them costs
	// about a fifth of the update.
	var cols cuColumns
	counts, w, mask, shift, per := c.counts, c.width, c.mask, c.shift, c.per
	m := uint64(math.MaxUint64)
	x, word, left, n := mix64(h+golden), 0, per, 0
	for base := 0; base < len(counts); base += w {
		if left == 0 {
			word++
			x, left = nextWord(h, word), per
		}
		j := base + int(x&mask)
		x >>= shift
		left--
		m = min(m, counts[j])
		cols[n&(len(cols)-1)] = j
		n++
	}
	v := satAdd(m, count)
	for _, j := range cols[:n] {
		counts[j] = max(counts[j], v) // a store without a branch to mispredict
	}
}

// cuColumns holds the columns of one conservative update of a sketch of
// depth at most 8 (delta down to e^-8 = 3.4e-4); deeper ones recompute them.
type cuColumns [8]int

// addConservativeDeep is addConservative for depth > 8.
func (c *CountMin) addConservativeDeep(h, count uint64) {
	counts, w, mask, shift, per := c.counts, c.width, c.mask, c.shift, c.per
	x0 := mix64(h + golden)
	// Pass 1: the estimate m.
	m := uint64(math.MaxUint64)
	x, word, left := x0, 0, per
	for base := 0; base < len(counts); base += w {
		if left == 0 {
			word++
			x, left = nextWord(h, word), per
		}
		m = min(m, counts[base+int(x&mask)])
		x >>= shift
		left--
	}
	// Pass 2: raise the same counters to at least m+count.
	v := satAdd(m, count)
	x, word, left = x0, 0, per
	for base := 0; base < len(counts); base += w {
		if left == 0 {
			word++
			x, left = nextWord(h, word), per
		}
		j := base + int(x&mask)
		x >>= shift
		left--
		counts[j] = max(counts[j], v) // a store without a branch to mispredict
	}
}

// min returns the smallest of the item's counters: the point estimate.
func (c *CountMin) min(h uint64) uint64 {
	counts, w, mask, shift, per := c.counts, c.width, c.mask, c.shift, c.per
	if counts == nil {
		return 0
	}
	m := uint64(math.MaxUint64)
	x, word, left := mix64(h+golden), 0, per
	for base := 0; base < len(counts); base += w {
		if left == 0 {
			word++
			x, left = nextWord(h, word), per
		}
		m = min(m, counts[base+int(x&mask)])
		x >>= shift
		left--
	}
	return m
}

// EstimateHash returns the frequency of the item with hash h, with bounds at
// confidence 1-Delta. See EstimateHashAt.
func (c *CountMin) EstimateHash(h uint64) Estimate {
	c.shaped()
	return c.bounds(c.min(h), c.eps, c.conf)
}

// Estimate returns the frequency of the item b; see EstimateHash.
func (c *CountMin) Estimate(b []byte) Estimate { return c.EstimateHash(Hash(b)) }

// EstimateString returns the frequency of the item s; see EstimateHash.
func (c *CountMin) EstimateString(s string) Estimate { return c.EstimateHash(HashString(s)) }

// EstimateHashAt returns the frequency of the item with hash h, with bounds
// at the given confidence in (0, 1).
//
// Value is the smallest of the item's d counters, and Upper equals it: every
// counter holds at least the item's true frequency f, always. Lower comes
// from Cormode and Muthukrishnan's argument (2005, Theorem 1), with two
// refinements that cost nothing. The excess X_i = c_i - f of row i counts
// only the other items, so E[X_i] <= (N-f)/w, and Markov's inequality on d
// independent rows gives P(min X_i > t) <= ((N-f)/(w t))^d = alpha for
// t = (N-f)/(w alpha^(1/d)), alpha = 1-confidence. With k = 1/(w alpha^(1/d))
// the truth therefore satisfies f >= (Value - k N)/(1 - k): at alpha = e^-d,
// k = e/w = Epsilon, the classical value - epsilon*N divided by 1-epsilon.
// Conservative update (and any mix of plain and conservative sketches
// merged) keeps every counter between f and the plain counter, so its
// smaller Value makes the same bound tighter.
//
// A zero counter proves the item absent: the estimate is then exactly 0.
func (c *CountMin) EstimateHashAt(h uint64, confidence float64) Estimate {
	checkConfidence(confidence)
	k := 1 / (float64(c.Width()) * math.Pow(1-confidence, 1/float64(c.Depth())))
	return c.bounds(c.min(h), k, confidence)
}

// EstimateAt returns the frequency of the item b at the given confidence;
// see EstimateHashAt.
func (c *CountMin) EstimateAt(b []byte, confidence float64) Estimate {
	return c.EstimateHashAt(Hash(b), confidence)
}

// EstimateStringAt returns the frequency of the item s at the given
// confidence; see EstimateHashAt.
func (c *CountMin) EstimateStringAt(s string, confidence float64) Estimate {
	return c.EstimateHashAt(HashString(s), confidence)
}

// bounds turns a point estimate v into an Estimate, given the slack k of
// EstimateHashAt.
func (c *CountMin) bounds(v uint64, k, confidence float64) Estimate {
	if v == 0 {
		return Estimate{Confidence: confidence, Exact: true}
	}
	val, n := float64(v), float64(c.total)
	e := Estimate{Value: val, Upper: val, Confidence: confidence}
	if v == math.MaxUint64 { // saturated: the truth may be larger
		e.Upper = math.Inf(1)
	}
	if k < 1 {
		// v <= N (every row sums to at most N), so Lower <= Value.
		e.Lower = min(val, max(0, math.Ceil((val-k*n)/(1-k))))
	}
	return e
}

// Merge adds the counters of o to c, so that c estimates frequencies over
// both streams. Both must have the same width and depth, or Merge returns an
// error wrapping ErrIncompatible and leaves c unchanged. The update modes may
// differ: c keeps its own, and the bounds hold for the result. For plain
// sketches the result equals, byte for byte, a sketch of the concatenated
// streams. o is not modified; a nil o is an empty sketch.
func (c *CountMin) Merge(o *CountMin) error {
	if o == nil {
		return nil
	}
	if c.Width() != o.Width() || c.Depth() != o.Depth() {
		return fmt.Errorf("sketch: CountMin merge of %dx%d into %dx%d (width x depth): build both with the same epsilon and delta: %w",
			o.Width(), o.Depth(), c.Width(), c.Depth(), ErrIncompatible)
	}
	if o.counts == nil {
		return nil
	}
	c.init()
	dst := c.counts
	for i, x := range o.counts[:len(dst)] {
		dst[i] = satAdd(dst[i], x)
	}
	c.total = satAdd(c.total, o.total)
	return nil
}
