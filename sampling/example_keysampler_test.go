package sampling_test

import (
	"fmt"

	"github.com/streamstat/streamstat/sampling"
)

// A key sampler keeps whole keys: every record of a kept user is kept, in
// every process and after every restart, and a user kept at one rate is kept
// at every higher rate. Counting the kept distinct keys and scaling by 1/p
// estimates how many there were.
func ExampleKeySampler() {
	s, err := sampling.NewKeySampler(0.25)
	if err != nil {
		panic(err)
	}
	lower, _ := sampling.NewKeySampler(0.1)
	// In a pipeline the hash comes with the record (sketch.Hash); here
	// SplitMix64's finalizer stands in for it.
	hash := func(user uint64) uint64 {
		z := user + 0x9e3779b97f4a7c15
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
	kept, nested := uint64(0), true
	for user := range uint64(100_000) {
		h := hash(user)
		if s.KeepHash(h) {
			kept++
		}
		if lower.KeepHash(h) && !s.KeepHash(h) {
			nested = false
		}
	}
	v, lo, hi := s.ScaleCount(kept, 0.95)
	fmt.Printf("p=%v kept %d users: about %.0f in all, 95%% in [%.0f, %.0f]\n", s.P(), kept, v, lo, hi)
	fmt.Println("every user kept at 0.1 is kept at 0.25:", nested)
	// Output:
	// p=0.25 kept 25133 users: about 100532 in all, 95% in [99459, 101616]
	// every user kept at 0.1 is kept at 0.25: true
}
