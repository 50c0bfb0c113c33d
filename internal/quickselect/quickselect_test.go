package quickselect

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestQuickselectShapes: every rank of inputs of the shapes that defeat
// naive pivots (sorted, reversed, all equal, organ pipe, sawtooth) and
// random ones, against a sort.
func TestQuickselectShapes(t *testing.T) {
	shapes := map[string]func(i, n int) uint64{
		"sorted":     func(i, n int) uint64 { return uint64(i) },
		"reversed":   func(i, n int) uint64 { return uint64(n - i) },
		"equal":      func(i, n int) uint64 { return 7 },
		"organ pipe": func(i, n int) uint64 { return uint64(min(i, n-i)) },
		"sawtooth":   func(i, n int) uint64 { return uint64(i % 5) },
		"random":     func(i, n int) uint64 { return rand.New(rand.NewPCG(uint64(i), 0x5eed)).Uint64() % uint64(n) },
	}
	for name, f := range shapes {
		for _, n := range []int{1, 2, 3, 10, 101} {
			a := make([]uint64, n)
			for i := range a {
				a[i] = f(i, n)
			}
			want := slices.Sorted(slices.Values(a))
			for r := range n {
				b := slices.Clone(a)
				if got := Select(b, r); got != want[r] {
					t.Fatalf("%s n=%d: rank %d = %d, want %d", name, n, r, got, want[r])
				}
			}
		}
	}
}
