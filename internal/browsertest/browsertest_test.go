package browsertest

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleGathersProblems: a page's console.error and console.warn are
// gathered, its console.log is not.
func TestConsoleGathersProblems(t *testing.T) {
	browser := Browser(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bctx, stop, console := Start(ctx, browser, chromedp.WindowSize(400, 300))
	defer stop()
	page := "data:text/html," + url.PathEscape(`<script>console.log("fine"); console.error("boom"); console.warn("careful")</script>`)
	if err := chromedp.Do(bctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("loading the page (browser %s): %v", browser, err)
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if got = console.Problems(); len(got) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	joined := strings.Join(got, "\n")
	if len(got) != 2 || !strings.Contains(joined, "boom") || !strings.Contains(joined, "careful") || strings.Contains(joined, "fine") {
		t.Errorf("console problems %q; want the error \"boom\" and the warning \"careful\" only", got)
	}
}
