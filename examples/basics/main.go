// Command basics asks the four questions streamstat's sketches answer, from
// Go code, each with bounds: how many distinct items (HLL), which are the
// most frequent (TopK), how often did this one occur (CountMin), and was
// this one seen (Bloom). It feeds them a synthetic stream of Zipf-distributed
// items and prints each answer beside the exact one, which it also keeps (in
// a map, as a sketch never would) to show that the bounds hold.
//
//	go run ./examples/basics
//	go run ./examples/basics -n 5000000 -items 2000000 -seed 7
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "basics:", err)
		os.Exit(1)
	}
}

type options struct {
	n, items, top, probes int
	seed                  uint64
	zipf                  float64
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("basics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 1_000_000, "records in the stream")
	fs.IntVar(&o.items, "items", 500_000, "distinct items the stream draws from")
	fs.Float64Var(&o.zipf, "s", 1.1, "Zipf exponent (> 1): larger is more skewed")
	fs.IntVar(&o.top, "top", 5, "heavy hitters to list")
	fs.IntVar(&o.probes, "probes", 1_000_000, "items never added, asked of the Bloom filter")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.n < 0 || o.items < 1 || o.top < 1 || o.probes < 0:
		return o, fmt.Errorf("-n, -top, -probes must not be negative and -items, -top at least 1")
	case !(o.zipf > 1):
		return o, fmt.Errorf("-s %v: the Zipf exponent must be above 1", o.zipf)
	}
	return o, nil
}

// sketches are the four answers' state: a few hundred KB whatever the
// stream's length.
type sketches struct {
	distinct *sketch.HLL
	top      *sketch.TopK
	freq     *sketch.CountMin
	seen     *sketch.Bloom
}

func newSketches(items int) (*sketches, error) {
	var s sketches
	var err error
	if s.distinct, err = sketch.NewHLL(14); err != nil { // ~0.8% standard error, 16 KiB
		return nil, err
	}
	if s.top, err = sketch.NewTopK(1024); err != nil { // certain bounds on every listed count
		return nil, err
	}
	if s.freq, err = sketch.NewCountMin(0.0005, 0.01); err != nil { // within 0.05% of the stream, 99% of the time
		return nil, err
	}
	if s.seen, err = sketch.NewBloom(uint64(items), 0.01); err != nil { // 1% false positives once full
		return nil, err
	}
	return &s, nil
}

// add hashes the item once and gives the hash to every sketch.
func (s *sketches) add(item []byte) {
	h := sketch.Hash(item)
	s.distinct.AddHash(h)
	s.top.AddHash(h, item, 1)
	s.freq.AddHash(h, 1)
	s.seen.AddHash(h)
}

func run(args []string, stdout io.Writer) error {
	o, err := parse(args, os.Stderr)
	if err != nil {
		return err
	}
	s, err := newSketches(o.items)
	if err != nil {
		return err
	}
	exact := make(map[string]int) // the truth, to compare: memory grows with the items
	name := stream(o, func(item []byte) {
		s.add(item)
		exact[string(item)]++
	})

	fmt.Fprintf(stdout, "records   %d\n", o.n)
	report(stdout, "distinct", s.distinct.Estimate(), len(exact))

	fmt.Fprintf(stdout, "top %d (count, certain bounds, exact)\n", o.top)
	for _, it := range s.top.Top(o.top) {
		in := float64(it.Lower) <= float64(exact[it.Key]) && exact[it.Key] <= int(it.Upper)
		fmt.Fprintf(stdout, "  %-12s %d  (%d .. %d)  exact %d  inside: %t  surely top %d: %t\n",
			it.Key, it.Count, it.Lower, it.Upper, exact[it.Key], in, o.top, it.Guaranteed)
	}

	for _, rank := range []uint64{0, 9, 999} {
		key := string(name(nil, rank))
		report(stdout, "freq "+key, s.freq.EstimateString(key), exact[key])
	}
	report(stdout, "freq never-added", s.freq.EstimateString("never-added"), 0)

	// Membership: a Bloom filter never forgets an item added (no false
	// negatives) and wrongly says yes to an item never added at a rate it
	// can tell from its own bits.
	missed := 0
	for key := range exact {
		if !s.seen.TestString(key) {
			missed++
		}
	}
	fp := 0
	var buf []byte
	for i := range o.probes {
		buf = strconv.AppendInt(append(buf[:0], "absent-"...), int64(i), 10)
		if s.seen.Test(buf) {
			fp++
		}
	}
	fmt.Fprintf(stdout, "member    %d of %d items added answer yes (no false negatives: %t)\n", len(exact)-missed, len(exact), missed == 0)
	if o.probes > 0 {
		fmt.Fprintf(stdout, "member    %d of %d items never added answer yes: %.4f%%, the filter's own estimate %.4f%%\n",
			fp, o.probes, 100*float64(fp)/float64(o.probes), 100*s.seen.EstimatedFPRate())
	}
	report(stdout, "bloom distinct", s.seen.Estimate(), len(exact))
	return nil
}

// stream calls add with each of the o.n items of the stream, Zipf
// distributed over o.items ranks, and returns the function that appends the
// name of a rank to a buffer.
//
// Each seed names the items afresh (rank r is item-(r·mul+add mod 2^32), a
// bijection), so that runs with other seeds see other items, not the same
// few hundred thousand: the distinct count's 95% bounds miss the truth on
// one item set in twenty, and a new seed is a new draw.
func stream(o options, add func(item []byte)) (name func(dst []byte, rank uint64) []byte) {
	rng := rand.New(rand.NewPCG(o.seed, 12))
	z := rand.NewZipf(rng, o.zipf, 1, uint64(o.items-1))
	mul, off := uint32(rng.Uint64()|1), uint32(rng.Uint64())
	name = func(dst []byte, rank uint64) []byte {
		return strconv.AppendUint(append(dst, "item-"...), uint64(uint32(rank)*mul+off), 10)
	}
	var buf []byte
	for range o.n {
		buf = name(buf[:0], z.Uint64())
		add(buf)
	}
	return name
}

// report prints an estimate, its 95% bounds and the exact value beside it.
func report(w io.Writer, name string, e sketch.Estimate, exact int) {
	fmt.Fprintf(w, "%-9s %.0f  (%.0f%% bounds %.0f .. %.0f)  exact %d  inside: %t\n",
		name, e.Value, 100*e.Confidence, e.Lower, e.Upper, exact, e.Contains(float64(exact)))
}
