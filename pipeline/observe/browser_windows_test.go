package observe_test

import (
	"context"
	"fmt"
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

// TestBrowserWindows: a windowed answer is drawn as its series: a chart
// per estimate over the windows' ends (the partial window left out), and
// the latest window's answer in full.
func TestBrowserWindows(t *testing.T) {
	path := browsertest.Browser(t)
	var windows []map[string]any
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 12 {
		end := t0.Add(time.Duration(i+1) * 10 * time.Second)
		v := 100 + 10*i
		windows = append(windows, map[string]any{
			"start": end.Add(-time.Minute).Format(time.RFC3339), "end": end.Format(time.RFC3339),
			"distinct": v, "lower": v - 2, "upper": v + 2, "records": 5 * v, "complete": i < 11,
		})
	}
	src, err := pipeline.NewLineSource(strings.NewReader("a\n"), pipeline.LineConfig{})
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
	o := observe.NewObserver(p, observe.Info{Job: "windows"}, func() any { return map[string]any{"windows": windows} })
	o.Done(nil)
	srv := observe.NewServer(o, observe.ServerConfig{Tick: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()

	bctx, cancelBrowser, console := browsertest.Start(ctx, path, chromedp.WindowSize(1200, 1600))
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+ln.Addr().String()+"/")); err != nil {
		t.Fatal(err)
	}
	type page struct {
		Charts  map[string]string `json:"charts"`
		Hidden  bool              `json:"hidden"`
		Heading string            `json:"heading"`
	}
	const read = `({
		charts: Object.fromEntries(Array.from(document.querySelectorAll("canvas[id^=chart-window-]")).map(c => [c.id, c.dataset.points + " " + c.dataset.max])),
		hidden: document.getElementById("windows-sec").hidden,
		heading: (document.querySelector("#answer-body h3") || {}).textContent || ""
	})`
	var got page
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if got, err = chromedp.Run(bctx, chromedp.Evaluate[page](read)); err != nil {
			t.Fatal(err)
		}
		if len(got.Charts) > 0 || time.Now().After(deadline) {
			break
		}
	}
	// 11 complete windows; the highest upper bound among them: 100+10*10+2.
	want := fmt.Sprintf("11 {%q:%d}", "distinct", 202)
	if got.Hidden || got.Charts["chart-window-distinct"] != want {
		t.Errorf("window charts %v (hidden %v), want chart-window-distinct %q", got.Charts, got.Hidden, want)
	}
	if !strings.HasPrefix(got.Heading, "window [2026-01-01T12:01:00Z, 2026-01-01T12:02:00Z), partial") {
		t.Errorf("answer heading %q, want the latest window's", got.Heading)
	}
	console.Check(t)
}
