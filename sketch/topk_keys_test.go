package sketch

import (
	"fmt"
	"testing"
)

// TestTopKArenaBoundedMixedLengths: the key arena (and its spare, the
// other buffer of compaction) stays within a small multiple of what the
// counters can hold, capacity times the longest key, on adversarial
// length patterns: keys alternating 1 byte (inline, its counter keeping
// its region) or 17 bytes (a long key in a region kept at the longest
// size) with 1 MiB, capacities odd (a counter alternates) and even (it
// does not), lengths rising by 10% (every key moves), and the same
// through AddHashes' loop. Peaks seen: 0.6-1.2x on the alternating
// lengths, 3.3-4.8x on the rising ones, the same as with the compaction
// before d3dc8bf (which shrank a region to its key); without the garbage
// count (no compaction) the arena grows past the limit.
func TestTopKArenaBoundedMixedLengths(t *testing.T) {
	const big = 1 << 20
	for _, c := range []struct {
		name string
		len  func(i int) int
	}{
		{"1 and 1MiB", func(i int) int { return []int{1, big}[i%2] }},
		{"17 and 1MiB", func(i int) int { return []int{17, big}[i%2] }},
		{"1, 17 and 1MiB", func(i int) int { return []int{1, 17, big}[i%3] }},
		{"rising by 10%", func(i int) int {
			n := 17.0
			for range i % 120 {
				n *= 1.1
			}
			return min(big, int(n))
		}},
	} {
		for _, k := range []int{1, 4, 7} {
			for _, batch := range []bool{false, true} {
				s := topkNew(t, k)
				longest, peak := 0, 0
				key := make([]byte, big)
				for i := range max(40*k, 360) {
					n := c.len(i)
					copy(key, fmt.Sprintf("%d.", i)) // a new key
					if batch {
						s.AddHashes([]uint64{Hash(key[:n])}, [][]byte{key[:n]})
					} else {
						s.AddHash(Hash(key[:n]), key[:n], 1)
					}
					longest = max(longest, n)
					peak = max(peak, cap(s.arena)+cap(s.spare))
				}
				if limit := 6 * k * tkKeyCap(longest); peak > limit {
					t.Errorf("%s, capacity %d, batch %v: arena and spare reached %d bytes, over 6 x capacity x the longest key (%d)", c.name, k, batch, peak, limit)
				}
				t.Logf("%s, capacity %d, batch %v: peak %.2f x capacity x the longest key", c.name, k, batch, float64(peak)/float64(k*tkKeyCap(longest)))
			}
		}
	}
}
