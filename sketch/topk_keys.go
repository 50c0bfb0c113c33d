package sketch

import (
	"math"
	"slices"
)

// Where a TopK keeps its keys: inline in a counter, or in the arena.

// tkInline is the longest key a counter holds inline. Longer keys live in
// the arena.
const tkInline = 16

// tkKeyAlign is the granularity of key regions in the arena: a counter
// keeps its region when a key of up to the same rounded length replaces its
// key, and also while it holds short keys.
const tkKeyAlign = 16

func tkKeyCap(n int) int { return max(tkKeyAlign, (n+tkKeyAlign-1)&^(tkKeyAlign-1)) }

// storeKey copies key into counter i, inline or into its region, moving
// the counter to a new, larger region at the end of the arena if it does
// not fit.
func (t *TopK) storeKey(i int32, key []byte) {
	c := &t.counters[i]
	if n := len(key); n <= tkInline {
		c.klen = uint32(n)
		if n >= 4 {
			tkShortCopy(&c.inline, key) // not a call to memmove
		} else {
			copy(c.inline[:], key)
		}
		return
	}
	if len(key) > int(c.kcap) {
		if uint64(len(key)) > math.MaxUint32-tkKeyAlign {
			panic("sketch: TopK key of 4 GiB or more")
		}
		t.garbage += int(c.kcap)
		kc := tkKeyCap(len(key))
		c.off, c.kcap = len(t.arena), uint32(kc)
		t.arena = slices.Grow(t.arena, kc)[:c.off+kc]
		if t.garbage > len(t.arena)/2 {
			// Only a move makes garbage, so only a move can compact.
			c.klen = uint32(len(key))
			copy(t.arena[c.off:], key)
			t.compact()
			return
		}
	}
	c.klen = uint32(len(key))
	copy(t.arena[c.off:], key)
}

// compact copies the live long keys into spare, shrinking each region to
// its key and dropping the regions of counters that hold short keys, and
// swaps the two buffers. It runs when garbage exceeds half the arena, so
// its cost is amortized over the bytes that became garbage; the two
// buffers stop growing once key lengths settle.
func (t *TopK) compact() {
	live := 0
	for i := range t.counters {
		if kl := int(t.counters[i].klen); kl > tkInline {
			live += tkKeyCap(kl)
		}
	}
	dst := slices.Grow(t.spare[:0], live)
	for i := range t.counters {
		c := &t.counters[i]
		if c.klen <= tkInline {
			c.off, c.kcap = 0, 0
			continue
		}
		off, kc := len(dst), tkKeyCap(int(c.klen))
		dst = dst[:off+kc]
		copy(dst[off:], t.arena[c.off:c.off+int(c.klen)])
		c.off, c.kcap = off, uint32(kc)
	}
	t.spare, t.arena = t.arena[:0], dst
	t.garbage = 0
}
