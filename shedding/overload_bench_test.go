package shedding

import (
	"context"
	"errors"
	"io"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// The overload benchmark: a slow operator (a busy-wait of a fixed cost per
// record, calibrated at the start) behind a credit channel, fed by a
// rate-controlled generator that steps from half the operator's measured
// capacity to 2x (and 4x) for a few seconds, then back to half. Records
// are stamped with the time they were due at the generator, so the latency
// measured at the operator includes any wait in the source. Real clock:
// this is a benchmark, not a unit test.
const (
	overloadCost   = 10 * time.Microsecond // per record at the operator
	overloadBefore = 500 * time.Millisecond
	overloadStep   = 3500 * time.Millisecond // at the overload rate
	overloadAfter  = time.Second
	overloadSettle = 2 * time.Second // measure from step start + settle to step end
)

// debugOverload logs a timeline of p, the rates and the operator's
// load every 100 ms of the shedding runs.
var debugOverload = false

// spinner burns a calibrated amount of CPU per record.
type spinner struct{ perMicro float64 }

var spinSink uint64

func spin(n int) {
	x := spinSink | 1
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	spinSink = x
}

func calibrateSpin() spinner {
	const n = 20_000_000
	spin(n / 10)
	best := time.Duration(1 << 62)
	for range 3 {
		t := time.Now()
		spin(n)
		best = min(best, time.Since(t))
	}
	return spinner{perMicro: n / float64(best.Microseconds())}
}

// phase is a stretch of the input at one rate.
type phase struct {
	rate float64
	d    time.Duration
}

// phasedSource runs a Generator per phase, one after the other, and
// stamps each record with the time it was due: t0 of its phase plus its
// index over the rate.
type phasedSource struct {
	phases []phase
	cur    int
	g      *pipeline.Generator
	t0     time.Time
	starts []time.Time // when each phase began
}

func (s *phasedSource) Fill(ctx context.Context, b *pipeline.Batch, max int) error {
	for {
		if s.cur >= len(s.phases) {
			return io.EOF
		}
		ph := s.phases[s.cur]
		if s.g == nil {
			g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{
				Seed: uint64(s.cur), Keys: 100_000, Rate: ph.rate, Count: int64(ph.rate * ph.d.Seconds()),
			})
			if err != nil {
				return err
			}
			s.g, s.t0 = g, time.Now()
			s.starts = append(s.starts, s.t0)
		}
		from, pos := b.Len(), s.g.Position()
		err := s.g.Fill(ctx, b, max)
		for i := from; i < b.Len(); i++ {
			idx := pos + int64(i-from)
			b.Records[i].Time = s.t0.UnixNano() + int64(float64(idx)/ph.rate*1e9)
		}
		if errors.Is(err, io.EOF) {
			s.g = nil
			s.cur++
			if b.Len() > from {
				return nil
			}
			continue
		}
		return err
	}
}

// slowOp busy-waits per record and notes when each record was processed
// and how late.
type slowOp struct {
	iters int
	done  []int64 // processing time, Unix ns
	lat   []int64 // latency, ns
}

func (o *slowOp) Process(in, out *pipeline.Batch) error {
	for i := range in.Records {
		spin(o.iters)
		if t := in.Records[i].Time; t != 0 {
			now := time.Now().UnixNano()
			o.done = append(o.done, now)
			o.lat = append(o.lat, now-t)
		}
	}
	return nil
}

// overloadRun is one run of the overload benchmark.
type overloadRun struct {
	p99, max    time.Duration // latency of records processed in the window
	shedWindow  float64       // shed fraction of the records due in the window
	summary     Summary
	throughputW float64 // records/s processed in the window
	pAfter      float64 // p at the end, the load dropped back
	shedBefore  float64 // fraction shed before the step
	shedAfter   float64 // fraction shed in the second half second after it
}

func runOverload(b *testing.B, sp spinner, capacity, load float64, shed bool) overloadRun {
	src := &phasedSource{phases: []phase{
		{capacity / 2, overloadBefore}, {load * capacity, overloadStep}, {capacity / 2, overloadAfter},
	}}
	op := &slowOp{iters: int(sp.perMicro * float64(overloadCost.Microseconds()))}
	op.done = make([]int64, 0, int(capacity*8))
	op.lat = make([]int64, 0, int(capacity*8))
	cfg := pipeline.Config{}
	var g *Group
	if shed {
		var err error
		if g, err = NewGroup(Config{Policy: Random}); err != nil {
			b.Fatal(err)
		}
		cfg.NewShedder = g.NewShedder
	}
	p, err := pipeline.New([]pipeline.Source{src}, []pipeline.Stage{{
		Name: "slow", NoChain: true, New: func(int) (pipeline.Operator, error) { return op, nil },
	}}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	total := overloadBefore + overloadStep + overloadAfter
	ctx, cancel := context.WithTimeout(context.Background(), total+500*time.Millisecond)
	defer cancel()
	stop := make(chan struct{})
	if g != nil && debugOverload {
		go func() {
			t0 := time.Now()
			prev := p.Metrics()
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				s := g.Shedder(0)
				l, m := s.Rates()
				m2 := p.Metrics()
				r := m2.Rates(prev)
				prev = m2
				b.Logf("%5.2fs p %.3f λ %.0f μ %.0f | op in %.0f/s busy %.0f idle %.0f ms/s backlog %d", time.Since(t0).Seconds(), s.P(), l, m, r[0].InPerSec, r[0].BusyMsPerSec, r[0].IdleMsPerSec, m2.Operators[0].Backlog)
			}
		}()
	}
	err = p.Run(ctx)
	close(stop)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		b.Fatal(err)
	}
	var r overloadRun
	if len(src.starts) < 2 {
		b.Fatal("the overload phase never started")
	}
	from := src.starts[1].Add(overloadSettle).UnixNano()
	to := src.starts[1].Add(overloadStep).UnixNano()
	var lats []int64
	for i, t := range op.done {
		if t >= from && t < to {
			lats = append(lats, op.lat[i])
		}
	}
	slices.Sort(lats)
	if len(lats) > 0 {
		r.p99 = time.Duration(lats[len(lats)*99/100])
		r.max = time.Duration(lats[len(lats)-1])
	}
	r.throughputW = float64(len(lats)) / (float64(to-from) / 1e9)
	r.shedWindow = shedIn(op, src, 1, overloadSettle, overloadStep)
	if g != nil {
		r.summary = g.Summary()
		r.pAfter = g.Shedder(0).P()
	}
	// Before the step and once the load has dropped back, nothing should
	// be shed.
	if len(src.starts) == 3 {
		r.shedBefore = shedIn(op, src, 0, 100*time.Millisecond, overloadBefore)
		r.shedAfter = shedIn(op, src, 2, overloadAfter/2, overloadAfter)
	}
	return r
}

// shedIn returns the fraction of the records of phase k due between from
// and to after its start that the operator did not process.
func shedIn(op *slowOp, src *phasedSource, k int, from, to time.Duration) float64 {
	t0, rate := src.starts[k], src.phases[k].rate
	due := func(d time.Duration) int64 { // records due before t0+d
		return min(int64(math.Ceil(d.Seconds()*rate)), int64(rate*src.phases[k].d.Seconds()))
	}
	a, b := t0.Add(from).UnixNano(), t0.Add(to).UnixNano()
	n := 0
	for i, t := range op.done {
		if d := t - op.lat[i]; d >= a && d < b {
			n++
		}
	}
	return max(0, 1-float64(n)/float64(due(to)-due(from)))
}

// measureCapacity runs the slow operator flat out behind a channel, fed
// by an unlimited generator, and returns the records per second it took.
func measureCapacity(b *testing.B, sp spinner) float64 {
	n := int64(float64(time.Second/overloadCost) * 0.7) // about 0.7 s of work
	gen, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: 99, Keys: 100_000, Count: n})
	if err != nil {
		b.Fatal(err)
	}
	op := &slowOp{iters: int(sp.perMicro * float64(overloadCost.Microseconds()))}
	p, err := pipeline.New([]pipeline.Source{gen}, []pipeline.Stage{{
		Name: "slow", NoChain: true, New: func(int) (pipeline.Operator, error) { return op, nil },
	}}, pipeline.Config{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkOverload reports, for a step to 2x and to 4x the measured
// capacity of a slow operator: p99-ms, the 99th percentile end-to-end
// latency of the records processed once 2 s of overload have passed (target
// <= 50); shed-vs-ideal, the fraction shed of the records due in that
// window over the least possible, 1 - capacity/arrival (target <= 1.1);
// and, from the same run without shedding, p99-ms-noshed, the latency
// shedding prevents (latency-growth-x = p99-ms-noshed ÷ p99-ms).
// capacity-rps is the measured capacity; throughput-vs-capacity the rate
// the operator processed in the window over it; shed-before the fraction
// shed at half capacity before the step (want 0), p-after and shed-after
// the keep probability and the fraction shed once the load has dropped
// back to half (want 1 and 0).
func BenchmarkOverload(b *testing.B) {
	sp := calibrateSpin()
	for _, load := range []float64{2, 4} {
		b.Run(map[float64]string{2: "2x", 4: "4x"}[load], func(b *testing.B) {
			var shed, noshed overloadRun
			var capacity float64
			for b.Loop() {
				capacity = measureCapacity(b, sp)
				shed = runOverload(b, sp, capacity, load, true)
				noshed = runOverload(b, sp, capacity, load, false)
			}
			ideal := 1 - 1/load
			b.ReportMetric(capacity, "capacity-rps")
			b.ReportMetric(float64(shed.p99)/1e6, "p99-ms")
			b.ReportMetric(float64(shed.max)/1e6, "max-ms")
			b.ReportMetric(shed.shedWindow/ideal, "shed-vs-ideal")
			b.ReportMetric(shed.throughputW/capacity, "throughput-vs-capacity")
			b.ReportMetric(float64(noshed.p99)/1e6, "p99-ms-noshed")
			b.ReportMetric(float64(noshed.p99)/float64(max(shed.p99, 1)), "latency-growth-x")
			b.ReportMetric(shed.pAfter, "p-after")
			b.ReportMetric(shed.shedBefore, "shed-before")
			b.ReportMetric(shed.shedAfter, "shed-after")
			b.Logf("shed run: %v; shed %.3f of the records due in the window (ideal %.3f)", shed.summary, shed.shedWindow, ideal)
		})
	}
}
