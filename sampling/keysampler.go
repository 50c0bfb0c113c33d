package sampling

import (
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/normal"
)

// KeySampler decides by a record's key hash alone whether to keep it: a
// record is kept iff its 64-bit hash is below the threshold t = p·2^64.
// With a good hash (xxhash64, as package sketch's Hash and HashString
// compute it) each key is kept with probability p, and:
//
//   - the decision is consistent: the same key is kept or dropped alike by
//     every process, and after every restart, for the same p, so all the
//     records of a key are kept or none are (what distinct counts and
//     membership need);
//   - samples are nested: a key kept at p is kept at every p' > p, since
//     the threshold only grows with p.
//
// The zero value keeps nothing (p = 0). KeySampler is a small value; its
// methods are safe for concurrent use as long as no goroutine calls SetP or
// UnmarshalBinary at the same time.
type KeySampler struct {
	t   uint64 // keep h iff h < t; math.MaxUint64 when all is set
	all bool   // p = 1: keep every hash, math.MaxUint64 included
}

// NewKeySampler returns a sampler that keeps each key with probability p in
// [0, 1].
func NewKeySampler(p float64) (KeySampler, error) {
	var s KeySampler
	err := s.SetP(p)
	return s, err
}

// SetP sets the keep probability p in [0, 1]. On error s is unchanged.
//
// The threshold is floor(p·2^64), exact for every p >= 2^-12 (p·2^64 is then
// an integer below 2^64: scaling by a power of two is exact, and p < 1
// leaves it below 2^64 - 2^11); smaller p are rounded down to a multiple of
// 2^-64, and P reports the probability in force.
func (s *KeySampler) SetP(p float64) error {
	switch {
	case !(p >= 0 && p <= 1):
		return fmt.Errorf("sampling: KeySampler probability %v outside [0, 1]: %w", p, ErrInvalidParameter)
	case p == 1:
		s.t, s.all = math.MaxUint64, true
	default:
		s.t, s.all = uint64(p*0x1p64), false
	}
	return nil
}

// KeepHash reports whether the record whose key hashes to h is kept.
func (s KeySampler) KeepHash(h uint64) bool { return h < s.t || s.all }

// P returns the keep probability in force: Threshold()/2^64, or 1.
func (s KeySampler) P() float64 {
	if s.all {
		return 1
	}
	return float64(s.t) * 0x1p-64 // exact: t fits a float64 mantissa
}

// Threshold returns t: KeepHash(h) is h < t, except at p = 1, where
// Threshold returns math.MaxUint64 and every hash, that one included, is
// kept.
func (s KeySampler) Threshold() uint64 { return s.t }

// ScaleCount estimates, from the number of distinct keys the sampler kept,
// how many distinct keys were offered: the Horvitz–Thompson estimate
// kept/p, with bounds at the given confidence in (0, 1).
//
// Each of N offered keys is kept independently with probability p (over the
// hash), so kept is Binomial(N, p). The bounds are the N for which kept lies
// within z standard deviations of Np, with a continuity correction of one
// half: Np <= kept + 1/2 + z·sqrt(Np(1-p)) for the upper bound and
// Np >= kept - 1/2 - z·sqrt(Np(1-p)) for the lower (a Wilson-type interval
// for N). Each is a quadratic in sqrt(N), so even kept = 0 gets a finite
// upper bound. Without the correction, small counts undercover (N = 5,
// p = 0.1 would be covered 92% of the time at 95%). The lower bound is at
// least kept. At p = 1 the count is exact; at p = 0 nothing is known: value
// is kept and upper is +Inf.
//
// Counting records rather than keys, when keys repeat, has more variance
// than this: whole keys are kept or dropped together.
func (s KeySampler) ScaleCount(kept uint64, confidence float64) (value, lower, upper float64) {
	if !(confidence > 0 && confidence < 1) {
		panic(fmt.Sprintf("sampling: confidence %v outside (0, 1)", confidence))
	}
	k, p := float64(kept), s.P()
	switch {
	case p == 1:
		return k, k, k
	case p == 0:
		return k, k, math.Inf(1)
	}
	z := normal.Z(confidence)
	zs := z * math.Sqrt(p*(1-p))
	// p·x² ∓ zs·x - c = 0 for x = sqrt(N), c the corrected count.
	sqrtN := func(c, sign float64) float64 {
		x := (sign*zs + math.Sqrt(zs*zs+4*p*c)) / (2 * p)
		return x * x
	}
	lower = k
	if k > 0 {
		lower = max(k, sqrtN(k-0.5, -1))
	}
	return k / p, lower, sqrtN(k+0.5, 1)
}
