package promexport

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/streamstat/streamstat/pipeline/observe"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

// fullJob is a job with every part a snapshot shows: shedding, a fan-out,
// checkpoints every few milliseconds while its sources run at a set rate.
var fullJob = jobConfig{sources: 2, records: 30_000, keys: 5_000, rate: 150_000, keepP: 0.5, checkpoints: 5 * time.Millisecond}

// scrape serves c from a private registry over HTTP, as Prometheus
// scrapes it, and returns the text and the parsed families.
func scrape(t testing.TB, c prometheus.Collector) ([]byte, map[string]*dto.MetricFamily) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v\n%s", resp.StatusCode, err, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	return body, fams
}

func newCollector(t testing.TB, snapshot func() observe.Snapshot) *Collector {
	t.Helper()
	c, err := New(snapshot, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// describedNames are the names of every metric the Collector describes.
func describedNames(c *Collector) []string {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for d := range ch {
		names = append(names, re.FindStringSubmatch(d.String())[1])
	}
	sort.Strings(names)
	return names
}

// golden renders what testdata/metrics.golden pins: each family's name,
// type, label names and help.
func golden(fams map[string]*dto.MetricFamily) []byte {
	var b bytes.Buffer
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range fams {
			if !yield(n) {
				return
			}
		}
	}) {
		f := fams[name]
		var labels []string
		if len(f.Metric) > 0 {
			for _, l := range f.Metric[0].Label {
				labels = append(labels, l.GetName())
			}
		}
		fmt.Fprintf(&b, "%s %s {%s}\n    %s\n", name, strings.ToLower(f.GetType().String()), strings.Join(labels, ","), f.GetHelp())
	}
	return b.Bytes()
}

// TestScrapeGolden scrapes a finished job that has every part and pins the
// names, types, labels and help of what it serves; every metric described
// is served, and promlint (the rules of promtool check metrics) finds
// nothing.
func TestScrapeGolden(t *testing.T) {
	j := newJob(t, fullJob)
	if err := j.run(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, j.latest)
	body, fams := scrape(t, c)

	var served []string
	for n := range fams {
		served = append(served, n)
	}
	sort.Strings(served)
	if want := describedNames(c); !slices.Equal(served, want) {
		t.Errorf("served %v\nwant every described metric %v", served, want)
	}

	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	got := golden(fams)
	const path = "testdata/metrics.golden"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("scrape differs from %s (go test -run TestScrapeGolden -update to accept):\ngot\n%s", path, got)
	}
}

// values indexes a scrape's samples by name and labels, in the order of
// their names, e.g. "streamstat_records_in_total{stage=distinct,subtask=0}".
func values(fams map[string]*dto.MetricFamily) map[string]float64 {
	v := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := name
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Gauge != nil:
				v[key] = m.Gauge.GetValue()
			case m.Counter != nil:
				v[key] = m.Counter.GetValue()
			case m.Histogram != nil:
				v[key+"_count"] = float64(m.Histogram.GetSampleCount())
				v[key+"_sum"] = m.Histogram.GetSampleSum()
			}
		}
	}
	return v
}

// sum adds the samples of name whose labels include match.
func sum(fams map[string]*dto.MetricFamily, name, match string) float64 {
	var s float64
	f := fams[name]
	if f == nil {
		return math.NaN()
	}
	for _, m := range f.Metric {
		ok := match == ""
		for _, l := range m.Label {
			if l.GetName()+"="+l.GetValue() == match {
				ok = true
			}
		}
		if ok {
			if m.Counter != nil {
				s += m.Counter.GetValue()
			} else {
				s += m.Gauge.GetValue()
			}
		}
	}
	return s
}

// TestValuesAgreeWithRun checks a scrape of a finished job against what
// the job did: records read, shed and kept, what each stage and branch
// took, checkpoints counted and their durations in the histogram, the
// distinct count's bounds around the true count, freshness, state.
func TestValuesAgreeWithRun(t *testing.T) {
	c := fullJob
	j := newJob(t, c)
	start := time.Now()
	if err := j.run(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	_, fams := scrape(t, newCollector(t, j.latest))
	v := values(fams)
	read := float64(int64(c.sources) * c.records)
	st := j.p.CheckpointStats()
	sh := j.group.Summary()

	eq := func(name string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	eq("records_read_total", v["streamstat_records_read_total"], read)
	eq("sum source_records_total", sum(fams, "streamstat_source_records_total", ""), read)
	eq("records_shed_total", v["streamstat_records_shed_total"], float64(sh.Shed))
	eq("records_kept_total", v["streamstat_records_kept_total"], float64(sh.Kept))
	eq("shed + kept", v["streamstat_records_shed_total"]+v["streamstat_records_kept_total"], read)
	if sh.Shed == 0 || sh.Kept == 0 {
		t.Errorf("at p = 0.5 the job shed %d and kept %d records; want both", sh.Shed, sh.Kept)
	}
	kept := float64(sh.Kept)
	eq("records_in_total{stage=distinct}", sum(fams, "streamstat_records_in_total", "stage=distinct"), kept)
	eq("records_in_total{stage=freq}", sum(fams, "streamstat_records_in_total", "stage=freq"), kept)
	eq("records_out_total (sinks)", sum(fams, "streamstat_records_out_total", ""), 0)
	eq("branch_records_total{users}", v["streamstat_branch_records_total{branch=users}"], kept)
	eq("branch_records_total{all}", v["streamstat_branch_records_total{branch=all}"], kept)
	eq("keep_probability", v["streamstat_keep_probability"], 0.5)
	eq("bytes_in_total", v["streamstat_bytes_in_total"], 8*read)
	eq("input_size_bytes", v["streamstat_input_size_bytes"], 8*read)
	eq("job_state{finished}", v["streamstat_job_state{state=finished}"], 1)
	eq("job_state{running}", v["streamstat_job_state{state=running}"], 0)
	eq("build_info", v["streamstat_build_info{goversion="+runtime.Version()+",version=v0.0.0-test}"], 1)

	eq("checkpoints_total{completed}", v["streamstat_checkpoints_total{result=completed}"], float64(st.Completed))
	eq("checkpoints_total{failed}", v["streamstat_checkpoints_total{result=failed}"], float64(st.Failed))
	eq("checkpoints_total{abandoned}", v["streamstat_checkpoints_total{result=abandoned}"], float64(st.Abandoned))
	if st.Completed < 1 {
		t.Errorf("only %d checkpoints completed; the test wants some", st.Completed)
	}
	eq("checkpoint_duration_seconds_count", v["streamstat_checkpoint_duration_seconds_count"], float64(st.Completed))
	eq("last_checkpoint_size_bytes", v["streamstat_last_checkpoint_size_bytes"], float64(st.LastSize))
	eq("last_checkpoint_duration_seconds", v["streamstat_last_checkpoint_duration_seconds"], st.LastDuration.Seconds())
	// The histogram holds each checkpoint listed once, at the duration
	// first listed (a checkpoint the Observer polled before its
	// CheckpointDone arrived may be listed twice).
	var recentSum float64
	counted := map[uint64]bool{}
	last := j.last.Load()
	for _, r := range last.Checkpoints.Recent {
		if r.OK && !counted[r.ID] {
			counted[r.ID] = true
			recentSum += r.Duration
		}
	}
	if got := v["streamstat_checkpoint_duration_seconds_sum"]; math.Abs(got-recentSum) > 1e-9 || len(counted) != int(st.Completed) {
		t.Errorf("checkpoint_duration_seconds_sum = %v, the %d checkpoints listed took %v (%+v)", got, len(counted), recentSum, last.Checkpoints.Recent)
	}
	ts := v["streamstat_last_checkpoint_completed_timestamp_seconds"]
	if ts < unix(start) || ts > unix(end) {
		t.Errorf("last checkpoint completed at %v, outside the run [%v, %v]", ts, unix(start), unix(end))
	}

	exact := float64(exactDistinct(t, c))
	e, lo, hi := v["streamstat_distinct_estimate{answer=users.distinct}"], v["streamstat_distinct_estimate_lower_bound{answer=users.distinct}"], v["streamstat_distinct_estimate_upper_bound{answer=users.distinct}"]
	if !(lo <= exact && exact <= hi && lo <= e && e <= hi) || e == 0 {
		t.Errorf("distinct %v (%v .. %v), true count %v", e, lo, hi, exact)
	}

	up := v["streamstat_uptime_seconds"]
	if up <= 0 || up > end.Sub(start).Seconds() {
		t.Errorf("uptime %v, the run took %v", up, end.Sub(start))
	}
	for _, name := range []string{"busy", "idle", "backpressured"} {
		for _, s := range j.last.Load().Stages {
			k := fmt.Sprintf("streamstat_stage_%s_seconds_total{stage=%s,subtask=%d}", name, s.Stage, s.Instance)
			if x, ok := v[k]; !ok || x < 0 || x > up*1.0001 {
				t.Errorf("%s = %v (present %t), uptime %v", k, x, ok, up)
			}
		}
	}
	lr := v["streamstat_last_record_timestamp_seconds"]
	if lr < unix(start) || lr > unix(end) {
		t.Errorf("last record at %v, outside the run [%v, %v]", lr, unix(start), unix(end))
	}
}

// TestScrapeWhileRunning scrapes from two goroutines while the job runs
// (the race detector watches): every scrape parses, and the records read
// never go back.
func TestScrapeWhileRunning(t *testing.T) {
	cfg := fullJob
	cfg.records = 20_000
	cfg.rate = 100_000
	j := newJob(t, cfg)
	c := newCollector(t, j.latest)
	done := make(chan error)
	go func() { done <- j.run(5 * time.Millisecond) }()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			prev := -1.0
			for range 10 {
				_, fams := scrape(t, c)
				n := values(fams)["streamstat_records_read_total"]
				if n < prev {
					t.Errorf("records read went from %v back to %v", prev, n)
				}
				prev = n
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestBesideThePage serves the Collector at the page's /metrics, reading
// the Server's last tick: a scrape and /api/snapshot show the same
// numbers.
func TestBesideThePage(t *testing.T) {
	j := newJob(t, jobConfig{sources: 2, records: 10_000, keys: 1_000, keepP: 0.5})
	var srv *observe.Server
	c := newCollector(t, func() observe.Snapshot { return srv.Last() })
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	srv = observe.NewServer(j.obs, observe.ServerConfig{Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
	if err := j.p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	j.obs.Done(nil)
	srv.Tick()
	get := func(path string) []byte {
		req := httptest.NewRequest("GET", "http://127.0.0.1"+path, nil)
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		return w.Body.Bytes()
	}
	var snap struct {
		Records  uint64 `json:"records"`
		Shedding struct {
			Shed  uint64  `json:"shed"`
			KeepP float64 `json:"keep_probability"`
		} `json:"shedding"`
		Answer struct {
			Users struct {
				Distinct float64 `json:"distinct"`
			} `json:"users"`
		} `json:"answer"`
	}
	if err := json.Unmarshal(get("/api/snapshot"), &snap); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(get("/metrics")))
	if err != nil {
		t.Fatal(err)
	}
	v := values(fams)
	if v["streamstat_records_read_total"] != float64(snap.Records) || snap.Records != 20_000 ||
		v["streamstat_records_shed_total"] != float64(snap.Shedding.Shed) ||
		v["streamstat_keep_probability"] != snap.Shedding.KeepP ||
		v["streamstat_distinct_estimate{answer=users.distinct}"] != snap.Answer.Users.Distinct || snap.Answer.Users.Distinct == 0 {
		t.Errorf("/metrics %v\n/api/snapshot %+v", v, snap)
	}
}
