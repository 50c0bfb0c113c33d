package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
)

// BenchmarkWindowedDistinct measures, in one run, records/s of `distinct`
// on a Zipf (group, value) file of 1M lines "TIME GROUP VALUE" (-f 2,3, a
// composite key) plain and with --window 1m --slide 10s: by event time
// (--time-field 1, which also reads each record's time) and by processing
// time on a clock that moves on 10 ms at each reading (about 100k records
// a second of clock time at the workers' batches of 1024), and reports
// each windowed run's cost as a ratio to the plain one, wall and CPU
// time (issue 15's target: at most 1.3x). -j 2. The file's times come
// at 100k records a second (the 1M records span 10 s: one slide) and at
// 10k (100 s: ten slides, each slot's sketch started afresh).
func BenchmarkWindowedDistinct(b *testing.B) {
	for _, rate := range []int{100_000, 10_000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchWindowed(b, rate) })
	}
}

func benchWindowed(b *testing.B, rate int) {
	const n = 1 << 20
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	path, size := zipfPairsFile(b, 1, n, func(sb *strings.Builder, i int, g, v uint64) {
		ts := t0 + int64(i)*int64(time.Second)/int64(rate)
		fmt.Fprintf(sb, "%d.%09d /p/%d u%d\n", ts/1e9, ts%1e9, g, v)
	})
	plain := []string{"distinct", "-f", "2,3", "-j", "2", path}
	event := []string{"distinct", "-f", "2,3", "-j", "2", "--window", "1m", "--slide", "10s", "--time-field", "1", "--time-format", "unix", path}
	proc := []string{"distinct", "-f", "2,3", "-j", "2", "--window", "1m", "--slide", "10s", path}
	run := func(args []string, clocked bool) (wall, cpu time.Duration) {
		e := defaultEnv(strings.NewReader(""), io.Discard, io.Discard)
		if clocked {
			var mu sync.Mutex
			now := time.Unix(0, t0)
			e.now = func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				now = now.Add(10 * time.Millisecond)
				return now
			}
		}
		return timeRun(b, e, args)
	}
	run(plain, false)
	run(event, false)
	b.ReportAllocs()
	b.SetBytes(size)
	var wp, we, wc, cp, ce, cc time.Duration
	for b.Loop() {
		w, c := run(plain, false)
		wp, cp = wp+w, cp+c
		w, c = run(event, false)
		we, ce = we+w, ce+c
		w, c = run(proc, true)
		wc, cc = wc+w, cc+c
	}
	recs := float64(n) * float64(b.N)
	b.ReportMetric(recs/wp.Seconds(), "rec/s-plain")
	b.ReportMetric(recs/we.Seconds(), "rec/s-event")
	b.ReportMetric(float64(we)/float64(wp), "event/plain-wall")
	b.ReportMetric(float64(wc)/float64(wp), "proc/plain-wall")
	if cputime.Available {
		b.ReportMetric(float64(ce)/float64(cp), "event/plain-cpu")
		b.ReportMetric(float64(cc)/float64(cp), "proc/plain-cpu")
	}
}
