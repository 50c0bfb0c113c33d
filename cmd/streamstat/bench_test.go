package main

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/benchpair"
	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// BenchmarkDistinctOp measures, in one run, the per-record cost of
// distinct's operator in its dense phase and of pipeline.Distinct on the
// same batches, and reports their ratio.
func BenchmarkDistinctOp(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	var batch pipeline.Batch
	for range 1024 {
		batch.AddHashed(nil, rng.Uint64())
	}
	dense := func() *sketch.HLL {
		h, _ := sketch.NewHLL(14)
		for range 100000 {
			h.AddHash(rng.Uint64())
		}
		return h
	}
	fast := &distinctOp{hll: dense(), p: 14, regs: make([]uint8, 1<<14)}
	plain := &pipeline.Distinct{HLL: dense()}
	b.ReportAllocs()
	var tf, tp time.Duration
	for b.Loop() {
		t0 := time.Now()
		fast.Process(&batch, nil)
		t1 := time.Now()
		plain.Process(&batch, nil)
		tp += time.Since(t1)
		tf += t1.Sub(t0)
	}
	n := float64(b.N * batch.Len())
	b.ReportMetric(float64(tf.Nanoseconds())/n, "ns/record-fast")
	b.ReportMetric(float64(tp.Nanoseconds())/n, "ns/record-plain")
	b.ReportMetric(float64(tf)/float64(tp), "fast/plain")
}

// zipfLines is the input of the --shed benchmarks: 4M lines of Zipf keys
// (zipfgen's stream: 10M keys, s = 1.1), made once.
var zipfLines = sync.OnceValue(func() []byte {
	const n = 4_000_000
	g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 1, Keys: 10_000_000, Count: n})
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 0, 12*n)
	var b pipeline.Batch
	for {
		b.Reset()
		err := g.Fill(context.Background(), &b, 4096)
		for i := range b.Len() {
			buf = append(append(buf, b.Key(i)...), '\n')
		}
		if err == io.EOF {
			return buf
		}
		if err != nil {
			panic(err)
		}
	}
})

// runPiped runs the CLI with args on the input written into a pipe by
// another goroutine, as `cat FILE | streamstat args` does, and returns
// the wall and CPU time (the process's, the writer's included) and
// stdout.
func runPiped(b *testing.B, input []byte, args ...string) (wall, cpu time.Duration, out string) {
	b.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	var stdout, stderr syncBuffer
	start, cpu0 := time.Now(), cputime.Process()
	go func() {
		_, _ = w.Write(input)
		w.Close()
	}()
	code := runContext(context.Background(), args, defaultEnv(r, &stdout, &stderr))
	wall, cpu = time.Since(start), cputime.Process()-cpu0
	r.Close()
	if code != 0 {
		b.Fatalf("streamstat %v: exit %d: %s", args, code, stderr.String())
	}
	return wall, cpu, stdout.String()
}

// benchShedNotSlower runs `cat zipf | streamstat args` and the same with
// --shed, one after the other in alternating order, and reports
// x-noshed and x-noshed-cpu: the medians over the iterations of the
// ratios of the wall and CPU times of --shed to without (x-noshed-max the
// largest wall ratio). A piped file is read faster than the workers count
// it, yet nothing in it is late by more than --max-latency's default
// (the operator keeps up with the pipe but for the reading): --shed must
// cost nothing then, both ratios 1 up to the machine's noise. Run with
// -benchtime 7x or more.
func benchShedNotSlower(b *testing.B, args ...string) {
	input := zipfLines()
	shedArgs := append(slices.Clone(args), "--shed")
	piped := func(args []string) func() benchpair.Time {
		return func() benchpair.Time {
			wall, cpu, _ := runPiped(b, input, args...)
			return benchpair.Time{Wall: wall, CPU: cpu}
		}
	}
	var pairs benchpair.Pairs
	base, shed := piped(args), piped(shedArgs)
	for b.Loop() {
		pairs.Run(base, shed)
	}
	pairs.Report(b, "x-noshed")
}

// BenchmarkShedDistinctNotSlower: distinct --shed (distinct's HLL behind
// key-hash shedding) against distinct on a piped file.
func BenchmarkShedDistinctNotSlower(b *testing.B) { benchShedNotSlower(b, "distinct") }

// BenchmarkShedFreqNotSlower: freq --shed (a count-min fed Units(p) per
// record behind random shedding) against freq on a piped file.
func BenchmarkShedFreqNotSlower(b *testing.B) {
	benchShedNotSlower(b, "freq", "key-0", "key-1", "key-99")
}
