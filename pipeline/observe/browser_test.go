package observe_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/streamstat/streamstat/internal/browsertest"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/observe"
	"github.com/streamstat/streamstat/sketch"
)

// The page draws every answer the CLI prints (distinct, stats, sample,
// freq, a fan-out's answers by name) without a console error: a band for
// each estimate, the quantiles, the sample, the counted keys (with keys
// that are markup, shown as text).
func TestBrowserAnswerShapes(t *testing.T) {
	path := browsertest.Browser(t)
	answers := map[string]any{
		"distinct": map[string]any{"distinct": 8, "lower": 8, "upper": 9, "confidence": 0.95, "records": 15},
		"stats": map[string]any{"count": 6, "mean": 26.08, "mean_lower": -13.3, "mean_upper": 65.4, "stddev": 37.5, "min": 3, "max": 100,
			"quantiles": []map[string]any{{"q": 0.5, "value": 7.5, "lower": 7.5, "upper": 7.5}, {"q": 0.99, "value": 100, "lower": 90, "upper": 100}}},
		"sample": map[string]any{"records": 15, "items": []map[string]any{{"key": "banana"}, {"key": "<b>bold</b>"}}, "k": 4},
		"freq":   map[string]any{"records": 15, "items": []map[string]any{{"key": "<script>x()</script>", "count": 5, "lower": 5, "upper": 6}}},
	}
	bctx, console := openAnswers(t, path, "shapes", "a\nb\na\n", func() any { return answers })
	type page struct {
		Bands     []string `json:"bands"`
		Quantiles int      `json:"quantiles"`
		Sample    []string `json:"sample"`
		Keys      []string `json:"keys"`
		Bold      int      `json:"bold"`
		Scripts   int      `json:"scripts"`
	}
	const read = `({
		bands: Array.from(document.querySelectorAll("canvas[id^=chart-band-]")).filter(c => +c.dataset.points > 0).map(c => c.id),
		quantiles: document.querySelectorAll('table[data-kind="quantiles"] tbody tr').length,
		sample: Array.from(document.querySelectorAll("ul.sample li")).map(li => li.textContent),
		keys: Array.from(document.querySelectorAll('table[data-kind="topk"] tbody td.key')).map(td => td.textContent),
		bold: document.querySelectorAll("#answer b").length,
		scripts: document.scripts.length
	})`
	got := pollPage(t, bctx, read, func(got page) bool { return len(got.Bands) >= 2 })
	want := []string{"chart-band-distinct_distinct", "chart-band-stats_mean"}
	if strings.Join(got.Bands, " ") != strings.Join(want, " ") {
		t.Errorf("band charts with data %v, want %v", got.Bands, want)
	}
	if got.Quantiles != 2 {
		t.Errorf("%d quantile rows, want 2", got.Quantiles)
	}
	if strings.Join(got.Sample, "|") != "banana|<b>bold</b>" {
		t.Errorf("sample %q", got.Sample)
	}
	if len(got.Keys) != 1 || got.Keys[0] != "<script>x()</script>" {
		t.Errorf("counted keys %q", got.Keys)
	}
	if got.Bold != 0 || got.Scripts != 1 {
		t.Errorf("a key became markup: %d <b>, %d scripts", got.Bold, got.Scripts)
	}
	console.Check(t)
}

// openAnswers runs a pipeline to its end, serves it with answer as its
// answer under the name job, and opens the page in the browser at path.
// The browser and the server stop when the test ends.
func openAnswers(t *testing.T, path, job, input string, answer func() any) (context.Context, *browsertest.Console) {
	t.Helper()
	src, err := pipeline.NewLineSource(strings.NewReader(input), pipeline.LineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New([]pipeline.Source{src}, []pipeline.Stage{{
		Name: "distinct", New: func(int) (pipeline.Operator, error) { return &pipeline.Distinct{HLL: new(sketch.HLL)}, nil },
	}}, pipeline.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := observe.NewObserver(p, observe.Info{Job: job}, answer)
	o.Done(nil)
	srv := observe.NewServer(o, observe.ServerConfig{Tick: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })

	bctx, cancelBrowser, console := browsertest.Start(ctx, path, chromedp.WindowSize(1200, 1600))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+ln.Addr().String()+"/")); err != nil {
		t.Fatal(err)
	}
	return bctx, console
}

// pollPage evaluates read on the page until done holds of its value, or
// for 20 s, and returns the last value.
func pollPage[P any](t *testing.T, bctx context.Context, read string, done func(P) bool) P {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := chromedp.Run(bctx, chromedp.Evaluate[P](read))
		if err != nil {
			t.Fatal(err)
		}
		if done(got) || time.Now().After(deadline) {
			return got
		}
	}
}
