package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// straddleFile writes groups*2*257 lines "GROUP VALUE" of one width in
// two halves of equal size: in the first, groups a0000... have 256
// values each and groups b0000... one value (v256); in the second, the
// other way round. Each of two workers reading one half holds a set of
// 256 hashes (2 KiB at their capacity) and one of 1 per group; their
// merge holds sets of 257, whose capacity doubles to 512: 4 KiB a group,
// more than the two workers' sketches together.
func straddleFile(t *testing.T, groups int) string {
	t.Helper()
	var b strings.Builder
	for _, half := range [][2]byte{{'a', 'b'}, {'b', 'a'}} {
		for v := range 256 {
			for g := range groups {
				fmt.Fprintf(&b, "%c%04d v%03d\n", half[0], g, v)
			}
		}
		for g := range groups {
			fmt.Fprintf(&b, "%c%04d v256\n", half[1], g)
		}
	}
	path := filepath.Join(t.TempDir(), "straddle.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGroupAllMaxMemoryMerge: distinct --by -k 0 without --window holds
// its workers' group sketches and, as it answers, their merge;
// --max-memory bounds the sum. Two workers with fixed shares
// (--checkpoint: each reads one half of straddleFile) hold 0.93 MB each,
// within their share of a cap of 3.72 MB (a quarter), and their merge
// 3.38 MB: 5.24 MB in all. Before, only the workers' shares were checked
// and the run answered; now it stops with exit 1 naming the merge and
// what to do, writes no answer, and under a cap that holds answers as an
// uncapped -j 1 does, every check of the budget within the cap.
func TestGroupAllMaxMemoryMerge(t *testing.T) {
	path := straddleFile(t, 400)
	args := []string{"distinct", "-f", "2", "--by", "1", "-k", "0", "--format", "json"}
	run := func(cap string, extra ...string) (string, string, int) {
		t.Helper()
		a := append(append(append([]string(nil), args...), "--max-memory", cap), extra...)
		return runIn(t, runOpts{}, append(a, path)...)
	}
	two := func() []string { return []string{"-j", "2", "--checkpoint", filepath.Join(t.TempDir(), "ck")} }
	const limit = 3_720_000
	out, stderr, code := run(fmt.Sprint(limit), two()...)
	if code != exitFailure || out != "" || !strings.Contains(stderr, "past --max-memory "+formatBytes(limit)) ||
		!strings.Contains(stderr, "merging the workers' group sketches") || !strings.Contains(stderr, "-k N lists") {
		t.Fatalf("cap %d: exit %d, stderr %q, out %.200s", limit, code, stderr, out)
	}

	var peak atomic.Int64 // the most the run held at a check of its cap
	testHookBudgetCheck = func(b *memBudget, used int64) {
		for p := peak.Load(); used > p && b.parent == nil && !peak.CompareAndSwap(p, used); p = peak.Load() {
		}
	}
	defer func() { testHookBudgetCheck = nil }()
	const roomy = 2 * limit
	got, stderr, code := run(fmt.Sprint(roomy), two()...)
	if code != 0 {
		t.Fatalf("cap %d: exit %d, stderr %q", roomy, code, stderr)
	}
	if p := peak.Load(); p <= limit || p > roomy {
		t.Errorf("the run held %d bytes at most at its checks, want in (%d, %d]", p, limit, roomy)
	}
	testHookBudgetCheck = nil
	want, stderr, code := run("1GiB", "-j", "1")
	if code != 0 || got != want {
		t.Fatalf("-j 1 uncapped: exit %d, %s; answers differ: %v\n%.300s\nwant\n%.300s", code, stderr, got != want, got, want)
	}
}

// TestGroupAllMaxMemoryInterval: an --interval answer that takes the run
// past --max-memory as it merges stops the run with exit 1 and the
// merge's message. Before, the run stopped as if interrupted: "context
// canceled", after a note that --resume would go on from its checkpoint.
func TestGroupAllMaxMemoryInterval(t *testing.T) {
	data := readFile(t, straddleFile(t, 400))
	g := newGatedReader(data, "") // the input stays open once read
	defer close(g.gate)
	tick := make(chan time.Time)
	var out syncBuffer
	done := make(chan struct{})
	var stderr string
	var code int
	go func() {
		defer close(done)
		// --checkpoint: fixed shares, a chunk (half the input) each.
		_, stderr, code = runIn(t, runOpts{stdin: g, ticker: tick, stdout: &out, chunk: int64(len(data) / 2)},
			"distinct", "-f", "2", "--by", "1", "-k", "0", "-j", "2", "--checkpoint", filepath.Join(t.TempDir(), "ck"),
			"--max-memory", "3720000", "--interval", "1h", "--format", "json")
	}()
	<-g.reached
	// Each tick answers, or stops the run once the workers hold it all.
	for stopped, answers := false, 1; !stopped; answers++ {
		select {
		case tick <- time.Now():
		case <-done:
		}
		waitFor(t, "an answer or the end of the run", func() bool {
			select {
			case <-done:
				stopped = true
				return true
			default:
				return strings.Count(out.String(), "\n") >= answers
			}
		})
	}
	if code != exitFailure || !strings.Contains(stderr, "merging the workers' group sketches") ||
		!strings.Contains(stderr, "past --max-memory "+formatBytes(3720000)) || strings.Contains(stderr, "resume") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestFormatBytes: sizes in the messages of --max-memory, three digits
// in the largest unit under 1024 of it; from 999.5 to 1024 of a unit, in
// whole units (%.3g wrote "1e+03 KiB" in a worker's error at 1000 KiB).
func TestFormatBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {563 << 10, "563 KiB"},
		{999<<10 + 511, "999 KiB"}, {999<<10 + 512, "1000 KiB"}, {1000 << 10, "1000 KiB"}, {1<<20 - 1, "1024 KiB"},
		{1 << 20, "1 MiB"}, {3720000, "3.55 MiB"}, {1 << 30, "1 GiB"}, {1 << 50, "1024 TiB"}, {1 << 52, "4096 TiB"},
	} {
		if got := formatBytes(c.n); got != c.want {
			t.Errorf("n=%d: %q, want %q", c.n, got, c.want)
		}
	}
}
