package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gatedReader returns the first part of its data, then blocks until the
// gate opens, then returns the rest.
type gatedReader struct {
	first, rest string
	reached     chan struct{} // closed when first is consumed and a read waits
	gate        chan struct{}
	waited      bool // only the reading goroutine touches it
}

func newGatedReader(first, rest string) *gatedReader {
	return &gatedReader{first: first, rest: rest, reached: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.first != "" {
		n := copy(p, g.first)
		g.first = g.first[n:]
		return n, nil
	}
	if !g.waited {
		g.waited = true
		close(g.reached)
		<-g.gate
	}
	if g.rest == "" {
		return 0, io.EOF
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

func lines(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s%d\n", prefix, i%100)
	}
	return b.String()
}

// tickUntil ticks, waiting for each answer, until the last one satisfies
// ok.
func tickUntil(t *testing.T, tick chan<- time.Time, out *syncBuffer, ok func(last string) bool) {
	t.Helper()
	for n := 1; ; n++ {
		tick <- time.Now()
		waitFor(t, "a snapshot", func() bool { return strings.Count(out.String(), "\n") >= n })
		s := strings.TrimSpace(out.String())
		if ok(s[strings.LastIndexByte("\n"+s, '\n'):]) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFor polls until cond holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInterval: every tick writes a snapshot (NDJSON) while reading, and
// the final answer comes at EOF.
func TestInterval(t *testing.T) {
	first, rest := lines("a", 5000), lines("b", 3000)
	g := newGatedReader(first, rest)
	tick := make(chan time.Time)
	var out syncBuffer
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: g, ticker: tick, stdout: &out}, "distinct", "--interval", "1h", "--format", "json", "-j", "2")
		done <- code
	}()
	<-g.reached
	// The workers process whole batches of what was read: tick until a
	// snapshot sees some of it.
	tickUntil(t, tick, &out, func(s string) bool { return !strings.Contains(s, `"records":0,`) })
	close(g.gate)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	answers := strings.Split(strings.TrimSpace(out.String()), "\n")
	var snap, final distinctJSON
	if err := json.Unmarshal([]byte(answers[len(answers)-2]), &snap); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(answers[len(answers)-1]), &final); err != nil {
		t.Fatal(err)
	}
	if snap.Records == 0 || snap.Records > 5000 || snap.Distinct > 100 {
		t.Errorf("snapshot %+v: want part of the first 5000 records (100 keys)", snap)
	}
	if final.Records != 8000 || final.Distinct != 200 {
		t.Errorf("final %+v: want 8000 records, 200 keys", final)
	}
}

// TestIntervalCSV: CSV snapshots share one header and carry a snapshot
// number.
func TestIntervalCSV(t *testing.T) {
	g := newGatedReader(lines("a", 3000), "")
	tick := make(chan time.Time)
	var out syncBuffer
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: g, ticker: tick, stdout: &out}, "top", "-k", "1", "--interval", "1s", "--format", "csv", "-j", "1")
		done <- code
	}()
	<-g.reached
	tickUntil(t, tick, &out, func(s string) bool { return strings.Contains(s, ",1,a") })
	close(g.gate)
	<-done
	got := strings.Split(out.String(), "\n")
	last := got[len(got)-2]
	if got[0] != "snapshot,time,rank,key,count,lower,upper,guaranteed,records,skipped,shed,total,capacity,unlisted_max,complete" ||
		strings.Count(out.String(), "snapshot") != 1 || !strings.HasPrefix(got[1], "1,") || !strings.HasSuffix(got[1], ",false") ||
		!strings.HasSuffix(last, ",1,a0,30,30,30,true,3000,0,0,3000,4096,30,true") || !strings.HasPrefix(last, "final,") {
		t.Errorf("unexpected CSV:\n%s", out.String())
	}
}

// TestInterrupt: when ctx is done (SIGINT, SIGTERM), the answer for what
// was read is written, and the exit code is 0.
func TestInterrupt(t *testing.T) {
	g := newGatedReader(lines("k", 5000), "")
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: g, ctx: ctx, stdout: &out}, "top", "-k", "2", "--format", "json", "-j", "1")
		done <- code
	}()
	<-g.reached
	time.Sleep(50 * time.Millisecond) // let the worker take what it can
	cancel()
	code := <-done
	var j topJSON
	if err := json.Unmarshal([]byte(out.String()), &j); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %q", code, err, out.String())
	}
	if j.Records == 0 || j.Records > 5000 || len(j.Items) != 2 {
		t.Errorf("answer %+v: want part of the 5000 records read", j)
	}
	close(g.gate)
}

// epipeWriter fails like a pipe whose reader has gone.
type epipeWriter struct{ after int }

func (w *epipeWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, syscall.EPIPE
	}
	w.after--
	return len(p), nil
}

// TestClosedStdout: a closed stdout ends the run quietly, exit 0.
func TestClosedStdout(t *testing.T) {
	in := lines("x", 100000) + lines("y", 100000)
	for _, args := range [][]string{{"distinct"}, {"top"}, {"dedup"}, {"sample", "-k", "5"}, {"distinct", "--interval", "1s"}} {
		tick := make(chan time.Time, 1)
		tick <- time.Now()
		_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in), stdout: &epipeWriter{}, ticker: tick}, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q; want 0 and nothing", args, code, errOut)
		}
	}
}

// TestProgress: --progress always reports on stderr.
func TestProgress(t *testing.T) {
	tick := make(chan time.Time, 1)
	tick <- time.Now()
	_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(lines("p", 1000)), ticker: tick}, "distinct", "--progress", "always")
	if code != 0 || !strings.Contains(errOut, "streamstat: ") || !strings.Contains(errOut, "1.0 k records") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, _ = runIn(t, runOpts{stdin: strings.NewReader("a\n")}, "distinct")
	if errOut != "" {
		t.Errorf("--progress auto on a non-terminal wrote %q", errOut)
	}
}

// TestLiveStreamCounted: on a live stream (tail -f), the lines written so
// far are in the next snapshot, however few: no worker waits for a batch
// to fill.
func TestLiveStreamCounted(t *testing.T) {
	for _, args := range [][]string{
		{"top", "-k", "2", "-j", "2"},
		{"top", "-k", "2", "-j", "2", "--shed"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			g := newGatedReader("a\nb\na\n", "")
			tick := make(chan time.Time)
			var out syncBuffer
			done := make(chan int)
			go func() {
				_, _, code := runIn(t, runOpts{stdin: g, ticker: tick, stdout: &out}, append(args, "--interval", "1h", "--format", "json")...)
				done <- code
			}()
			<-g.reached
			// The three lines must show up without more input: tick
			// until they do, for at most 10 seconds.
			deadline := time.Now().Add(10 * time.Second)
			for n := 1; !strings.Contains(out.String(), `"records":3,`); n++ {
				if time.Now().After(deadline) {
					t.Fatalf("the lines written so far never showed up in a snapshot:\n%s", out.String())
				}
				tick <- time.Now()
				waitFor(t, "a snapshot", func() bool { return strings.Count(out.String(), "\n") >= n })
			}
			close(g.gate)
			if code := <-done; code != 0 {
				t.Fatalf("exit %d", code)
			}
		})
	}
}
