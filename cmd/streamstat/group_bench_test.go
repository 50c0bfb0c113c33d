package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
)

// BenchmarkGroupedDistinct measures, in one run, records/s of `distinct`
// over a Zipf (group, value) file of 1M lines "GROUP VALUE" (10^4 groups
// Zipf(1.1), 10^5 values Zipf(1.05)): plain (-f 2, the values; and
// -f 1,2, the pairs as one composite key: the same extraction as --by),
// --by 1 -k 10 (the GroupDistinct sample) and --by 1 -k 0 (every
// group), and reports each grouped run's cost as a ratio to plain -f 2,
// wall and CPU time (issue 15's target: at most 2x). -j 2.
func BenchmarkGroupedDistinct(b *testing.B) {
	const n = 1 << 20
	path, size := zipfPairsFile(b, 2, n, func(sb *strings.Builder, _ int, g, v uint64) {
		fmt.Fprintf(sb, "/p/%d u%d\n", g, v)
	})
	runs := []struct {
		name string
		args []string
	}{
		{"plain", []string{"distinct", "-f", "2"}},
		{"pairs", []string{"distinct", "-f", "1,2"}},
		{"by", []string{"distinct", "-f", "2", "--by", "1"}},
		{"by-all", []string{"distinct", "-f", "2", "--by", "1", "-k", "0"}},
	}
	run := func(args []string) (wall, cpu time.Duration) {
		return timeRun(b, defaultEnv(strings.NewReader(""), io.Discard, io.Discard), append(args, "-j", "2", path))
	}
	for _, r := range runs {
		run(r.args) // warm the page cache and the heap
	}
	b.ReportAllocs()
	b.SetBytes(size)
	wall := make([]time.Duration, len(runs))
	cpu := make([]time.Duration, len(runs))
	for b.Loop() {
		for i, r := range runs {
			w, c := run(r.args)
			wall[i] += w
			cpu[i] += c
		}
	}
	recs := float64(n) * float64(b.N)
	for i, r := range runs {
		b.ReportMetric(recs/wall[i].Seconds(), "rec/s-"+r.name)
		if i == 0 {
			continue
		}
		b.ReportMetric(float64(wall[i])/float64(wall[0]), r.name+"/plain-wall")
		if cputime.Available {
			b.ReportMetric(float64(cpu[i])/float64(cpu[0]), r.name+"/plain-cpu")
		}
	}
}

// zipfPairsFile writes a file of n lines, line(sb, i, group, value)
// each, the groups drawn Zipf(1.1) from 10^4 and the values Zipf(1.05)
// from 10^5 with seed (15, seed), and returns its path and size.
func zipfPairsFile(b *testing.B, seed uint64, n int, line func(sb *strings.Builder, i int, group, value uint64)) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "pairs.txt")
	rng := rand.New(rand.NewPCG(15, seed))
	groups := rand.NewZipf(rng, 1.1, 1, 9999)
	values := rand.NewZipf(rng, 1.05, 1, 99999)
	var sb strings.Builder
	for i := range n {
		g := groups.Uint64()
		line(&sb, i, g, values.Uint64())
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, int64(sb.Len())
}

// timeRun runs streamstat with args in e, which must succeed, and returns
// its wall and CPU time.
func timeRun(b *testing.B, e *env, args []string) (wall, cpu time.Duration) {
	b.Helper()
	c0, w0 := cputime.Process(), time.Now()
	if code := runContext(b.Context(), args, e); code != 0 {
		b.Fatalf("%v: exit %d", args, code)
	}
	return time.Since(w0), cputime.Process() - c0
}
