package sampling_test

import (
	"fmt"
	"slices"

	"github.com/streamstat/streamstat/sampling"
)

// A reservoir keeps a uniform sample of a stream of unknown length. Its
// encoding includes the generator, so a reservoir restored from a
// checkpoint continues exactly as the original.
func ExampleReservoir() {
	r, err := sampling.NewReservoir[string](3, 42)
	if err != nil {
		panic(err)
	}
	for i := range 1000 {
		r.Add(fmt.Sprintf("event-%d", i))
	}
	checkpoint, err := r.MarshalBinary()
	if err != nil {
		panic(err)
	}
	var restored sampling.Reservoir[string]
	if err := restored.UnmarshalBinary(checkpoint); err != nil {
		panic(err)
	}
	for i := 1000; i < 2000; i++ {
		r.Add(fmt.Sprintf("event-%d", i))
		restored.Add(fmt.Sprintf("event-%d", i))
	}
	fmt.Println(r.Count(), len(r.Sample()))
	fmt.Println("same sample after restore:", slices.Equal(r.Sample(), restored.Sample()))
	// Output:
	// 2000 3
	// same sample after restore: true
}

// Callers that can skip items without building them ask how many the
// reservoir will ignore, and build only the ones it keeps.
func ExampleReservoir_Discard() {
	r, _ := sampling.NewReservoir[uint64](4, 1)
	const n = 10_000_000
	built := 0
	for i := uint64(0); i < n; {
		i += r.Discard(n - i)
		if i < n {
			r.Add(i * i) // the expensive item
			built++
			i++
		}
	}
	fmt.Println(r.Count(), built < 100)
	// Output:
	// 10000000 true
}
