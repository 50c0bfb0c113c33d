package sketch

import (
	"strconv"
	"testing"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
)

// BenchmarkVsBitsAndBlooms runs bits-and-blooms/bloom directly beside our
// Bloom on the same byte keys, in the same run, with the same m and k
// (1e6 items at 1%, half full), and reports ours/theirs time ratios for Add
// and for Test. Theirs hashes each key with 128-bit murmur3 and reduces
// each of the k positions with a 64-bit modulo; ours hashes with xxhash64
// once and reduces with a multiply. Test keys are half present, half not.
func BenchmarkVsBitsAndBlooms(b *testing.B) {
	const nKeys = 1 << 14
	addKeys := make([][]byte, nKeys)
	testKeys := make([][]byte, nKeys)
	for i := range addKeys {
		addKeys[i] = []byte("user-" + strconv.Itoa(1_000_000+i))
		if i%2 == 0 {
			testKeys[i] = addKeys[i]
		} else {
			testKeys[i] = []byte("visitor-" + strconv.Itoa(i))
		}
	}
	ours := mustBloom(b, 1e6, 0.01)
	theirs := bloom.New(uint(ours.Cap()), uint(ours.K()))
	var key [8]byte
	for i := range 500_000 {
		key = [8]byte{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24), 0xb1}
		ours.Add(key[:])
		theirs.Add(key[:])
	}
	timeIt := func(f func()) float64 {
		start := time.Now()
		f()
		return float64(time.Since(start).Nanoseconds())
	}
	var addOurs, addTheirs, testOurs, testTheirs float64
	var hitsOurs, hitsTheirs int
	b.ReportAllocs()
	for b.Loop() {
		addOurs += timeIt(func() {
			for _, k := range addKeys {
				ours.Add(k)
			}
		})
		addTheirs += timeIt(func() {
			for _, k := range addKeys {
				theirs.Add(k)
			}
		})
		testOurs += timeIt(func() {
			for _, k := range testKeys {
				if ours.Test(k) {
					hitsOurs++
				}
			}
		})
		testTheirs += timeIt(func() {
			for _, k := range testKeys {
				if theirs.Test(k) {
					hitsTheirs++
				}
			}
		})
	}
	if hitsOurs < b.N*nKeys/2 || hitsTheirs < b.N*nKeys/2 {
		b.Fatalf("added keys not found: %d, %d hits", hitsOurs, hitsTheirs)
	}
	ops := float64(b.N) * nKeys
	b.ReportMetric(addOurs/addTheirs, "add-ours/theirs")
	b.ReportMetric(testOurs/testTheirs, "test-ours/theirs")
	b.ReportMetric(addOurs/ops, "add-ns-ours")
	b.ReportMetric(addTheirs/ops, "add-ns-theirs")
	b.ReportMetric(testOurs/ops, "test-ns-ours")
	b.ReportMetric(testTheirs/ops, "test-ns-theirs")
}
