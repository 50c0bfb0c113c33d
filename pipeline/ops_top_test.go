package pipeline

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestHeavyHittersSameAsAddHash: HeavyHitters hands its sketch the records
// in runs (TopK.AddHashes); the sketch must end as one given the same
// records one by one through AddHash, with unit counts and with weights
// (Unit, records kept by shedding), on batches shorter and longer than a
// run, of mostly new keys (of 3 to 40 bytes) and of repeated ones.
func TestHeavyHittersSameAsAddHash(t *testing.T) {
	for _, unit := range []uint64{0, 1 << 16} {
		for _, size := range []int{1, 7, hhRun, hhRun + 1, 1000} {
			r := rand.New(rand.NewPCG(uint64(size), unit))
			tk, _ := sketch.NewTopK(100)
			ref, _ := sketch.NewTopK(100)
			op := &HeavyHitters{TopK: tk, Unit: unit}
			var in, out Batch
			for range 30 {
				in.Reset()
				for range size {
					n := r.IntN(5000)
					if r.IntN(4) == 0 {
						n = r.IntN(50) // repeated keys
					}
					key := []byte(strconv.Itoa(n) + string(bytes.Repeat([]byte{'~'}, n%38)))
					rec := in.Add(key)
					if unit != 0 && r.IntN(3) == 0 {
						rec.KeepP = 0.25 + 0.5*r.Float32()
					}
				}
				if err := op.Process(&in, &out); err != nil {
					t.Fatal(err)
				}
				for i := range in.Records {
					w := uint64(1)
					if unit != 0 {
						w = weight(unit, in.Records[i].KeepP)
					}
					ref.AddHash(in.Records[i].Hash, in.Key(i), w)
				}
			}
			a, _ := tk.MarshalBinary()
			b, _ := ref.MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Errorf("unit %d, batches of %d: the sketch differs from AddHash's", unit, size)
			}
		}
	}
}

func TestHeavyHittersAllocs(t *testing.T) {
	tk, _ := sketch.NewTopK(256)
	op := &HeavyHitters{TopK: tk}
	batches := make([]Batch, 16)
	for i := range batches {
		for j := range 1000 {
			batches[i].Add([]byte(fmt.Sprintf("key-%d-%d", i, j)))
		}
	}
	var out Batch
	i := 0
	process := func() {
		if err := op.Process(&batches[i%len(batches)], &out); err != nil {
			t.Fatal(err)
		}
		i++
	}
	process()
	if n := testing.AllocsPerRun(50, process); n != 0 {
		t.Errorf("HeavyHitters.Process: got %v allocation(s) a batch (want zero)", n)
	}
}
