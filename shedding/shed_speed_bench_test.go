package shedding

import (
	"context"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/benchpair"
	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// cycleSource emits n records whose keys cycle through k distinct ones,
// hashed beforehand: a source faster than any operator, as a file piped
// into the CLI is.
type cycleSource struct {
	keys [][]byte
	hs   []uint64
	i, n int
}

// cycleKeys are the keys "0" to "k-1" and their hashes, made once.
var cycleKeys = sync.OnceValues(func() ([][]byte, []uint64) {
	const k = 100_003
	keys, hs := make([][]byte, k), make([]uint64, k)
	for i := range keys {
		keys[i] = []byte(strconv.Itoa(i))
		hs[i] = sketch.Hash(keys[i])
	}
	return keys, hs
})

func newCycleSource(n int) *cycleSource {
	keys, hs := cycleKeys()
	return &cycleSource{keys: keys, hs: hs, n: n}
}

func (s *cycleSource) Fill(_ context.Context, b *pipeline.Batch, max int) error {
	for range max {
		if s.i >= s.n {
			return io.EOF
		}
		j := s.i % len(s.keys)
		b.AddHashed(s.keys[j], s.hs[j])
		s.i++
	}
	return nil
}

// BenchmarkShedNotSlower runs what `streamstat top --shed` runs on a file
// piped in (a source as fast as it can go, 100003 keys in turn, into a
// TopKeys of 16384 counters; the pipeline puts a channel in front of it
// and runs it in the source's goroutine while nothing is shed) and what
// top runs without --shed (a TopK counting 1 per record, chained to the
// source), and reports each variant's wall and CPU time over the latter's
// as x-noshed and x-noshed-cpu: the medians over the iterations of the
// ratios of two runs made one after the other (in alternating order),
// robust to a machine whose load changes; x-noshed-max is the largest wall
// ratio. The target is x-noshed <= 1 and x-noshed-cpu <= 1, shedding never
// making a run slower: run with -benchtime 5x or more. shed-frac is the
// fraction shed in the last run. Variants: the default controller
// (target 100 ms, which stops shedding that does not make the source
// faster); the operator behind a channel and no shedder (what the channel
// alone costs); p fixed at 0.5 (what shedding half saves, or costs: a
// TopK fed Units(p) costs more per record than one fed 1, see
// BenchmarkTopKWeights).
func BenchmarkShedNotSlower(b *testing.B) {
	const n = 10_000_000
	run := func(b *testing.B, shed *Config, noChain bool) (time.Duration, time.Duration, Summary) {
		gen := newCycleSource(n)
		tk, _ := sketch.NewTopK(1 << 14)
		cfg := pipeline.Config{}
		var g *Group
		var err error
		if shed != nil {
			if g, err = NewGroup(*shed); err != nil {
				b.Fatal(err)
			}
			cfg.NewShedder = g.NewShedder
		}
		p, err := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{
			Name: "top", NoChain: noChain,
			New: func(int) (pipeline.Operator, error) {
				if shed != nil {
					return &TopKeys{Capacity: tk.Capacity()}, nil
				}
				return &pipeline.HeavyHitters{TopK: tk}, nil // counts 1 per record
			},
		}}, cfg)
		if err != nil {
			b.Fatal(err)
		}
		start, cpu0 := time.Now(), cputime.Process()
		if err := p.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		d, cpu := time.Since(start), cputime.Process()-cpu0
		var s Summary
		if g != nil {
			s = g.Summary()
		}
		return d, cpu, s
	}
	for _, v := range []struct {
		name    string
		shed    *Config
		noChain bool
	}{
		{"controller", &Config{}, false},
		{"channel-only", nil, true},
		{"fixed-0.5", &Config{Controller: ControllerConfig{Fixed: 0.5}}, false},
	} {
		b.Run(v.name, func(b *testing.B) {
			cycleKeys() // made once, outside what allocs/op counts
			b.ReportAllocs()
			var with time.Duration
			var pairs benchpair.Pairs
			var s Summary
			base := func() benchpair.Time {
				d, c, _ := run(b, nil, false)
				return benchpair.Time{Wall: d, CPU: c}
			}
			shed := func() benchpair.Time {
				d, c, sum := run(b, v.shed, v.noChain)
				with, s = with+d, sum
				return benchpair.Time{Wall: d, CPU: c}
			}
			for b.Loop() {
				pairs.Run(base, shed) // in alternating order: a change of the machine's load slows both alike
			}
			pairs.Report(b, "x-noshed")
			b.ReportMetric(s.Fraction(), "shed-frac")
			b.ReportMetric(float64(with.Nanoseconds())/float64(b.N)/n, "ns/record")
		})
	}
}

// BenchmarkTopKWeights: the cost per record of a TopK of 16384 counters
// over 100003 keys in turn, fed Unit per record (no shedding), Units(0.5)
// (a constant p) and Units(p) with p changing every 10000 records, as a
// controller changes it. x-unit is the time over the Unit run's. (A TopK
// that slows down on changing weights makes shedding cost more per record
// kept than it saves: see BenchmarkShedNotSlower.)
func BenchmarkTopKWeights(b *testing.B) {
	keys, hs := cycleKeys()
	nk := len(keys)
	const n = 1_000_000
	run := func(w func(i int) uint64) time.Duration {
		tk, _ := sketch.NewTopK(1 << 14)
		start := time.Now()
		for i := range n {
			j := i % nk
			tk.AddHash(hs[j], keys[j], w(i))
		}
		return time.Since(start)
	}
	unit := func(int) uint64 { return Unit }
	for _, v := range []struct {
		name string
		w    func(i int) uint64
	}{
		{"constant-p", func(int) uint64 { return Units(0.5) }},
		{"changing-p", func(i int) uint64 { return Units(float32(Quantize(0.5 + float64((i/10_000)%50)/200))) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			var base, with time.Duration
			for b.Loop() {
				base += run(unit)
				with += run(v.w)
			}
			b.ReportMetric(float64(with)/float64(base), "x-unit")
			b.ReportMetric(float64(with.Nanoseconds())/float64(b.N)/n, "ns/record")
		})
	}
}

// BenchmarkTopKeysWeights: the cost per record of top --shed's operator
// (TopKeys of 1024 counters, top's default, 100003 keys in turn, batches
// of 1024) on records kept at p changing every 50000 records (a 10 ms
// tick of a fast source), as a controller changes it, over its cost on
// records never shed (x-unit). Each p's records go to
// a TopK at a constant weight, folded into the others' at a change of p:
// compare BenchmarkTopKWeights/changing-p, one TopK fed every weight.
func BenchmarkTopKeysWeights(b *testing.B) {
	keys, hs := cycleKeys()
	nk := len(keys)
	const n = 1_000_000
	batches := make([]pipeline.Batch, n/1024)
	for bi := range batches {
		for j := range 1024 {
			k := (bi*1024 + j) % nk
			batches[bi].AddHashed(keys[k], hs[k])
		}
	}
	run := func(p func(i int) float32) time.Duration {
		o := &TopKeys{Capacity: 1024}
		var out pipeline.Batch
		for bi := range batches {
			for j := range batches[bi].Records {
				batches[bi].Records[j].KeepP = p(bi*1024 + j)
			}
		}
		start := time.Now()
		for bi := range batches {
			if err := o.Process(&batches[bi], &out); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	unit := func(int) float32 { return 1 }
	changing := func(i int) float32 { return float32(Quantize(0.5 + float64((i/50_000)%50)/200)) }
	b.ReportAllocs()
	var base, with time.Duration
	for b.Loop() {
		base += run(unit)
		with += run(changing)
	}
	b.ReportMetric(float64(with)/float64(base), "x-unit")
	b.ReportMetric(float64(with.Nanoseconds())/float64(b.N)/float64(len(batches)*1024), "ns/record")
}
