package sampling_test

import (
	"fmt"

	"github.com/streamstat/streamstat/sampling"
)

func ExampleKLL() {
	sk, err := sampling.NewKLL(200, 42) // k=200: rank error 1.33% at 99% confidence
	if err != nil {
		panic(err)
	}
	// The values 0..999999 in a scrambled order (7919 is prime to 1e6).
	const n = 1_000_000
	for i := range n {
		sk.Add(float64(i * 7919 % n))
	}
	fmt.Printf("count %d, kept %d values, rank error %.2f%%\n", sk.Count(), sk.Retained(), 100*sk.RankError())

	p99, lo, hi := sk.QuantileBounds(0.99)
	fmt.Printf("p99 within 1%% of 990000: %v; bounds hold the truth: %v\n",
		p99 > 0.98*n && p99 < n, lo <= 989999 && 989999 <= hi)
	fmt.Printf("min %g, max %g\n", sk.Quantile(0), sk.Quantile(1))

	// Shards merge; the encoding restores a sketch exactly.
	shard, _ := sampling.NewKLL(200, 7)
	shard.Add(-1)
	if err := sk.Merge(shard); err != nil {
		panic(err)
	}
	data, _ := sk.MarshalBinary()
	var back sampling.KLL
	if err := back.UnmarshalBinary(data); err != nil {
		panic(err)
	}
	fmt.Printf("restored: count %d, min %g, same median: %v\n", back.Count(), back.Min(), back.Quantile(0.5) == sk.Quantile(0.5))
	// Output:
	// count 1000000, kept 614 values, rank error 1.33%
	// p99 within 1% of 990000: true; bounds hold the truth: true
	// min 0, max 999999
	// restored: count 1000001, min -1, same median: true
}
