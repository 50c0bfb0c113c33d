package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/observe"
)

// events is testdata/events.txt: lines "TIME USER MS PAGE", TIME in Unix
// seconds from 2026-01-01T12:00:00Z, one a second, up to 3 s out of
// order; one line with a time that does not parse, one without a key,
// one 100 s late.
var events = filepath.Join("testdata", "events.txt")

var eventArgs = []string{"--time-field", "1", "--time-format", "unix", "--lateness", "5s"}

// TestWindowGolden: each windowed command in each format, from a file and
// from stdin at -j 1 and 3 (the answers must agree).
func TestWindowGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"window_distinct_sliding", append([]string{"distinct", "-f", "2", "--window", "1m", "--slide", "30s"}, eventArgs...)},
		{"window_top", append([]string{"top", "-k", "3", "-f", "4", "--window", "2m"}, eventArgs...)},
		{"window_freq", append([]string{"freq", "-f", "2", "--key", "u1", "--key", "u2", "--window", "2m"}, eventArgs...)},
		{"window_stats", append([]string{"stats", "-f", "3", "--window", "2m", "-q", "0.5,0.99"}, eventArgs...)},
		{"window_distinct_by", append([]string{"distinct", "-f", "2", "--by", "4", "-k", "3", "--window", "2m", "--slide", "1m"}, eventArgs...)},
		{"window_top_by", append([]string{"top", "-f", "2", "--by", "4", "-k", "2", "--window", "2m"}, eventArgs...)},
		{"window_stats_by", append([]string{"stats", "-f", "3", "--by", "4", "-k", "2", "-q", "0.5", "--window", "2m"}, eventArgs...)},
	}
	data := readFile(t, events)
	for _, c := range cases {
		for _, format := range []string{"text", "json", "csv"} {
			t.Run(c.name+"_"+format, func(t *testing.T) {
				args := append(slices.Clone(c.args), "--format", format)
				got, stderr, code := runIn(t, runOpts{}, append(args, "-j", "1", events)...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				golden(t, c.name+"_"+format, got)
				if !strings.Contains(stderr, "2 of 243 records have no key") {
					t.Errorf("stderr does not count the records without a key or time: %q", stderr)
				}
				if strings.HasPrefix(c.name, "window_top") || strings.HasPrefix(c.name, "window_stats") {
					return // order-sensitive sketches: the same at the same -j only
				}
				for _, j := range []string{"1", "3"} {
					again, _, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 512}, append(args, "-j", j)...)
					if code != 0 || again != got {
						t.Errorf("stdin at -j %s: exit %d, answer differs:\n%s\nwant\n%s", j, code, again, got)
					}
				}
			})
		}
	}
}

// evStream returns n records "TIME KEY" one every step from t0, each up
// to disorder behind its place, and the keys' distinct counts and record
// counts per window [start, start+size) of the given slide; every 97th
// line has a time that does not parse.
func evStream(seed uint64, n int, t0 time.Time, step, disorder, size, slide time.Duration) (string, map[int64][2]int) {
	rng := rand.New(rand.NewPCG(seed, 15))
	var b strings.Builder
	keys := map[int64]map[string]bool{}
	recs := map[int64]int{}
	for i := range n {
		if i%97 == 96 {
			b.WriteString("soon k0\n")
			continue
		}
		ts := t0.Add(time.Duration(i)*step - time.Duration(rng.Int64N(int64(disorder)+1)))
		k := fmt.Sprintf("k%d", int(rng.ExpFloat64()*50))
		fmt.Fprintf(&b, "%d.%09d %s\n", ts.Unix(), ts.Nanosecond(), k)
		ns := ts.UnixNano()
		for end := (ns/int64(slide) + 1) * int64(slide); end-int64(size) <= ns; end += int64(slide) {
			if keys[end] == nil {
				keys[end] = map[string]bool{}
			}
			keys[end][k] = true
			recs[end]++
		}
	}
	truth := map[int64][2]int{}
	for end, ks := range keys {
		truth[end] = [2]int{len(ks), recs[end]}
	}
	return b.String(), truth
}

type distinctWindow struct {
	Start, End    time.Time
	Distinct      int
	Lower, Upper  int
	Records       int
	Complete      bool
	Skipped, Shed int
}

// TestWindowSameAtEveryJobs: event-time windows over a stream disordered
// within the lateness are the same, byte for byte, at -j 1 to 4, from a
// file and from stdin in small chunks, and each window holds exactly its
// records, with the true distinct count within its bounds.
func TestWindowSameAtEveryJobs(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	data, truth := evStream(1, 6000, t0, 100*time.Millisecond, 2*time.Second, time.Minute, 20*time.Second)
	path := filepath.Join(t.TempDir(), "ev.txt")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"distinct", "-f", "2", "--window", "1m", "--slide", "20s", "--time-field", "1",
		"--time-format", "unix", "--lateness", "3s", "--format", "json"}
	want, stderr, code := runIn(t, runOpts{}, append(args, "-j", "1", path)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "late") {
		t.Errorf("records counted late though none is: %s", stderr)
	}
	var ws []distinctWindow
	dec := json.NewDecoder(strings.NewReader(want))
	for dec.More() {
		var w distinctWindow
		if err := dec.Decode(&w); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	if len(ws) != len(truth) {
		t.Fatalf("%d windows, want %d", len(ws), len(truth))
	}
	for i, w := range ws {
		tr := truth[w.End.UnixNano()]
		if w.Records != tr[1] || w.Lower > tr[0] || w.Upper < tr[0] || w.End.Sub(w.Start) != time.Minute {
			t.Errorf("window %d [%v, %v): %d records, distinct %d (%d .. %d); want %d records, %d distinct",
				i, w.Start, w.End, w.Records, w.Distinct, w.Lower, w.Upper, tr[1], tr[0])
		}
		if i > 0 && !w.End.After(ws[i-1].End) {
			t.Errorf("window %d ends at %v, not after the one before (%v)", i, w.End, ws[i-1].End)
		}
		if last := len(ws) - 3; w.Complete != (i < last) {
			t.Errorf("window %d of %d: complete %v", i, len(ws), w.Complete)
		}
	}
	for j := 1; j <= 4; j++ {
		got, _, code := runIn(t, runOpts{}, append(args, "-j", fmt.Sprint(j), path)...)
		if code != 0 || got != want {
			t.Errorf("file at -j %d: exit %d, windows differ from -j 1", j, code)
		}
		got, _, code = runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(args, "-j", fmt.Sprint(j))...)
		if code != 0 || got != want {
			t.Errorf("stdin at -j %d: exit %d, windows differ from -j 1", j, code)
		}
	}
}

// TestWindowLateCounted: a record older than its worker's watermark's
// window is counted late, never silently dropped; --strict stops at a
// time that does not parse.
func TestWindowLateCounted(t *testing.T) {
	in := "100 a\n161 b\n130 c\n162 d\n100 e\n"
	out, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(in)},
		"distinct", "-f", "2", "--window", "1m", "--time-field", "1", "--time-format", "unix", "--lateness", "40s", "--format", "csv")
	// 130 is within 40 s of 161, 100 is not: its window [60, 120) closed
	// when the watermark reached 122.
	want := "start,end,distinct,lower,upper,confidence,exact,records,skipped,shed,precision,saturated,late,complete\n" +
		"1970-01-01T00:01:00.000Z,1970-01-01T00:02:00.000Z,1,1,2,0.95,false,1,0,0,14,false,0,true\n" +
		"1970-01-01T00:02:00.000Z,1970-01-01T00:03:00.000Z,3,3,4,0.95,false,3,0,0,14,false,1,false\n"
	if code != 0 || out != want || !strings.Contains(stderr, "1 of 5 records were late") {
		t.Fatalf("exit %d, stderr %q\n got %s\nwant %s", code, stderr, out, want)
	}
	_, stderr, code = runIn(t, runOpts{stdin: strings.NewReader("100 a\nnoon b\n")},
		"distinct", "-f", "2", "--window", "1m", "--time-field", "1", "--time-format", "unix", "--strict")
	if code != 1 || !strings.Contains(stderr, "time field does not parse") {
		t.Fatalf("--strict: exit %d, stderr %q", code, stderr)
	}
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestWindowProcessingTime: without --time-field, windows follow the
// (injected) clock; each is written when it closes, while the stream is
// still open, and the window the input ends in is partial.
func TestWindowProcessingTime(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 5, 0, time.UTC)}
	var processed atomic.Int64
	testHookWindowed = func(n int) { processed.Add(int64(n)) }
	defer func() { testHookWindowed = nil }()
	pr, pw := io.Pipe()
	outR, outW := io.Pipe()
	tick := make(chan time.Time)
	done := make(chan int)
	go func() {
		_, _, code := runIn(t, runOpts{stdin: pr, stdout: outW, ticker: tick, now: clock.now},
			"distinct", "--window", "10s", "--format", "json", "-j", "2")
		outW.Close()
		done <- code
	}()
	out := make(chan string, 16)
	go func() {
		lines := bufio.NewScanner(outR)
		for lines.Scan() {
			out <- lines.Text()
		}
		close(out)
	}()
	// Lines in one window; the clock passes its end; a tick writes it.
	fmt.Fprint(pw, "a\nb\nc\nb\n")
	waitFor(t, "the workers to take the lines", func() bool { return processed.Load() == 4 })
	clock.add(10 * time.Second)
	var first string
	for first == "" {
		select {
		case tick <- clock.now():
		case first = <-out:
		case <-time.After(10 * time.Second):
			t.Fatal("no window written while the stream is open")
		}
	}
	want := `{"start":"2026-01-01T12:00:00.000Z","end":"2026-01-01T12:00:10.000Z","distinct":3,`
	if !strings.HasPrefix(first, want) || !strings.HasSuffix(first, `"records":4,"skipped":0,"shed":0,"precision":14,"late":0,"complete":true}`) {
		t.Fatalf("first window %s, want %s...", first, want)
	}
	fmt.Fprint(pw, "x\n")
	waitFor(t, "the workers to take the line", func() bool { return processed.Load() == 5 })
	pw.Close()
	last := ""
	for l := range out {
		last = l
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(last, `{"start":"2026-01-01T12:00:10.000Z","end":"2026-01-01T12:00:20.000Z","distinct":1,`) || !strings.HasSuffix(last, `"complete":false}`) {
		t.Fatalf("last window %s: want [12:00:10, 12:00:20) with 1 key, partial", last)
	}
}

func TestWindowUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"distinct", "--window", "1m", "--slide", "7s"}, "whole multiple of the slide"},
		{[]string{"distinct", "--slide", "10s"}, "need --window"},
		{[]string{"distinct", "--window", "1m", "--lateness", "5s"}, "need --time-field"},
		{[]string{"distinct", "--window", "1m", "--time-field", "1", "--time-format", "yesterday"}, "--time-format"},
		{[]string{"distinct", "--window", "1m", "--interval", "1s"}, "--interval"},
		{[]string{"distinct", "--window", "1ms", "--slide", "1ns"}, "use a longer --slide"},
		{[]string{"distinct", "--window", "1m", "--time-field", "x"}, "field number"},
		{[]string{"sample", "--window", "1m"}, "--window"},
	} {
		_, stderr, code := runIn(t, runOpts{stdin: strings.NewReader("1 a\n")}, c.args...)
		if code != 2 || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.msg)
		}
	}
}

// TestWindowResume: a windowed run interrupted (with a checkpoint) after
// it wrote some windows, then resumed, writes the rest: its complete
// windows and the resumed run's are the uninterrupted run's, none twice.
func TestWindowResume(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	data, _ := evStream(2, 20000, t0, 50*time.Millisecond, time.Second, time.Minute, 20*time.Second)
	half := middleLine(data)
	// distinct --by -k 0 under --max-memory: a restored run's budget
	// holds what its windows hold, never less than nothing.
	var budgetErr atomic.Value
	testHookWindowRun = func(r *windowRun) {
		if r.mem != nil && r.mem.used.Load() < 0 {
			budgetErr.Store(fmt.Sprintf("the budget holds %d bytes at the end", r.mem.used.Load()))
		}
	}
	defer func() { testHookWindowRun = nil }()
	for _, cmd := range [][]string{{"distinct", "-f", "2"}, {"top", "-k", "3", "-f", "2"}, {"distinct", "-f", "2", "--by", "1", "-k", "0", "--max-memory", "64MiB"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			args := append(slices.Clone(cmd), "--window", "1m", "--slide", "20s", "--time-field", "1",
				"--time-format", "unix", "--lateness", "2s", "--format", "json", "-j", "2")
			want, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
			if code != 0 {
				t.Fatalf("reference run: exit %d: %s", code, stderr)
			}
			dir := t.TempDir()
			ck := append(args, "--checkpoint", dir, "--checkpoint-interval", "2ms")
			g := newGatedReader(data[:half], data[half:])
			ctx, cancel := context.WithCancel(context.Background())
			tick := make(chan time.Time)
			var first syncBuffer
			done := make(chan int)
			go func() {
				_, _, code := runIn(t, runOpts{stdin: g, ctx: ctx, chunk: 4096, ticker: tick, stdout: &first}, ck...)
				done <- code
			}()
			<-g.reached
			waitFor(t, "a checkpoint of the first part", func() bool { return covered(dir) == int64(half) })
			tick <- time.Now() // the windows closed so far are written
			waitFor(t, "windows of the first part", func() bool { return strings.Count(first.String(), "\n") >= 3 })
			tick <- time.Now()
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("interrupted run: exit %d", code)
			}
			close(g.gate)
			rest, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, append(ck, "--resume")...)
			if code != 0 {
				t.Fatalf("resumed run: exit %d: %s", code, stderr)
			}
			var got strings.Builder
			for _, l := range strings.SplitAfter(first.String(), "\n") {
				if strings.HasSuffix(l, `"complete":true}`+"\n") {
					got.WriteString(l)
				}
			}
			if got.Len() == 0 {
				t.Fatal("the interrupted run wrote no complete window")
			}
			got.WriteString(rest)
			if got.String() != want {
				t.Fatalf("interrupted run's complete windows and the resumed run's:\n%s\nwant\n%s", got.String(), want)
			}
			if e := budgetErr.Load(); e != nil {
				t.Fatal(e)
			}
		})
	}
}

// FuzzWindowOpState: a windowOp's state decoder never panics, and a state
// it accepts encodes to one it accepts again.
func FuzzWindowOpState(f *testing.F) {
	s, err := setupDistinct(&options{precision: -1}, nil)
	if err != nil {
		f.Fatal(err)
	}
	wf := &windowFlags{size: time.Minute, slide: 20 * time.Second, lateness: 5 * time.Second, timeField: "1"}
	mk := func() *windowOp {
		return newWindowOp(wf, func() (pipeline.Mergeable, error) { return s.newWindowSlot(0) }, time.Now, nil)
	}
	op := mk()
	b := new(pipeline.Batch)
	for i := range 300 {
		b.Add(fmt.Appendf(nil, "k%d", i%37)).Time = int64(i+1) * int64(time.Second)
	}
	if err := op.Process(b, new(pipeline.Batch)); err != nil {
		f.Fatal(err)
	}
	st, err := op.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	empty, _ := mk().MarshalBinary()
	f.Add(st)
	f.Add(empty)
	f.Add(st[:len(st)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		o := mk()
		if err := o.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := o.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := mk().UnmarshalBinary(again); err != nil {
			t.Fatalf("state accepted, encoded again, refused: %v", err)
		}
	})
}

// TestWindowHTTP: --http serves a windowed run's windows, each with its
// bounds, as the snapshot's series; the page keeps them after the input.
func TestWindowHTTP(t *testing.T) {
	base, stdout, _, stop := webRun(t, append([]string{"distinct", "-f", "2", "--window", "1m", "--slide", "30s", "--format", "json", events}, eventArgs...)...)
	var s observe.Snapshot
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s, _ = getSnapshot(t, base); s.State == "finished" && len(s.Windows) > 0 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no windows in the snapshot: %+v", s)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := strings.Count(stdout.String(), "\n"); len(s.Windows) != n {
		t.Fatalf("%d windows in the snapshot, %d written", len(s.Windows), n)
	}
	for i, w := range s.Windows {
		if len(w.Bands) != 1 || w.Bands[0].Name != "distinct" || w.Bands[0].Lower > w.Bands[0].Value || w.End.Sub(w.Start) != time.Minute {
			t.Errorf("window %d: %+v", i, w)
		}
	}
	if last := s.Windows[len(s.Windows)-1]; last.Complete {
		t.Errorf("the last window, cut by the input's end, is complete: %+v", last)
	}
}

// TestWindowDayKeepsSlots: a day of event time (a record every 2 s) in
// one-minute windows sliding by 10 s: every window is written (8640 and
// the 5 that the day's end cuts), each worker keeps D/S + 1 slot sketches
// (and one for the lateness), and the windows closed but not yet written
// are at most those of a batch of records, however long the input.
func TestWindowDayKeepsSlots(t *testing.T) {
	var b strings.Builder
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := range 24 * 3600 / 2 {
		fmt.Fprintf(&b, "%d u%d\n", t0+int64(2*i), i%500)
	}
	path := filepath.Join(t.TempDir(), "day.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var slots []int
	peak := -1
	testHookWindowRun = func(r *windowRun) {
		peak = r.peak
		r.forEach(func(o *windowOp) error { slots = append(slots, o.w.Slots(), len(o.closed)); return nil })
	}
	defer func() { testHookWindowRun = nil }()
	out, stderr, code := runIn(t, runOpts{}, "distinct", "-f", "2", "--window", "1m", "--slide", "10s",
		"--time-field", "1", "--time-format", "unix", "--lateness", "5s", "--format", "csv", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(out, "\n") - 1; n != 8640+5 {
		t.Errorf("%d windows, want %d", n, 8640+5)
	}
	if fmt.Sprint(slots) != "[8 0]" {
		t.Errorf("one worker's slots and closed windows held at the end: %v, want [8 0]", slots)
	}
	// A batch of 1024 records spans 34 minutes: 205 windows.
	if peak < 1 || peak > 2*205 {
		t.Errorf("at most %d closed windows waited for the job at once, want 1 to %d (a batch's, not the day's)", peak, 2*205)
	}
}

// TestWindowStatsBadValues: a window's bad values are its records without
// a number, and the run's are warned of.
func TestWindowStatsBadValues(t *testing.T) {
	in := "100 5\n110 x\n120 7\n130 9\n"
	out, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(in)},
		"stats", "-f", "2", "--window", "1m", "--time-field", "1", "--time-format", "unix", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"count":1,`) || !strings.Contains(lines[0], `"records":2,"skipped":0,"bad":1,`) ||
		!strings.Contains(lines[1], `"count":2,`) || !strings.Contains(lines[1], `"bad":0,`) {
		t.Fatalf("windows:\n%s", out)
	}
	if !strings.Contains(stderr, "1 of 4 values are not numbers") {
		t.Fatalf("stderr %q", stderr)
	}
}

// TestWindowStatsByBadValues: under --by too, a window's bad values are
// its records without a number (they read 0 while the run warned of them).
func TestWindowStatsByBadValues(t *testing.T) {
	in := "100 5 a\n110 x a\n120 7 b\n130 9 a\n"
	out, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(in)},
		"stats", "-f", "2", "--by", "3", "--window", "1m", "--time-field", "1", "--time-format", "unix", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"records":2,"skipped":0,"bad":1,`) || !strings.Contains(lines[1], `"bad":0,`) {
		t.Fatalf("windows:\n%s", out)
	}
}
