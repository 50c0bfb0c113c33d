package pipeline

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkFanOut counts distinct users and the top pages of one
// clickstream: in one pass fanned out to two branches, and in two separate
// passes, each keyed by its field at the source; both with the same number
// of sources, each chaining (or forwarding to) its operators. The input is
// in memory, so a second pass costs the least it can: from a pipe or a
// live stream there is no second pass at all. fanout/two-passes is the
// ratio of their times in the same run (below 1: the fan-out is faster).
func BenchmarkFanOut(b *testing.B) {
	data := clickstreamMissing(1_000_000, 200_000, 9, 0)
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("sources=%d", par), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			users, pages := distinctStage(par), topStage(par)
			users.Input, pages.Input = Forward, Forward
			var fan, two time.Duration
			for b.Loop() {
				start := time.Now()
				p, err := New(lineSources(b, data, par, LineConfig{}), []Stage{{Name: "clicks", Branches: []Branch{
					{Name: "users", Key: ByField(1, Whitespace), Stages: []Stage{users}},
					{Name: "pages", Key: ByField(2, Whitespace), Stages: []Stage{pages}},
				}}}, Config{})
				if err != nil {
					b.Fatal(err)
				}
				runOK(b, p)
				fan += time.Since(start)

				start = time.Now()
				for field, st := range []Stage{users, pages} {
					p, err := New(lineSources(b, data, par, LineConfig{Field: field + 1}), []Stage{st}, Config{})
					if err != nil {
						b.Fatal(err)
					}
					runOK(b, p)
				}
				two += time.Since(start)
			}
			b.ReportMetric(float64(fan)/float64(two), "fanout/two-passes")
			b.ReportMetric(float64(fan.Nanoseconds())/float64(b.N)/1e6, "ms-fanout")
			b.ReportMetric(float64(two.Nanoseconds())/float64(b.N)/1e6, "ms-two-passes")
		})
	}
}
