// Package benchpair times two variants of a benchmark in pairs, in
// alternating order, and reports the medians of their ratios.
//
// A machine shared with other work slows a run by more than the
// difference being measured; running the two variants back to back, the
// first of each pair alternating, slows both alike, and the median of the
// per-pair ratios sets the outliers aside.
package benchpair

import (
	"slices"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
)

// Time is one run's wall and CPU time.
type Time struct{ Wall, CPU time.Duration }

// Pairs collects the ratios of paired runs. The zero value is ready to
// use; it is not safe for concurrent use.
type Pairs struct{ wall, cpu []float64 }

// Run runs base and other once each (base first in even pairs, other
// first in odd ones) and keeps other's wall and CPU time over base's.
func (p *Pairs) Run(base, other func() Time) {
	var t0, t1 Time
	if len(p.wall)%2 == 0 {
		t0, t1 = base(), other()
	} else {
		t1 = other()
		t0 = base()
	}
	p.wall = append(p.wall, float64(t1.Wall)/float64(t0.Wall))
	p.cpu = append(p.cpu, float64(t1.CPU)/float64(t0.CPU))
}

// Report reports the median wall ratio as unit, the largest as
// unit+"-max" and, where CPU time can be read, the median CPU ratio as
// unit+"-cpu".
func (p *Pairs) Report(b *testing.B, unit string) {
	if len(p.wall) == 0 {
		return
	}
	wall, cpu := slices.Sorted(slices.Values(p.wall)), slices.Sorted(slices.Values(p.cpu))
	b.ReportMetric(wall[len(wall)/2], unit)
	b.ReportMetric(wall[len(wall)-1], unit+"-max")
	if cputime.Available {
		b.ReportMetric(cpu[len(cpu)/2], unit+"-cpu")
	}
}
