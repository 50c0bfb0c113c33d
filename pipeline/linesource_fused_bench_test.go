//go:build linux && (amd64 || arm64)

package pipeline

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/sketch"
)

// lsVariant is one way of running a LineSource that a benchmark compares
// with a baseline in the same run: set changes the package's switches and
// returns a func that restores them.
type lsVariant struct {
	name string
	set  func() (restore func())
}

// BenchmarkMappedDistinctVariants reads a 64 MB file through its memory
// map (NewRangeSource, 16 ranges in turn) as the CLI's distinct does (whole-line
// keys, HashOnly, DefaultBatchSize batches, each hash into the registers
// of a dense HLL with MaxRegisters), once per variant in every iteration
// (each first in turn), and reports each variant's CPU time per line and
// its ratio to the first's (the baseline, the code as it was), measured
// in the same run:
//
//	go test -run XXX -bench BenchmarkMappedDistinctVariants ./pipeline
//
// 64 MB is more than the caches keep, so the source's first pass waits on
// memory as it does on a file of the benchmark script's size.
func BenchmarkMappedDistinctVariants(b *testing.B) {
	variants := []lsVariant{
		{"batch", func() func() { // every key of a Fill hashed after its newlines were all found
			old := hashEvery
			hashEvery = math.MaxInt
			return func() { hashEvery = old }
		}},
		{"block", func() func() { return func() {} }}, // as the code stands
	}
	benchMappedVariants(b, LineConfig{HashOnly: true}, variants, func() func(*Batch) {
		regs := make([]uint8, 1<<14)
		return func(b *Batch) { MaxRegisters(regs, 14, b.Records) }
	})
}

// BenchmarkMappedTopVariants is BenchmarkMappedDistinctVariants for the
// CLI's top: the keys copied into the batches (LineConfig without
// HashOnly, the CLI's key cap), each batch into a TopK of 4096 counters
// (HeavyHitters):
//
//	go test -run XXX -bench BenchmarkMappedTopVariants ./pipeline
func BenchmarkMappedTopVariants(b *testing.B) {
	variants := []lsVariant{
		{"batch", func() func() { // keys hashed and copied once a Fill
			old := hashEvery
			hashEvery = math.MaxInt
			return func() { hashEvery = old }
		}},
		{"block", func() func() { return func() {} }}, // as the code stands
	}
	benchMappedVariants(b, LineConfig{MaxKeyLen: 4096}, variants, func() func(*Batch) {
		t, err := sketch.NewTopK(4096)
		if err != nil {
			b.Fatal(err)
		}
		op := &HeavyHitters{TopK: t}
		return func(b *Batch) { op.Process(b, nil) }
	})
}

// benchMappedVariants runs variants (see BenchmarkMappedDistinctVariants)
// on files of keys of 128, 64, 32 and 8 bytes, fixed and mixed lengths,
// read with cfg, each batch given to a sink that newSink makes for each
// variant.
func benchMappedVariants(b *testing.B, cfg LineConfig, variants []lsVariant, newSink func() func(*Batch)) {
	for _, l := range []int{128, 64, 32, 8} {
		for _, mixed := range []bool{false, true} {
			name := fmt.Sprintf("len=%d", l)
			if mixed {
				name = fmt.Sprintf("len=%d..%d", l/2, l+l/2)
			}
			b.Run(name, func(b *testing.B) {
				data := lsKeyLengthData(64<<20, l, mixed)
				path := filepath.Join(b.TempDir(), "in")
				if err := os.WriteFile(path, data, 0o600); err != nil {
					b.Fatal(err)
				}
				lines := float64(countNewlines(data))
				data = nil
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				fi, err := f.Stat()
				if err != nil {
					b.Fatal(err)
				}
				// 16 ranges, read one after the other, as the CLI's
				// two workers read 8 each.
				ranges, err := SplitReaderAt(f, path, fi.Size(), 16)
				if err != nil {
					b.Fatal(err)
				}
				cpu := make([]time.Duration, len(variants))
				sinks := make([]func(*Batch), len(variants))
				for v := range sinks {
					sinks[v] = newSink()
				}
				var batch Batch
				b.ReportAllocs()
				for iter := 0; b.Loop(); iter++ {
					// Each variant first in turn: the one after reads
					// the pages the first has just had the kernel map.
					for k := range variants {
						v := (k + iter) % len(variants)
						restore := variants[v].set()
						c0 := cputime.Process()
						for _, fr := range ranges {
							s, err := NewRangeSource(f, fr, cfg)
							if err != nil {
								b.Fatal(err)
							}
							for {
								batch.Reset()
								err := s.Fill(context.Background(), &batch, DefaultBatchSize)
								sinks[v](&batch)
								if err == io.EOF {
									break
								}
								if err != nil {
									b.Fatal(err)
								}
							}
							s.Close()
						}
						cpu[v] += cputime.Process() - c0
						restore()
					}
				}
				n := float64(b.N) * lines
				for v := range variants {
					b.ReportMetric(float64(cpu[v].Nanoseconds())/n, variants[v].name+"-ns/line")
					if v > 0 {
						b.ReportMetric(cpu[v].Seconds()/cpu[0].Seconds(), variants[v].name+"/"+variants[0].name)
					}
				}
			})
		}
	}
}

// countNewlines is the number of '\n' in b.
func countNewlines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
