package observe_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/sketch"
)

// benchTopJob is a top-k job at parallelism par (-j 2 in the CLI): par
// generators of n records each (0: no end) over keys keys, by key into a
// TopK of capacity k per instance.
func benchTopJob(b *testing.B, n int64, keys uint64, k, par int) *pipeline.Pipeline {
	var srcs []pipeline.Source
	for i := range par {
		g, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: uint64(i + 1), Count: n, Keys: keys})
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, g)
	}
	p, err := pipeline.New(srcs, []pipeline.Stage{{
		Name: "top", Input: pipeline.ByKey, Parallelism: par,
		New: func(int) (pipeline.Operator, error) {
			t, err := sketch.NewTopK(k)
			return &pipeline.HeavyHitters{TopK: t}, err
		},
	}}, pipeline.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// topAnswer is the answer top's --format json prints: the k heaviest keys
// of the merged instances, with bounds.
func topAnswer(p *pipeline.Pipeline, k int) func() any {
	type item struct {
		Key          string `json:"key"`
		Count        uint64 `json:"count"`
		Lower, Upper uint64
		Guaranteed   bool `json:"guaranteed"`
	}
	return func() any {
		all, _ := sketch.NewTopK(k)
		_ = pipeline.QueryAs(p, 0, func(_ int, op *pipeline.HeavyHitters) error { return all.Merge(op.TopK) })
		top := all.Top(k)
		items := make([]item, len(top))
		for i, it := range top {
			items[i] = item{string(it.Key), it.Count, it.Lower, it.Upper, it.Guaranteed}
		}
		return map[string]any{"records": all.Total(), "items": items}
	}
}

// BenchmarkSnapshot is one tick of a Server at -j 2 with a 1000-entry top-k
// answer: the snapshot of the pipeline, the answer (merging the instances'
// TopKs), the JSON and the history point. The target is at most 1 ms; it
// reports the answer's share (ms/answer) and the rest (ms/observe).
func BenchmarkSnapshot(b *testing.B) {
	p := benchTopJob(b, 200_000, 50_000, 1000, 2)
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	answer, inAnswer := topAnswer(p, 1000), time.Duration(0)
	timed := func() any {
		start := time.Now()
		defer func() { inAnswer += time.Since(start) }()
		return answer()
	}
	s := observe.NewServer(observe.NewObserver(p, observe.Info{Job: "top"}, timed), observe.ServerConfig{})
	s.Tick()
	if raw, _ := s.Last().Answer.(json.RawMessage); strings.Count(string(raw), `"key"`) != 1000 {
		b.Fatalf("answer %.200s...: not a 1000-entry top-k", raw)
	}
	b.ReportAllocs()
	b.ResetTimer()
	inAnswer = 0
	start := time.Now()
	for b.Loop() {
		s.Tick()
	}
	total := time.Since(start)
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	// The answer (merging two TopKs of 1000, as top does) is the caller's;
	// the rest is this package's.
	b.ReportMetric(ms(total), "ms/tick")
	b.ReportMetric(ms(inAnswer), "ms/answer")
	b.ReportMetric(ms(total-inAnswer), "ms/observe")
}

// BenchmarkObserveOverhead runs the same job unobserved and served, with
// one event-stream client reading a snapshot a second (and, when a
// /metrics handler is given, a scrape a second), interleaved so that both
// see the same machine, and reports the throughput of each and
// throughput-ratio, served over unobserved (the target is >= 0.99), by
// wall time and by CPU time of the process (cpu-throughput-ratio: on a
// shared machine the steadier of the two).
func BenchmarkObserveOverhead(b *testing.B) {
	const n = 6_000_000 // per source: a few seconds, several ticks
	var plain, served, plainCPU, servedCPU time.Duration
	var records float64
	for range b.N {
		for _, watch := range []bool{false, true} {
			p := benchTopJob(b, n, 100_000, 1000, 2)
			var stop func()
			if watch {
				stop = serveWithClient(b, p)
			}
			start, cpu0 := time.Now(), cputime.Process()
			if err := p.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			d, cpu := time.Since(start), cputime.Process()-cpu0
			if watch {
				stop()
				served, servedCPU = served+d, servedCPU+cpu
			} else {
				plain, plainCPU = plain+d, plainCPU+cpu
				records += 2 * n
			}
		}
	}
	b.ReportMetric(records/plain.Seconds(), "records/s-plain")
	b.ReportMetric(records/served.Seconds(), "records/s-served")
	b.ReportMetric(plain.Seconds()/served.Seconds(), "throughput-ratio")
	if cputime.Available {
		b.ReportMetric(plainCPU.Seconds()/servedCPU.Seconds(), "cpu-throughput-ratio")
	}
}

// benchMetrics, if set (by a test file that can import the Prometheus
// adapter), makes the handler BenchmarkObserveOverhead scrapes every second.
var benchMetrics func(s *observe.Server) http.Handler

// serveWithClient serves p on a loopback port with a Server ticking every
// second, and reads its event stream (and scrapes /metrics, if
// benchMetrics is set), until stop is called.
func serveWithClient(b *testing.B, p *pipeline.Pipeline) (stop func()) {
	var s *observe.Server
	cfg := observe.ServerConfig{Tick: time.Second}
	if benchMetrics != nil {
		cfg.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { benchMetrics(s).ServeHTTP(w, r) })
	}
	s = observe.NewServer(observe.NewObserver(p, observe.Info{Job: "top"}, topAnswer(p, 1000)), cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		resp, err := http.Get(base + "/events")
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
		}
	}()
	scraping := make(chan struct{})
	go func() {
		defer close(scraping)
		if benchMetrics == nil {
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if resp, err := http.Get(base + "/metrics"); err == nil {
				var buf [4096]byte
				for {
					if _, err := resp.Body.Read(buf[:]); err != nil {
						break
					}
				}
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-served
		<-reading
		<-scraping
	}
}
