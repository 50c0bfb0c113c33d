package sampling

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// reservoirStream is the second PCG seed word of every Reservoir.
const reservoirStream = 0x5245_5345_5256_4f49 // "RESERVOI"

// Reservoir is a uniform random sample of up to k items from a stream of
// unknown length: after n items, every k-subset of them is equally likely to
// be the sample (every item is in it with probability k/n).
//
// It runs Li's Algorithm L ("Reservoir-sampling algorithms of time
// complexity O(n(1+log(N/n)))", ACM TOMS 20(4), 1994, section 5): once the
// reservoir is full, it draws how many items to skip before the next one
// that enters, so it makes O(k(1+log(n/k))) random draws in all, and Add
// is, for all but those few items, an increment and a compare. Callers that
// can skip items without materialising them use Skip and Discard, or
// AddSlice for a batch.
//
// All randomness comes from a math/rand/v2 PCG seeded by NewReservoir, and
// the generator's state is part of the encoding: a Reservoir restored from
// its encoding continues exactly as the original would, item for item.
//
// The zero value is a reservoir of size 0: it counts items and keeps none.
// Use NewReservoir. A Reservoir is not safe for concurrent use.
type Reservoir[T any] struct {
	n     uint64  // items seen
	next  uint64  // once full, the 1-based index of the next item to keep; 0 while filling
	w     float64 // Algorithm L's W: the largest of the k smallest keys; 0 while filling
	k     int
	items []T // len min(n, k); slot order is state (replacements pick a slot)
	rng   rand.PCG
	codec Codec[T]
}

// NewReservoir returns an empty reservoir that keeps k >= 1 items, drawing
// its randomness from a PCG seeded with seed: the same seed and stream give
// the same sample.
func NewReservoir[T any](k int, seed uint64) (*Reservoir[T], error) {
	if k < 1 {
		return nil, fmt.Errorf("sampling: Reservoir size %d, want at least 1: %w", k, ErrInvalidParameter)
	}
	r := &Reservoir[T]{k: k, items: make([]T, 0, k)}
	seedPCG(&r.rng, seed, reservoirStream)
	return r, nil
}

// SetCodec sets the codec MarshalBinary and UnmarshalBinary use for items.
// It is needed only for item types without a ready-made codec (see Codec).
func (r *Reservoir[T]) SetCodec(c Codec[T]) { r.codec = c }

// K returns the reservoir size: the most items Sample returns.
func (r *Reservoir[T]) K() int { return r.k }

// Count returns the number of items seen (added or discarded).
func (r *Reservoir[T]) Count() uint64 { return r.n }

// Len returns the number of items in the sample: min(Count, K).
func (r *Reservoir[T]) Len() int { return len(r.items) }

// Sample returns a copy of the sample, in no particular order.
func (r *Reservoir[T]) Sample() []T { return append([]T(nil), r.items...) }

// Reset empties r, keeping its size and codec. The generator is not reseeded:
// it continues, so a reset reservoir draws a fresh, independent sample.
func (r *Reservoir[T]) Reset() {
	clear(r.items) // drop references held by T
	r.items = r.items[:0]
	r.n, r.next, r.w = 0, 0, 0
}

// Add offers v to the sample. It allocates nothing (a reservoir decoded
// while still filling may grow its storage until it is full).
func (r *Reservoir[T]) Add(v T) {
	r.n++
	if r.n < r.next {
		return // skipped: the common case once the reservoir is full
	}
	r.keep(v)
}

// keep is Add for an item that enters the sample: one of the first k, or the
// one at index next.
func (r *Reservoir[T]) keep(v T) {
	if len(r.items) < r.k {
		r.items = append(r.items, v)
		if len(r.items) == r.k {
			// Full: W is the largest of k uniform keys, U^(1/k).
			r.w = math.Exp(math.Log(uniform(&r.rng)) / float64(r.k))
			r.next = r.skipFrom(r.n)
		}
		return
	}
	if r.k == 0 {
		return
	}
	// The entering item's key is below W; it evicts the item holding the
	// largest key, which by symmetry is in a uniformly random slot. The k
	// keys left are uniform below the old W, so the new W is W*U^(1/k).
	r.items[boundedN(&r.rng, uint64(r.k))] = v
	r.w *= math.Exp(math.Log(uniform(&r.rng)) / float64(r.k))
	r.next = r.skipFrom(r.n)
}

// skipFrom returns the index of the next item to keep after item i: each item
// enters independently with probability W, so the number skipped is
// geometric, floor(log U / log(1-W)) (Li 1994, Algorithm L). log1p keeps
// log(1-W) accurate for the small W of long streams; the result saturates
// rather than wrap.
func (r *Reservoir[T]) skipFrom(i uint64) uint64 {
	s := math.Floor(math.Log(uniform(&r.rng)) / math.Log1p(-r.w))
	if !(s < float64(math.MaxUint64-i-1)) { // also catches NaN
		return math.MaxUint64
	}
	return i + uint64(s) + 1
}

// Skip returns how many upcoming items the reservoir will discard without
// looking at them: Discard(Skip()) followed by Add of the next item is
// exactly Add of all of them. It is 0 while the reservoir fills.
func (r *Reservoir[T]) Skip() uint64 {
	switch {
	case r.k == 0:
		return math.MaxUint64 - r.n
	case r.next == 0:
		return 0
	}
	return r.next - r.n - 1
}

// Discard counts up to m upcoming items as seen without looking at them, as
// far as the reservoir would have discarded them anyway, and returns how
// many it counted: min(m, Skip()). The caller must Add the next item.
func (r *Reservoir[T]) Discard(m uint64) uint64 {
	m = min(m, r.Skip())
	r.n += m
	return m
}

// AddSlice adds every item of vs, looking only at those that enter the
// sample.
func (r *Reservoir[T]) AddSlice(vs []T) {
	for len(vs) > 0 {
		vs = vs[r.Discard(uint64(len(vs))):]
		if len(vs) == 0 {
			return
		}
		r.Add(vs[0])
		vs = vs[1:]
	}
}
