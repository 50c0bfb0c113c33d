package observe_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/browsertest"
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
	bctx, console := openAnswers(t, path, "windows", "a\n", func() any { return map[string]any{"windows": windows} })
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
	got := pollPage(t, bctx, read, func(got page) bool { return len(got.Charts) > 0 })
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
