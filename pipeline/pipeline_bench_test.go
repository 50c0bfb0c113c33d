package pipeline

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/streamstat/streamstat/sketch"

	"github.com/streamstat/streamstat/flowcontrol"
)

const benchRecords = 2_000_000

func benchGenerator(b testing.TB, from, to int64) *Generator {
	g, err := NewGenerator(GeneratorConfig{Seed: 7, Keys: 1e6, Count: to})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.SetPosition(from); err != nil {
		b.Fatal(err)
	}
	return g
}

func newDistinct(int) (Operator, error) {
	h, err := sketch.NewHLL(14)
	return &Distinct{HLL: h}, err
}

// runHLL runs par generators, each over its share of n records, into a
// parallel HLL stage, and returns the elapsed time.
func runHLL(b testing.TB, n int64, par int, stage Stage, cfg Config) time.Duration {
	var srcs []Source
	for i := range int64(par) {
		srcs = append(srcs, benchGenerator(b, i*n/int64(par), (i+1)*n/int64(par)))
	}
	stage.Name, stage.New, stage.Parallelism = "hll", newDistinct, par
	p, err := New(srcs, []Stage{stage}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// bare is the baseline: the same generator and the same HLL updates in one
// loop, with no runtime at all.
func bare(b testing.TB, n int64) time.Duration {
	g := benchGenerator(b, 0, n)
	h, _ := sketch.NewHLL(14)
	var batch Batch
	start := time.Now()
	for {
		batch.Reset()
		err := g.Fill(context.Background(), &batch, DefaultBatchSize)
		for i := range batch.Records {
			h.AddHash(batch.Records[i].Hash)
		}
		if err != nil {
			break
		}
	}
	return time.Since(start)
}

// BenchmarkPipelineVsBare: source -> HLL operator through a credit channel
// at parallelism 1, against a bare loop doing the same generation and HLL
// updates. throughput-ratio = pipeline ÷ bare; target >= 0.8. The pipeline
// may beat the loop: source and operator run on different cores.
func BenchmarkPipelineVsBare(b *testing.B) {
	var tb, tp time.Duration
	b.ReportAllocs()
	for b.Loop() {
		tb += bare(b, benchRecords)
		tp += runHLL(b, benchRecords, 1, Stage{NoChain: true}, Config{})
	}
	b.ReportMetric(float64(tb)/float64(tp), "throughput-ratio")
	b.ReportMetric(float64(benchRecords*b.N)/tp.Seconds(), "records/s")
}

// BenchmarkPipelineParallel: the same workload at parallelism 2 (two
// generators, each chained with its HLL instance: one goroutine per
// instance) against parallelism 1; speedup target >= 1.6 on 2 cores.
func BenchmarkPipelineParallel(b *testing.B) {
	var t1, t2 time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t1 += runHLL(b, 4*benchRecords, 1, Stage{}, Config{})
		t2 += runHLL(b, 4*benchRecords, 2, Stage{}, Config{})
	}
	b.ReportMetric(float64(t1)/float64(t2), "speedup")
	b.ReportMetric(float64(4*benchRecords*b.N)/t2.Seconds(), "records/s-par2")
}

// BenchmarkMetricsOverhead runs the pipeline with metrics on and off and
// reports the cost of keeping them on, in percent of the time.
func BenchmarkMetricsOverhead(b *testing.B) {
	var on, off time.Duration
	for b.Loop() {
		off += runHLL(b, benchRecords, 1, Stage{NoChain: true}, Config{NoMetrics: true})
		on += runHLL(b, benchRecords, 1, Stage{NoChain: true}, Config{})
	}
	b.ReportMetric(100*(float64(on)/float64(off)-1), "overhead-%")
}

// BenchmarkMetricsPerBatch measures the instrumentation of one batch
// directly (the part NoMetrics skips) against processing that batch, the
// noise-free figure behind BenchmarkMetricsOverhead.
func BenchmarkMetricsPerBatch(b *testing.B) {
	g := benchGenerator(b, 0, 1<<40)
	var batch Batch
	op, _ := newDistinct(0)
	for range 200 { // make the sketch dense, its steady state
		batch.Reset()
		_ = g.Fill(context.Background(), &batch, DefaultBatchSize)
		_ = op.Process(&batch, nil)
	}
	var inst instance
	var src sourceCounters
	var clock flowcontrol.Clock = systemClock{}
	var instr, work time.Duration
	out := new(Batch)
	for b.Loop() {
		start := time.Now()
		for range 1000 {
			_ = op.Process(&batch, out)
		}
		work += time.Since(start)
		start = time.Now()
		for range 1000 {
			// A source's Fill: one clock reading and its record count;
			// an operator: its records in and out.
			if clock.Now().IsZero() {
				src.idle.Add(1)
			}
			src.records.Add(uint64(batch.Len()))
			inst.in.Add(uint64(batch.Len()))
			inst.out.Add(uint64(out.Len()))
		}
		instr += time.Since(start)
	}
	b.ReportMetric(100*float64(instr)/float64(work), "overhead-%")
	b.ReportMetric(float64(instr)/float64(b.N)/1000, "ns/batch-metrics")
}

// TestPipelineSteadyStateAllocs shows that the runtime allocates nothing per
// record: ten times the records cost no more allocations than one time.
func TestPipelineSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("timing-independent but slow under -race")
	}
	mallocs := func(n int64) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		runHLL(t, n, 2, Stage{Input: ByKey}, Config{})
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	mallocs(1000) // warm up
	small, large := mallocs(100_000), mallocs(1_000_000)
	perRecord := (float64(large) - float64(small)) / 900_000
	t.Logf("allocations: %d for 1e5 records, %d for 1e6: %.5f per record", small, large, perRecord)
	if perRecord > 0.001 {
		t.Errorf("%.4f allocations per record in steady state (want zero)", perRecord)
	}
}
