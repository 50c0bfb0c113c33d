package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the browser test's screenshot to docs/dashboard.png")

// browserPaths are where Debian's packages put a browser chromedp drives.
var browserPaths = []string{
	"/usr/bin/chromium-headless-shell",
	"/usr/lib/chromium/chromium-headless-shell",
	"/usr/bin/chromium",
	"/usr/lib/chromium/chromium",
	"/usr/bin/google-chrome",
}

// findBrowser returns the browser to drive: $STREAMSTAT_BROWSER, or the
// first of browserPaths, or one on $PATH.
func findBrowser() string {
	if p := os.Getenv("STREAMSTAT_BROWSER"); p != "" {
		return p
	}
	for _, p := range browserPaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

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
	browser := findBrowser()
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("no browser found (tried $STREAMSTAT_BROWSER, %s): CI must run this test; install chromium-headless-shell", strings.Join(browserPaths, ", "))
		}
		t.Skipf("no browser found (tried $STREAMSTAT_BROWSER, %s); apt-get install chromium-headless-shell to run it", strings.Join(browserPaths, ", "))
	}
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

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("font-render-hinting", "none"),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // the sandbox refuses root
	}
	bctx, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithAllocatorOptions(opts...))
	defer cancelBrowser()

	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
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
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("console %s", p)
	}
}
