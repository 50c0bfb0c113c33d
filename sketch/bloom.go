package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/internal/normal"
)

// Bloom filter limits.
const (
	// MaxBloomBits caps m at 2^35 bits (4 GiB): enough for 3.5e9 items at a
	// 1% false-positive rate. Larger filters are refused rather than left to
	// fail an allocation; split the key space (by hash) across filters instead.
	MaxBloomBits = 1 << 35
	// MaxBloomK caps the number of bit positions per item. Positions come
	// from one 64-bit hash, so no filter can promise a false-positive rate
	// below 2^-64, which is what k = 64 already gives.
	MaxBloomK = 64
)

// strideMul is the odd constant ⌊2^64/φ⌋ (Fibonacci hashing) that scrambles
// the stride; see Bloom.
const strideMul = 0x9E3779B97F4A7C15

// Bloom answers "was this item probably seen before?" in m bits: a Bloom
// filter with k bit positions per item. It never forgets an item it was
// given (no false negatives); it may claim one it was not (a false positive,
// at a rate EstimatedFPRate reports).
//
// The bits live in a github.com/bits-and-blooms/bloom/v3 BloomFilter (its
// bitset is the storage, and merging, clearing and comparing are its), but
// the bit positions are ours: bloom/v3's Add would hash the bytes again with
// murmur3, and every streamstat record is hashed once, with xxhash, at
// ingress. So the positions of an item with hash h are derived from h alone
// by double hashing (Kirsch & Mitzenmacher, "Less hashing, same
// performance: building a better Bloom filter", Random Structures &
// Algorithms 33(2), 2008):
//
//	g_i = h1 + i·h2 (mod 2^64), position_i = ⌊g_i · m / 2^64⌋, i < k
//	h1 = h, h2 = rotl64(h·0x9E3779B97F4A7C15, 32)
//
// The reduction to [0, m) takes the top bits of g_i with one multiply
// (Lemire, "Fast random integer generation in an interval", 2019) instead
// of a 64-bit division per position, and works for any m up to MaxBloomBits
// (a 32-bit split of h would leave filters above 2^32 bits unreachable).
// The start position comes from the top bits of h; the top half of the
// stride h2 is a bijective scramble of the low half of h, which the start
// position ignores while m ≤ 2^32, so start and stride are independent and
// each position is uniform. Kirsch & Mitzenmacher show the false-positive
// rate then tends to that of k independent hashes, (1-e^(-kn/m))^k (their
// argument is for arithmetic modulo a prime m; taking an arithmetic
// progression on the circle of 2^64 and scaling it to m behaves the same
// way). The extra term is an item whose start and stride both land within
// a bit of an inserted item's, of order n/m² per query (1e-8 at the
// design point of a 1e6-item filter), far below any useful rate. The measured rate
// at n = 1e6 is within 2% of the target at 1% and 0.1% (see the tests).
//
// The zero value has no bits: Test reports false and Add panics. Make
// filters with NewBloom or NewBloomMK, or decode one with UnmarshalBinary.
// A Bloom is not safe for concurrent use.
type Bloom struct {
	f *bloom.BloomFilter
	// words aliases f's bitset words. The hot path indexes them directly:
	// bitset.Set is not inlinable (it carries the grow-on-demand path, which
	// positions below m never take) and doubles the cost of AddHash.
	words []uint64
	m     uint64
	k     uint32
}

// NewBloom returns an empty filter sized for n distinct items at a
// false-positive rate of fpRate, in (0, 1), once all n are in. It uses
// bloom/v3's EstimateParameters: m = ⌈-n ln p / ln² 2⌉ bits and
// k = ⌈m/n · ln 2⌉ positions per item (9.6 bits and k = 7 per item at 1%,
// 14.4 bits and k = 10 at 0.1%).
func NewBloom(n uint64, fpRate float64) (*Bloom, error) {
	if n == 0 {
		return nil, fmt.Errorf("sketch: Bloom for 0 items; size it for at least 1: %w", ErrInvalidParameter)
	}
	if !(fpRate > 0 && fpRate < 1) {
		return nil, fmt.Errorf("sketch: Bloom false-positive rate %v outside (0, 1): %w", fpRate, ErrInvalidParameter)
	}
	// Check the size in floating point first: EstimateParameters would
	// overflow uint silently.
	if mf := -float64(n) * math.Log(fpRate) / (math.Ln2 * math.Ln2); mf > MaxBloomBits {
		return nil, fmt.Errorf("sketch: Bloom for %d items at rate %v needs %.3g bits (%.0f MiB), more than MaxBloomBits (%d MiB); raise the rate or split the key space across filters: %w",
			n, fpRate, mf, mf/8/(1<<20), MaxBloomBits/8/(1<<20), ErrInvalidParameter)
	}
	m, k := bloom.EstimateParameters(uint(n), fpRate)
	if k > MaxBloomK {
		return nil, fmt.Errorf("sketch: Bloom false-positive rate %v needs %d hash positions, more than %d: a 64-bit hash cannot support a rate below 2^-64: %w",
			fpRate, k, MaxBloomK, ErrInvalidParameter)
	}
	return NewBloomMK(uint64(m), int(k))
}

// NewBloomMK returns an empty filter of m bits, in [1, MaxBloomBits], that
// sets k bits per item, in [1, MaxBloomK]. For n items it will have a
// false-positive rate of about (1-e^(-kn/m))^k, lowest at k = m/n · ln 2.
func NewBloomMK(m uint64, k int) (*Bloom, error) {
	if k < 0 {
		return nil, fmt.Errorf("sketch: Bloom k = %d is negative: %w", k, ErrInvalidParameter)
	}
	if err := checkBloomShape(m, uint64(k)); err != nil {
		return nil, fmt.Errorf("sketch: Bloom %v: %w", err, ErrInvalidParameter)
	}
	f := bloom.New(uint(m), uint(k))
	// bitset.New answers an allocation failure with an empty set instead
	// of a panic: check we got the bits we asked for.
	if words := f.BitSet().Words(); uint64(len(words)) != bloomWords(m) {
		return nil, fmt.Errorf("sketch: Bloom of %d bits: could not allocate %d MiB: %w", m, bloomWords(m)*8>>20, ErrInvalidParameter)
	}
	return newBloomFrom(f), nil
}

func newBloomFrom(f *bloom.BloomFilter) *Bloom {
	return &Bloom{f: f, words: f.BitSet().Words(), m: uint64(f.Cap()), k: uint32(f.K())}
}

// checkBloomShape reports whether m and k are in range; callers wrap its
// error with the sentinel they need.
func checkBloomShape(m, k uint64) error {
	if m < 1 || m > MaxBloomBits || uint64(uint(m)) != m {
		return fmt.Errorf("m = %d bits outside [1, %d]", m, uint64(MaxBloomBits))
	}
	if k < 1 || k > MaxBloomK {
		return fmt.Errorf("k = %d outside [1, %d]", k, MaxBloomK)
	}
	return nil
}

// bloomWords is the number of 64-bit words that hold m bits.
func bloomWords(m uint64) uint64 { return (m + 63) / 64 }

// bloomStride derives the double-hashing stride h2 from the item hash h.
func bloomStride(h uint64) uint64 { return bits.RotateLeft64(h*strideMul, 32) }

// bloomPos maps g uniformly onto [0, m): ⌊g·m/2^64⌋.
func bloomPos(g, m uint64) uint64 {
	p, _ := bits.Mul64(g, m)
	return p
}

// AddHash adds the item whose xxhash (see Hash) is h. It does not allocate.
func (b *Bloom) AddHash(h uint64) {
	if b.k == 0 {
		panic("sketch: Add on a zero Bloom; create it with NewBloom")
	}
	w, m, step := b.words, b.m, bloomStride(h)
	for range b.k {
		p := bloomPos(h, m)
		w[p>>6] |= 1 << (p & 63)
		h += step
	}
}

// TestHash reports whether the item whose xxhash is h is probably in the
// filter: false means certainly not. It does not allocate.
func (b *Bloom) TestHash(h uint64) bool {
	if b.k == 0 {
		return false
	}
	w, m, step := b.words, b.m, bloomStride(h)
	for range b.k {
		p := bloomPos(h, m)
		if w[p>>6]&(1<<(p&63)) == 0 {
			return false
		}
		h += step
	}
	return true
}

// TestAndAddHash adds the item whose xxhash is h and reports whether it was
// probably present before: the one call a deduplicator needs ("drop it if
// seen, remember it either way"). It does not allocate.
func (b *Bloom) TestAndAddHash(h uint64) bool {
	if b.k == 0 {
		panic("sketch: Add on a zero Bloom; create it with NewBloom")
	}
	w, m, step := b.words, b.m, bloomStride(h)
	present := true
	for range b.k {
		p := bloomPos(h, m)
		bit := uint64(1) << (p & 63)
		present = present && w[p>>6]&bit != 0
		w[p>>6] |= bit
		h += step
	}
	return present
}

// Add adds the item data.
func (b *Bloom) Add(data []byte) { b.AddHash(Hash(data)) }

// AddString adds the item s.
func (b *Bloom) AddString(s string) { b.AddHash(HashString(s)) }

// Test reports whether the item data is probably in the filter.
func (b *Bloom) Test(data []byte) bool { return b.TestHash(Hash(data)) }

// TestString reports whether the item s is probably in the filter.
func (b *Bloom) TestString(s string) bool { return b.TestHash(HashString(s)) }

// TestAndAdd is TestAndAddHash for the item data.
func (b *Bloom) TestAndAdd(data []byte) bool { return b.TestAndAddHash(Hash(data)) }

// TestAndAddString is TestAndAddHash for the item s.
func (b *Bloom) TestAndAddString(s string) bool { return b.TestAndAddHash(HashString(s)) }

// Cap returns m, the number of bits.
func (b *Bloom) Cap() uint64 { return b.m }

// K returns the number of bits set per item.
func (b *Bloom) K() int { return int(b.k) }

// bitsSet is the number of set bits, X.
func (b *Bloom) bitsSet() uint64 {
	if b.f == nil {
		return 0
	}
	return uint64(b.f.BitSet().Count())
}

// Fill returns the fraction of bits set, X/m, in [0, 1]. It counts the
// bits (a popcount over all m/64 words: about 80 µs for a 1e6-item 1%
// filter), so call it per report, not per item.
func (b *Bloom) Fill() float64 {
	if b.m == 0 {
		return 0
	}
	return float64(b.bitsSet()) / float64(b.m)
}

// EstimatedFPRate returns the false-positive rate the filter has now:
// Fill()^k, the chance that k positions of an item never added all land on
// set bits. Unlike the design rate it tracks what was actually inserted, so
// an overfilled filter shows it: at ten times its design n, a 1% filter
// reports (and has) a rate above 99%.
func (b *Bloom) EstimatedFPRate() float64 {
	if b.k == 0 {
		return 0 // a zero Bloom answers no to everything
	}
	return math.Pow(b.Fill(), float64(b.k))
}

// Reset empties the filter, keeping m and k.
func (b *Bloom) Reset() {
	if b.f != nil {
		b.f.ClearAll()
	}
}

// Clone returns an independent copy of b.
func (b *Bloom) Clone() *Bloom {
	if b.f == nil {
		return &Bloom{}
	}
	return newBloomFrom(b.f.Copy())
}

// Equal reports whether b and o have the same m, k and bits, which is when
// their encodings are equal. Two nil or zero filters are equal.
func (b *Bloom) Equal(o *Bloom) bool {
	if b == nil || o == nil || b.f == nil || o.f == nil {
		return (b == nil || b.f == nil) == (o == nil || o.f == nil)
	}
	return b.f.Equal(o.f)
}

// Merge adds the items of o to b: afterwards b holds the union, exactly
// the filter that adding both streams to one filter would give. Both must
// have the same m and k (else the error wraps ErrIncompatible). A nil o is
// an empty filter. o is not modified.
func (b *Bloom) Merge(o *Bloom) error {
	if o == nil {
		return nil
	}
	if b.m != o.m || b.k != o.k || b.f == nil {
		return fmt.Errorf("sketch: Bloom merge of m=%d k=%d into m=%d k=%d; filters must share m and k: %w", o.m, o.k, b.m, b.k, ErrIncompatible)
	}
	return b.f.Merge(o.f) // cannot fail: m and k match
}

// Estimate returns the number of distinct items added, with bounds at
// DefaultConfidence.
func (b *Bloom) Estimate() Estimate { return b.EstimateAt(DefaultConfidence) }

// EstimateAt returns the number of distinct items added, with bounds at the
// given confidence in (0, 1).
//
// The value is Swamidass & Baldi's estimate ("Mathematical correction for
// fingerprint similarity measures to improve chemical retrieval", J. Chem.
// Inf. Model. 47(3), 2007) from the X set bits:
//
//	n* = -(m/k) ln(1 - X/m)
//
// the n at which the expected number of set bits, m(1-e^(-kn/m)), is X.
// The bounds invert the distribution of X itself: n items throw about kn
// balls into m bins, and the number of occupied bins has mean m(1-e^-t) and
// variance m e^-t (1-(1+t)e^-t), t = kn/m (the classical occupancy problem;
// e.g. Johnson & Kotz, "Urn Models and Their Application", 1977). Lower
// and Upper are the n at which X sits z standard deviations above or below
// its mean: a score interval, which unlike one centred on n* stays honest
// as the filter fills. The k positions of one item almost never coincide,
// which only lowers the variance, so the bounds err on the wide side (the
// tests measure 95-97% coverage at 95% from t = 0.02 to t = 4). Each item sets
// at most k bits, so n ≥ X/k holds exactly and the bounds respect it.
//
// An empty filter is an exact 0. A full filter (every bit set) cannot bound
// n from above: Upper is +Inf and Value is the estimate for one bit short.
func (b *Bloom) EstimateAt(confidence float64) Estimate {
	checkConfidence(confidence)
	e := Estimate{Confidence: confidence}
	x := float64(b.bitsSet())
	if x == 0 {
		e.Exact = true
		return e
	}
	z := normal.Z(confidence)
	m, k := float64(b.m), float64(b.k)
	perItem := m / k // n = t·m/k
	floor := math.Ceil(x / k)
	xv := min(x, m-1)
	tHat := -math.Log1p(-xv / m)
	e.Value = max(tHat*perItem, floor)

	// Score interval in t: mean(t) ± z·sd(t) = x. Both sides increase with t.
	tLo := bloomSolve(func(t float64) float64 { mu, sd := bloomOccupancy(m, t); return mu + z*sd }, x, 0, tHat)
	e.Lower = max(math.Ceil(tLo*perItem), floor)
	if x >= m {
		e.Upper = math.Inf(1)
	} else {
		hi := tHat
		g := func(t float64) float64 { mu, sd := bloomOccupancy(m, t); return mu - z*sd }
		for g(hi) < x && hi < 700 {
			hi = 2*hi + 1
		}
		if g(hi) < x {
			e.Upper = math.Inf(1)
		} else {
			e.Upper = math.Floor(bloomSolve(g, x, tHat, hi) * perItem)
		}
	}
	e.Lower = min(e.Lower, e.Value)
	e.Upper = max(e.Upper, e.Value)
	return e
}

// bloomOccupancy returns the mean and standard deviation of the number of
// set bits among m after t·m uniformly placed balls (asymptotic occupancy
// moments; see EstimateAt).
func bloomOccupancy(m, t float64) (mean, sd float64) {
	q := math.Exp(-t)
	return -m * math.Expm1(-t), math.Sqrt(max(0, m*q*(1-(1+t)*q)))
}

// bloomSolve returns t in [lo, hi] with g(t) = target for an increasing g,
// given g(lo) <= target <= g(hi), by bisection.
func bloomSolve(g func(float64) float64, target, lo, hi float64) float64 {
	if g(lo) >= target {
		return lo
	}
	for range 100 {
		mid := lo + (hi-lo)/2
		if mid == lo || mid == hi {
			break
		}
		if g(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// Bloom encoding (inside the envelope, kind Bloom):
//
//	shape[0] m, bits, in [1, MaxBloomBits]
//	shape[1] k, in [1, MaxBloomK]
//	payload  ⌈m/64⌉ little-endian uint64 words, bit i of the filter being
//	         bit i%64 of word i/64; bits at and beyond m are zero
//
// The payload is the filter's state and nothing else, so equal state gives
// equal bytes.

// MarshalBinary implements encoding.BinaryMarshaler.
func (b *Bloom) MarshalBinary() ([]byte, error) {
	return b.AppendBinary(make([]byte, 0, envelope.Overhead+8*len(b.words)))
}

// AppendBinary implements encoding.BinaryAppender. A zero Bloom has no
// encoding: the error wraps ErrInvalidParameter.
func (b *Bloom) AppendBinary(dst []byte) ([]byte, error) {
	if b.f == nil {
		return dst, fmt.Errorf("sketch: encoding a zero Bloom; create it with NewBloom: %w", ErrInvalidParameter)
	}
	dst, start := envelope.Begin(dst, envelope.Header{
		Kind: envelope.KindBloom, HashID: envelope.HashXXH64,
		Shape: [4]uint64{b.m, uint64(b.k)},
	})
	for _, w := range b.words {
		dst = binary.LittleEndian.AppendUint64(dst, w)
	}
	return envelope.End(dst, start), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It allocates only
// after checking that the payload holds exactly the ⌈m/64⌉ words m calls
// for, so it never allocates more than the input's size. On error b is
// unchanged.
func (b *Bloom) UnmarshalBinary(data []byte) error {
	hdr, payload, err := envelope.Decode(data, envelope.KindBloom)
	if err != nil {
		return fmt.Errorf("sketch: %w", err)
	}
	m, k := hdr.Shape[0], hdr.Shape[1]
	if err := checkBloomShape(m, k); err != nil {
		return fmt.Errorf("sketch: Bloom %v: %w", err, ErrCorrupt)
	}
	if hdr.Shape[2] != 0 || hdr.Shape[3] != 0 {
		return fmt.Errorf("sketch: Bloom shape %v: unused fields not zero: %w", hdr.Shape, ErrCorrupt)
	}
	nw := bloomWords(m)
	if uint64(len(payload)) != 8*nw {
		return fmt.Errorf("sketch: Bloom of %d bits needs %d payload bytes, has %d: %w", m, 8*nw, len(payload), ErrCorrupt)
	}
	r := envelope.NewReader(payload)
	raw := r.Bytes(int(8 * nw))
	if err := r.Done(); err != nil {
		return fmt.Errorf("sketch: Bloom: %w", err)
	}
	last := binary.LittleEndian.Uint64(raw[8*(nw-1):])
	if tail := m % 64; tail != 0 && last>>tail != 0 {
		return fmt.Errorf("sketch: Bloom of %d bits has bits set at or beyond bit %d: %w", m, m, ErrCorrupt)
	}
	f := bloom.New(uint(m), uint(k))
	words := f.BitSet().Words()
	if uint64(len(words)) != nw {
		return fmt.Errorf("sketch: Bloom of %d bits: could not allocate %d MiB: %w", m, nw*8>>20, ErrCorrupt)
	}
	for i := range words {
		words[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	b.f, b.words, b.m, b.k = f, words, m, uint32(k)
	return nil
}
