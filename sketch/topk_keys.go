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

// compact copies the live long keys into spare, each in a region of the
// size it had, dropping the regions of counters that hold short keys, and
// swaps the two buffers. It runs when garbage exceeds half the arena, so
// its cost is amortized over the bytes that became garbage; the two
// buffers stop growing once key lengths settle. A region keeps its size
// (it was shrunk to its key once): on keys of mixed lengths every counter
// comes to hold a region for the longest key it sees, and keys stop
// moving; shrunk, half of the new keys of 64 to 192 bytes (bench-speed.sh's
// m128) moved, and compacted again.
func (t *TopK) compact() {
	live := 0
	for i := range t.counters {
		if c := &t.counters[i]; c.klen > tkInline {
			live += int(c.kcap)
		}
	}
	dst := slices.Grow(t.spare[:0], live)
	for i := range t.counters {
		c := &t.counters[i]
		if c.klen <= tkInline {
			c.off, c.kcap = 0, 0
			continue
		}
		off := len(dst)
		dst = dst[:off+int(c.kcap)]
		copy(dst[off:], t.arena[c.off:c.off+int(c.klen)])
		c.off = off
	}
	t.spare, t.arena = t.arena[:0], dst
	t.garbage = 0
}
