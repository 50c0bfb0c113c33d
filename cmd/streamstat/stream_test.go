package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/internal/testio"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// stream read in any sizes, for a given -j.
func TestTopDeterministicOnStdin(t *testing.T) {
	var in strings.Builder
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		fmt.Fprintf(&in, "key-%d\n", int(rng.ExpFloat64()*50))
	}
	data := in.String()
	args := []string{"top", "-j", "3", "--precision", "4", "-k", "20"} // 20 counters: estimates, not counts
	want, _, _ := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 256}, args...)
	for i := range 5 {
		r := testio.RandomReader([]byte(data), rand.New(rand.NewPCG(uint64(i), 9)))
		got, _, code := runIn(t, runOpts{stdin: r, chunk: 256, buf: 1000}, args...)
		if code != 0 || got != want {
			t.Fatalf("run %d differs:\n%s\nwant\n%s", i, got, want)
		}
	}
	if !strings.Contains(want, " no ") {
		t.Errorf("the test wants estimated counts (some not guaranteed):\n%s", want)
	}
}

// TestDistinctIndependentOfJobs: HLL merges are exact, so distinct gives
// the same answer for every -j, from files and from stdin.
func TestDistinctIndependentOfJobs(t *testing.T) {
	var in strings.Builder
	for i := range 50000 {
		fmt.Fprintf(&in, "%d\n", i*7919%30011)
	}
	path := t.TempDir() + "/in"
	if err := writeFile(path, in.String()); err != nil {
		t.Fatal(err)
	}
	want, _, _ := runIn(t, runOpts{}, "distinct", "-j", "1", path)
	for _, j := range []string{"2", "3", "8"} {
		got, _, _ := runIn(t, runOpts{}, "distinct", "-j", j, path)
		got2, _, _ := runIn(t, runOpts{stdin: strings.NewReader(in.String()), chunk: 1000}, "distinct", "-j", j)
		if got != want || got2 != want {
			t.Errorf("-j %s: file %q, stdin %q, want %q", j, got, got2, want)
		}
	}
}

// TestDistinctOpEqualsHLL: the operator's fast dense phase leaves the HLL
// byte for byte as adding every hash to it would, at every precision.
func TestDistinctOpEqualsHLL(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range []int{4, 10, 14, 18} {
		for _, n := range []int{10, 5000, 300000} {
			want, _ := sketch.NewHLL(p)
			h, _ := sketch.NewHLL(p)
			op := &distinctOp{hll: h, p: uint8(p), nextCheck: 100}
			var b pipeline.Batch
			for i := range n {
				var x uint64
				if i%3 == 0 {
					x = rng.Uint64() >> rng.IntN(64) // long runs of zeros: high ranks
				} else {
					x = rng.Uint64()
				}
				want.AddHash(x)
				b.AddHashed(nil, x)
				if b.Len() == 1000 || i == n-1 {
					op.Process(&b, nil)
					b.Reset()
				}
				if i == n/2 {
					op.fold() // a snapshot mid-stream
				}
			}
			op.fold()
			if n >= 4<<p && op.regs == nil {
				t.Errorf("p=%d n=%d: the fast dense phase never started", p, n)
			}
			w, _ := want.MarshalBinary()
			g, _ := h.MarshalBinary()
			if !bytes.Equal(w, g) {
				t.Errorf("p=%d n=%d: encodings differ (dense phase: %v)", p, n, op.regs != nil)
			}
		}
	}
}

func TestDistinctOpNoAllocs(t *testing.T) {
	h, _ := sketch.NewHLL(14)
	op := &distinctOp{hll: h, p: 14, regs: make([]uint8, 1<<14)}
	var b pipeline.Batch
	for i := range 1024 {
		b.AddHashed(nil, uint64(i)*0x9e3779b97f4a7c15)
	}
	if n := testing.AllocsPerRun(100, func() { op.Process(&b, nil) }); n != 0 {
		t.Errorf("got %v allocation(s) (want zero)", n)
	}
}

// TestDeterministicOnStdinAll: however the reads of stdin happen to
// return (and so wherever batches end), every order-sensitive sketch gives
// the same answer.
func TestDeterministicOnStdinAll(t *testing.T) {
	var in strings.Builder
	rng := rand.New(rand.NewPCG(7, 8))
	for range 30000 {
		fmt.Fprintf(&in, "key-%d %.3f\n", int(rng.ExpFloat64()*50), rng.NormFloat64()*10)
	}
	data := in.String()
	for _, args := range [][]string{
		{"sample", "-k", "7"},
		{"stats", "-f", "2", "-j", "3", "-q", "0.1,0.5,0.99"},
		{"freq", "-j", "3", "--precision", "4", "key-1", "key-30"},
	} {
		t.Run(args[0], func(t *testing.T) {
			want, _, _ := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 256}, args...)
			for i := range 3 {
				r := testio.RandomReader([]byte(data), rand.New(rand.NewPCG(uint64(i), 10)))
				got, _, code := runIn(t, runOpts{stdin: r, chunk: 256, buf: 1000}, args...)
				if code != 0 || got != want {
					t.Fatalf("run %d differs:\n%s\nwant\n%s", i, got, want)
				}
			}
		})
	}
}
