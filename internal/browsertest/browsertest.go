// Package browsertest finds and starts the headless browser that the tests
// of the pages streamstat serves drive (with chromedp), and gathers what
// the page says on its console.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// Paths are where Debian's packages put a browser chromedp drives.
var Paths = []string{
	"/usr/bin/chromium-headless-shell",
	"/usr/lib/chromium/chromium-headless-shell",
	"/usr/bin/chromium",
	"/usr/lib/chromium/chromium",
	"/usr/bin/google-chrome",
}

// Find returns the browser to drive: $STREAMSTAT_BROWSER, or the first of
// Paths, or one on $PATH; "" if there is none.
func Find() string {
	if p := os.Getenv("STREAMSTAT_BROWSER"); p != "" {
		return p
	}
	for _, p := range Paths {
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

// Browser returns Find's browser. Without one, the test fails if $CI is
// set (CI must run it) and is skipped otherwise.
func Browser(t testing.TB) string {
	t.Helper()
	browser := Find()
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("no browser found (tried $STREAMSTAT_BROWSER, %s): CI must run this test; install chromium-headless-shell", strings.Join(Paths, ", "))
		}
		t.Skipf("no browser found (tried $STREAMSTAT_BROWSER, %s); apt-get install chromium-headless-shell to run it", strings.Join(Paths, ", "))
	}
	return browser
}

// Start starts browser (without GPU, and without the sandbox, which
// refuses root, when run as root) with the options opts besides, and
// returns a tab's context, its cancel function, which stops the browser,
// and the tab's Console.
func Start(ctx context.Context, browser string, opts ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc, *Console) {
	all := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(browser), chromedp.DisableGPU}, opts...)
	if os.Geteuid() == 0 {
		all = append(all, chromedp.NoSandbox)
	}
	bctx, cancel := chromedp.NewContext(ctx, chromedp.WithAllocatorOptions(all...))
	c := new(Console)
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				c.mu.Lock()
				c.problems = append(c.problems, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				c.mu.Unlock()
			}
		}
	}()
	return bctx, cancel, c
}

// Console holds the errors, exceptions and warnings a tab logged on its
// console. It is safe for concurrent use.
type Console struct {
	mu       sync.Mutex
	problems []string
}

// Problems returns the problems logged so far, each as "type: text
// (url:line)".
func (c *Console) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.problems...)
}

// Check reports each problem logged so far as a test error.
func (c *Console) Check(t testing.TB) {
	t.Helper()
	for _, p := range c.Problems() {
		t.Errorf("console %s", p)
	}
}
