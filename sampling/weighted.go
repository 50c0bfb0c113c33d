package sampling

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// weightedStream is the second PCG seed word of every WeightedReservoir.
const weightedStream = 0x5745_4947_4854_4544 // "WEIGHTED"

// WeightedReservoir is a weighted random sample without replacement of up to
// k items from a stream of unknown length: the sample is distributed as if k
// items were drawn one after another, each with probability proportional to
// its weight among those not yet drawn.
//
// It runs Efraimidis and Spirakis's A-ExpJ ("Weighted random sampling with a
// reservoir", Information Processing Letters 97(5), 2006): each item gets the
// key u^(1/w) for a uniform u, the sample is the k largest keys, kept in a
// min-heap, and rather than drawing a key per item it draws an exponential
// jump X = log(r)/log(T), T the smallest key held, and skips items until their
// weights add up to X. So Add is, for all but O(k log(n/k)) items, a
// subtraction and a compare. Keys are kept as log u / w, which orders the
// same way and neither underflows nor loses the small weights.
//
// Weights must be positive and finite: an item of weight w <= 0, NaN or ±Inf
// is counted by Count but never sampled, and left out of Weight. Nothing
// panics on bad weights.
//
// All randomness comes from a math/rand/v2 PCG seeded by
// NewWeightedReservoir, and its state is part of the encoding, so a restored
// sampler continues exactly as the original would.
//
// The zero value is a sampler of size 0: it counts items and keeps none. Use
// NewWeightedReservoir. A WeightedReservoir is not safe for concurrent use.
type WeightedReservoir[T any] struct {
	heap  []weighted[T] // min-heap by key; the layout is state (ties break by position)
	k     int
	n     uint64  // items seen
	total float64 // sum of the sampleable weights seen
	x     float64 // weight left to skip before the next item enters; 0 while filling
	rng   rand.PCG
	codec Codec[T]
}

type weighted[T any] struct {
	key float64 // log(u)/w: in [-Inf, 0], sign bit always set
	v   T
}

// NewWeightedReservoir returns an empty weighted sampler that keeps k >= 1
// items, drawing its randomness from a PCG seeded with seed.
func NewWeightedReservoir[T any](k int, seed uint64) (*WeightedReservoir[T], error) {
	if k < 1 {
		return nil, fmt.Errorf("sampling: WeightedReservoir size %d, want at least 1: %w", k, ErrInvalidParameter)
	}
	r := &WeightedReservoir[T]{k: k, heap: make([]weighted[T], 0, k)}
	seedPCG(&r.rng, seed, weightedStream)
	return r, nil
}

// SetCodec sets the codec MarshalBinary and UnmarshalBinary use for items.
// It is needed only for item types without a ready-made codec (see Codec).
func (r *WeightedReservoir[T]) SetCodec(c Codec[T]) { r.codec = c }

// K returns the sampler size: the most items Sample returns.
func (r *WeightedReservoir[T]) K() int { return r.k }

// Count returns the number of items added, sampleable or not.
func (r *WeightedReservoir[T]) Count() uint64 { return r.n }

// Weight returns the total weight of the sampleable items added.
func (r *WeightedReservoir[T]) Weight() float64 { return r.total }

// Len returns the number of items in the sample.
func (r *WeightedReservoir[T]) Len() int { return len(r.heap) }

// Sample returns a copy of the sample, the item with the largest key first.
// Any prefix of it is itself a weighted sample without replacement of that
// size, since a sample of size j is the j largest keys.
func (r *WeightedReservoir[T]) Sample() []T {
	byKey := slices.Clone(r.heap)
	slices.SortFunc(byKey, func(a, b weighted[T]) int { return cmp.Compare(b.key, a.key) })
	out := make([]T, len(byKey))
	for i, e := range byKey {
		out[i] = e.v
	}
	return out
}

// Reset empties r, keeping its size and codec. The generator continues, so
// a reset sampler draws a fresh, independent sample.
func (r *WeightedReservoir[T]) Reset() {
	clear(r.heap)
	r.heap = r.heap[:0]
	r.n, r.total, r.x = 0, 0, 0
}

// Add offers v with weight w to the sample. It allocates nothing (a sampler
// decoded while still filling may grow its storage until it is full).
func (r *WeightedReservoir[T]) Add(v T, w float64) {
	r.n++
	if !(w > 0 && w <= math.MaxFloat64) {
		return // not sampleable: <= 0, NaN or Inf
	}
	r.total += w
	if r.x -= w; r.x > 0 {
		return // jumped over: the common case once the sampler is full
	}
	r.enter(v, w)
}

// enter is Add for an item that enters the sample: one while filling, or
// the one at which the jump ends.
func (r *WeightedReservoir[T]) enter(v T, w float64) {
	if len(r.heap) < r.k {
		r.push(weighted[T]{math.Log(uniform(&r.rng)) / w, v})
		r.x = 0
		if len(r.heap) == r.k {
			r.x = r.jump()
		}
		return
	}
	if r.k == 0 {
		r.x = 0
		return
	}
	// The item's key u^(1/w) is conditioned to beat T: u is uniform on
	// (T^w, 1) (A-ExpJ step 8). With 1-u = (1-T^w)*v for a uniform v,
	// log u = log1p(expm1(w log T) * v), exact even when T^w is near 1.
	logT := r.heap[0].key
	key := math.Log1p(math.Expm1(w*logT)*uniform(&r.rng)) / w
	r.heap[0] = weighted[T]{key, v}
	r.down(0)
	r.x = r.jump()
}

// jump draws the weight to skip before the next item enters: the total
// weight until a key beats T is exponential with rate -log T (A-ExpJ step 5,
// X = log(r)/log(T)), and memoryless, so it may be redrawn at any time.
func (r *WeightedReservoir[T]) jump() float64 {
	return math.Log(uniform(&r.rng)) / r.heap[0].key
}

func (r *WeightedReservoir[T]) push(e weighted[T]) {
	r.heap = append(r.heap, e)
	for i := len(r.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !(r.heap[i].key < r.heap[p].key) {
			break
		}
		r.heap[i], r.heap[p] = r.heap[p], r.heap[i]
		i = p
	}
}

func (r *WeightedReservoir[T]) down(i int) {
	h := r.heap
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1].key < h[c].key {
			c++
		}
		if !(h[c].key < h[i].key) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// Merge folds o, a sampler of the same size over a disjoint stream, into r:
// afterwards r holds the k largest keys of both, which is a weighted sample
// of the union, since every item's key is drawn independently of the others
// (A-ExpJ assigns keys with the same distribution as A-Res). The jump is then
// redrawn from r's generator for the new smallest key. o is unchanged.
//
// Merge returns an error wrapping ErrIncompatible if the sizes differ or the
// counts would overflow; r is then unchanged.
func (r *WeightedReservoir[T]) Merge(o *WeightedReservoir[T]) error {
	if o.k != r.k {
		return fmt.Errorf("sampling: WeightedReservoir: merging size %d into size %d: %w", o.k, r.k, ErrIncompatible)
	}
	n, carry := bits.Add64(r.n, o.n, 0)
	if carry != 0 {
		return fmt.Errorf("sampling: WeightedReservoir: counts %d + %d overflow: %w", r.n, o.n, ErrIncompatible)
	}
	if o.n == 0 {
		return nil
	}
	for _, e := range slices.Clone(o.heap) { // a copy, since o may be r
		switch {
		case len(r.heap) < r.k:
			r.push(e)
		case e.key > r.heap[0].key:
			r.heap[0] = e
			r.down(0)
		}
	}
	r.n = n
	r.total += o.total
	r.x = 0
	if r.k > 0 && len(r.heap) == r.k {
		r.x = r.jump()
	}
	return nil
}
