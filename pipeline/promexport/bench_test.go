package promexport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamstat/streamstat/internal/cputime"
)

// benchJob is a job that runs a few seconds, fanned out into two branches
// of two subtasks each: no rate limit, so its throughput is what the
// machine gives it. It takes no checkpoints: a scrape reads the checkpoint
// counters whether there are any or not, so they would only add noise.
var benchJob = jobConfig{sources: 2, records: 10_000_000, keys: 100_000}

// BenchmarkScrapeOverhead is the scrape half of BenchmarkObserveOverhead:
// the same job run unobserved and scraped every second (over HTTP, from a
// private registry, as Prometheus would), interleaved so that both see the
// same machine. throughput-ratio is records per CPU second of the process,
// scraped over unscraped (the target is >= 0.99): on a machine shared with
// other work, wall-clock throughput measures the neighbours more than the
// scrape, while the CPU the process spends is what a scrape adds to.
// wall-ratio is the same from wall-clock time.
func BenchmarkScrapeOverhead(b *testing.B) {
	var wall, cpu [2]time.Duration // [plain, scraped]
	var records float64
	for i := range b.N {
		// Alternate which runs first, and collect the garbage of the run
		// before outside the timing: the second of a pair would otherwise
		// pay for the first's.
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			scrapeIt := k == 1
			j := newJob(b, benchJob)
			runtime.GC()
			var stop func()
			if scrapeIt {
				stop = scrapeEvery(b, j, time.Second)
			}
			start, cpu0 := time.Now(), cputime.Process()
			if err := j.p.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			if scrapeIt {
				stop()
			}
			wall[k] += time.Since(start)
			cpu[k] += cputime.Process() - cpu0
		}
		records += float64(int64(benchJob.sources) * benchJob.records)
	}
	b.StopTimer()
	b.ReportMetric(records/cpu[0].Seconds(), "records/cpu-s-plain")
	b.ReportMetric(records/cpu[1].Seconds(), "records/cpu-s-scraped")
	b.ReportMetric(cpu[0].Seconds()/cpu[1].Seconds(), "throughput-ratio")
	b.ReportMetric(wall[0].Seconds()/wall[1].Seconds(), "wall-ratio")
}

// scrapeEvery scrapes j's Collector over HTTP every interval, the first at
// once, until stop is called.
func scrapeEvery(b *testing.B, j *job, interval time.Duration) (stop func()) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(newCollector(b, j.fresh)); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if resp, err := http.Get(srv.URL); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(quit); <-done; srv.Close() }
}

// BenchmarkScrape is the cost of one scrape of a finished job with every
// part (2 sources, 4 operator instances, 2 branches, shedding, checkpoints,
// a distinct answer): the snapshot, the metrics, and the text encoding.
func BenchmarkScrape(b *testing.B) {
	j := newJob(b, jobConfig{sources: 2, records: 20_000, keys: 5_000, keepP: 0.5, checkpoints: time.Millisecond})
	if err := j.run(time.Millisecond); err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(newCollector(b, j.fresh)); err != nil {
		b.Fatal(err)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
