// Package quickselect finds the element of a given rank in a slice in
// expected linear time, for the estimators' thresholds.
package quickselect

import (
	"cmp"
	"math/bits"
	"slices"
)

// Select returns the element of rank r (0-based) of a, reordering a.
// Hoare's FIND with a median-of-three pivot: expected linear time, and
// deterministic, as the states built on it must be. Inputs read from an
// encoding (a sketch's hashes, a shed state's priority scores) or weights
// from a stream may be built to defeat the median of three; after
// 2·log2(len(a)) + 8 rounds it sorts what is left instead (Musser's
// introselect), so it is never worse than O(n log n). a holds no NaN.
func Select[T cmp.Ordered](a []T, r int) T {
	lo, hi := 0, len(a)-1
	for rounds := 2*bits.Len(uint(len(a))) + 8; lo < hi; rounds-- {
		if rounds == 0 {
			slices.Sort(a[lo : hi+1])
			return a[r]
		}
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case r <= j:
			hi = j
		case r >= i:
			lo = i
		default:
			return a[r]
		}
	}
	return a[r]
}
