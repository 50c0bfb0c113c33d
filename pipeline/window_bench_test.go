package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/sketch"
)

// BenchmarkWindowVsDistinct measures a Window of Distincts (one-minute
// windows sliding by 10 s, event time) against a plain Distinct at
// precision 14 on the same Zipf (page, user) records in the same run, and
// reports the windowed cost as a ratio, wall and CPU time (issue 15's
// target: at most 1.3x). The records come at 1M, 100k and 10k a second
// of event time: a slot of 10 s holds 10M, 1M or 100k of them (at 10k/s a
// pass closes ten windows, each slot's sketch started afresh). Each op is one pass
// of 1M records through each operator, the plain one warmed (dense), the
// window in its steady state (every pass opens slots afresh).
func BenchmarkWindowVsDistinct(b *testing.B) {
	for _, rate := range []int64{1_000_000, 100_000, 10_000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			const n = 1 << 20
			bs := groupBatches(11, n, 1)
			step := int64(time.Second) / rate
			for _, bt := range bs {
				for i := range bt.Records {
					bt.Records[i].Time = 1 + (bt.Records[i].Time-1)/10_000*step
				}
			}
			hll := func() *Distinct { h, _ := sketch.NewHLL(14); return &Distinct{HLL: h} }
			plain := hll()
			w := &Window{New: func() (Mergeable, error) { return hll(), nil }, Size: time.Minute, Slide: 10 * time.Second, EventTime: true}
			out := new(Batch)
			pass := func(op Operator) (wall, cpu time.Duration) {
				c0, w0 := cputime.Process(), time.Now()
				for _, bt := range bs {
					if err := op.Process(bt, out); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(w0), cputime.Process() - c0
			}
			retime := func() {
				for _, bt := range bs {
					for i := range bt.Records {
						bt.Records[i].Time += n * step
					}
				}
			}
			for range 2 {
				pass(plain)
				pass(w)
				retime()
			}
			b.ReportAllocs()
			var wp, ww, cp, cw time.Duration
			for b.Loop() {
				wl, c := pass(plain)
				wp, cp = wp+wl, cp+c
				wl, c = pass(w)
				ww, cw = ww+wl, cw+c
				b.StopTimer()
				retime()
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/ww.Seconds(), "rec/s-windowed")
			b.ReportMetric(float64(ww)/float64(wp), "windowed/distinct-wall")
			if cputime.Available {
				b.ReportMetric(float64(cw)/float64(cp), "windowed/distinct-cpu")
			}
		})
	}
}
