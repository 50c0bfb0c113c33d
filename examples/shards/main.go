// Command shards builds sketches on several shards of a stream, saves them,
// loads the saved bytes back and merges them, and prints the merged answer
// beside the exact one. A shard is what one machine, one day or one
// partition saw; the shards overlap (a popular item shows up on every
// one), so adding up the shards' own answers would count it several
// times, while the merged sketches count it once, with bounds.
//
//	go run ./examples/shards
//	go run ./examples/shards -shards 8 -n 500000 -dir /tmp/shards
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/streamstat/streamstat/sketch"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "shards:", err)
		os.Exit(1)
	}
}

type options struct {
	shards, n, items, top int
	seed                  uint64
	dir                   string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("shards", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.shards, "shards", 4, "number of shards")
	fs.IntVar(&o.n, "n", 250_000, "records per shard")
	fs.IntVar(&o.items, "items", 500_000, "distinct items the shards draw from")
	fs.IntVar(&o.top, "top", 5, "heavy hitters to list")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.StringVar(&o.dir, "dir", "", "directory to save the shards' sketches in (default: a temporary one, removed at the end)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.shards < 1 || o.n < 0 || o.items < 2 || o.top < 1:
		return o, errors.New("-shards and -top must be at least 1, -items at least 2, -n not negative")
	}
	return o, nil
}

// sketches are one shard's summary, or the merged one.
type sketches struct {
	distinct *sketch.HLL
	top      *sketch.TopK
	freq     *sketch.CountMin
	seen     *sketch.Bloom
}

// The files a shard is saved as, one per sketch: each its canonical bytes.
var kinds = []string{"hll", "topk", "cm", "bloom"}

func newSketches(items int) (*sketches, error) {
	var s sketches
	var err error
	if s.distinct, err = sketch.NewHLL(14); err != nil {
		return nil, err
	}
	if s.top, err = sketch.NewTopK(1024); err != nil {
		return nil, err
	}
	if s.freq, err = sketch.NewCountMin(0.0005, 0.01); err != nil {
		return nil, err
	}
	// Every shard's filter has the same size (items it may see in all),
	// so that they merge: a Bloom filter merges only with its own shape.
	if s.seen, err = sketch.NewBloom(uint64(items), 0.01); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *sketches) add(item []byte) {
	h := sketch.Hash(item) // hash once, give the uint64 to every sketch
	s.distinct.AddHash(h)
	s.top.AddHash(h, item, 1)
	s.freq.AddHash(h, 1)
	s.seen.AddHash(h)
}

func (s *sketches) marshalers() []interface{ MarshalBinary() ([]byte, error) } {
	return []interface{ MarshalBinary() ([]byte, error) }{s.distinct, s.top, s.freq, s.seen}
}

// shardStream calls add with each item of shard i: every shard draws from
// the same Zipf-distributed items with its own randomness, so popular items
// are on every shard and rare ones on one.
func shardStream(o options, i int, add func(item []byte)) {
	rng := rand.New(rand.NewPCG(o.seed, uint64(i)))
	z := rand.NewZipf(rng, 1.1, 1, uint64(o.items-1))
	var buf []byte
	for range o.n {
		buf = strconv.AppendUint(append(buf[:0], "item-"...), z.Uint64(), 10)
		add(buf)
	}
}

// buildShard summarizes shard i and saves its sketches in dir.
func buildShard(o options, i int, dir string) (sketch.Estimate, error) {
	s, err := newSketches(o.items)
	if err != nil {
		return sketch.Estimate{}, err
	}
	shardStream(o, i, s.add)
	for k, m := range s.marshalers() {
		b, err := m.MarshalBinary()
		if err == nil {
			err = os.WriteFile(shardFile(dir, i, kinds[k]), b, 0o644)
		}
		if err != nil {
			return sketch.Estimate{}, err
		}
	}
	return s.distinct.Estimate(), nil
}

func shardFile(dir string, i int, kind string) string {
	return filepath.Join(dir, fmt.Sprintf("shard-%d.%s", i, kind))
}

// mergeShards loads the saved sketches of every shard and merges them.
func mergeShards(o options, dir string) (*sketches, error) {
	all, err := newSketches(o.items)
	if err != nil {
		return nil, err
	}
	for i := range o.shards {
		var s sketches
		s.distinct, s.top, s.freq, s.seen = new(sketch.HLL), new(sketch.TopK), new(sketch.CountMin), new(sketch.Bloom)
		for k, u := range []interface{ UnmarshalBinary([]byte) error }{s.distinct, s.top, s.freq, s.seen} {
			b, err := os.ReadFile(shardFile(dir, i, kinds[k]))
			if err != nil {
				return nil, err
			}
			if err := u.UnmarshalBinary(b); err != nil { // bad bytes: an error, never a panic
				return nil, fmt.Errorf("%s: %w", shardFile(dir, i, kinds[k]), err)
			}
		}
		if err := errors.Join(all.distinct.Merge(s.distinct), all.top.Merge(s.top), all.freq.Merge(s.freq), all.seen.Merge(s.seen)); err != nil {
			return nil, fmt.Errorf("shard %d: %w", i, err)
		}
	}
	return all, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "shards"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// Each shard on a goroutine of its own, as on machines of their own.
	type built struct {
		e   sketch.Estimate
		err error
	}
	done := make([]chan built, o.shards)
	for i := range done {
		done[i] = make(chan built, 1)
		go func() {
			e, err := buildShard(o, i, dir)
			done[i] <- built{e, err}
		}()
	}
	var sum float64
	for i, ch := range done {
		b := <-ch
		if b.err != nil {
			return fmt.Errorf("shard %d: %w", i, b.err)
		}
		sum += b.e.Value
		fmt.Fprintf(stdout, "shard %-3d %d records  distinct %.0f  (%.0f .. %.0f)  saved in %s\n", i, o.n, b.e.Value, b.e.Lower, b.e.Upper, shardFile(dir, i, "*"))
	}

	all, err := mergeShards(o, dir)
	if err != nil {
		return err
	}
	exact := map[string]int{} // the truth, to compare: a sketch never keeps this
	for i := range o.shards {
		shardStream(o, i, func(item []byte) { exact[string(item)]++ })
	}

	fmt.Fprintf(stdout, "shards' distinct counts added up: %.0f (an item on several shards counted on each)\n", sum)
	fmt.Fprintf(stdout, "merged    %d records\n", o.shards*o.n)
	report(stdout, "distinct", all.distinct.Estimate(), len(exact))
	fmt.Fprintf(stdout, "top %d (merged count, certain bounds, exact)\n", o.top)
	for _, it := range all.top.Top(o.top) {
		c := exact[it.Key]
		fmt.Fprintf(stdout, "  %-12s %d  (%d .. %d)  exact %d  inside: %t\n", it.Key, it.Count, it.Lower, it.Upper, c, it.Lower <= uint64(c) && uint64(c) <= it.Upper)
	}
	for _, key := range []string{"item-0", "item-10", "item-1000"} {
		report(stdout, "freq "+key, all.freq.EstimateString(key), exact[key])
	}
	missed := 0
	for key := range exact {
		if !all.seen.TestString(key) {
			missed++
		}
	}
	fmt.Fprintf(stdout, "member    %d of %d items of all shards answer yes in the merged filter (no false negatives: %t)\n", len(exact)-missed, len(exact), missed == 0)
	return nil
}

// report prints an estimate, its bounds and the exact value beside it.
func report(w io.Writer, name string, e sketch.Estimate, exact int) {
	fmt.Fprintf(w, "%-9s %.0f  (%.0f%% bounds %.0f .. %.0f)  exact %d  inside: %t\n",
		name, e.Value, 100*e.Confidence, e.Lower, e.Upper, exact, e.Contains(float64(exact)))
}
