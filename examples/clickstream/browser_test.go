package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/streamstat/streamstat/internal/browsertest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the browser test's screenshot to docs/dashboard.png")

// chart is what the page's script says of one canvas chart.
type chart struct {
	ID     string             `json:"id"`
	Points int                `json:"points"`
	Max    map[string]float64 `json:"max"`
	Image  string             `json:"image"` // the canvas as a data URL
}

const chartsJS = `Array.from(document.querySelectorAll("canvas.chart")).map(c => ({
	id: c.id, points: +(c.dataset.points || 0), max: JSON.parse(c.dataset.max || "{}"), image: c.toDataURL()
}))`

// A real browser loads the page while the example runs through its burst:
// no console error, every chart gets data and changes, the top-k table has
// rows, and the shed chart shows the burst.
func TestBrowserDashboard(t *testing.T) {
	browser := browsertest.Browser(t)
	const d = 18 * time.Second // the burst is from 6 s to 12 s
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	appCtx, stopApp := context.WithCancel(ctx)
	base, _, wait := started(t, appCtx, "-duration", d.String(), "-tick", "500ms", "-every", "1s")
	start := time.Now()
	defer func() {
		stopApp()
		if err := wait(); err != nil {
			t.Error(err)
		}
	}()

	bctx, cancelBrowser, console := browsertest.Start(ctx, browser,
		chromedp.WindowSize(1280, 1900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("font-render-hinting", "none"),
	)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("loading the page (browser %s): %v", browser, err)
	}
	charts := func() map[string]chart {
		t.Helper()
		cs, err := chromedp.Run(bctx, chromedp.Evaluate[[]chart](chartsJS))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]chart{}
		for _, c := range cs {
			m[c.ID] = c
		}
		return m
	}
	sleepUntil := func(at time.Duration) {
		if d := time.Until(start.Add(at)); d > 0 {
			time.Sleep(d)
		}
	}

	sleepUntil(4 * time.Second) // before the burst
	first := charts()
	sleepUntil(d - 2*time.Second) // the burst is over
	second := charts()

	for _, id := range []string{"chart-throughput", "chart-shed", "chart-checkpoints"} {
		if _, ok := second[id]; !ok {
			t.Errorf("no chart %s on the page", id)
		}
	}
	bands := 0
	for id, c := range second {
		if strings.HasPrefix(id, "chart-band-") {
			bands++
		}
		if c.Points == 0 {
			t.Errorf("%s drew no data", id)
		}
		if f, ok := first[id]; ok && sha256.Sum256([]byte(f.Image)) == sha256.Sum256([]byte(c.Image)) {
			t.Errorf("%s did not change between %v and %v", id, 4*time.Second, d-2*time.Second)
		}
	}
	if bands == 0 {
		t.Error("no band chart of the answer's estimate")
	}
	if shed := second["chart-shed"].Max["shed fraction"]; !(shed > 0) {
		t.Errorf("the shed chart's shed fraction peaked at %v during the burst, want > 0", shed)
	}
	if first["chart-shed"].Max["shed fraction"] >= second["chart-shed"].Max["shed fraction"] {
		t.Errorf("the shed chart did not move during the burst: peak %v before, %v after",
			first["chart-shed"].Max["shed fraction"], second["chart-shed"].Max["shed fraction"])
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('table[data-kind="topk"] tbody tr').length`))
	if err != nil {
		t.Fatal(err)
	}
	if rows == 0 {
		t.Error("the top-k table has no rows")
	}
	health, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#health-table tbody .badge').length`))
	if err != nil {
		t.Fatal(err)
	}
	if health == 0 {
		t.Error("the stage health table has no instance")
	}

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("STREAMSTAT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "dashboard.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	console.Check(t)
}
