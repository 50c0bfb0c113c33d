package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// groupWindows returns records "TIME GROUP VALUE" over minutes minutes of
// event time from 2026-01-01T00:00:00Z, each minute with groups groups
// of values values each (the groups of minute m are named m*shift + i,
// so that shift < groups shares groups between minutes), in time order.
func groupWindows(minutes, groups, values, shift int) string {
	var b strings.Builder
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for m := range minutes {
		for v := range values {
			for g := range groups {
				sec := (v*groups + g) * 60 / (groups * values)
				fmt.Fprintf(&b, "%d g%d v%d\n", t0+int64(m*60+sec), m*shift+g, v)
			}
		}
	}
	return b.String()
}

var groupWindowArgs = []string{"distinct", "-f", "3", "--by", "2", "-k", "0", "--time-field", "1", "--time-format", "unix"}

// TestWindowMaxMemory: distinct --by -k 0 --window holds, over its
// workers' open slots, scratch merges, closed windows not yet written and
// the job's merge, several times what one worker's sketch of one slot
// does; --max-memory bounds the sum. Over a grid of -j and window shapes:
// with a cap of 1 GiB the run's peak is measured (the most it held at a
// check of the cap); a cap of half that peak (each slot's sketch well
// under a worker's share of it, which was all that was checked before)
// stops the run with exit 1 and a message that names a window and what
// to do; a cap of twice the peak lets it finish.
func TestWindowMaxMemory(t *testing.T) {
	data := groupWindows(8, 5000, 3, 1500)
	shapes := [][]string{{"--window", "1m", "--lateness", "2m"}, {"--window", "4m", "--slide", "1m"}, {"--window", "2m", "--slide", "1m", "--lateness", "30s"}}
	for ji, j := range []string{"1", "2", "3"} {
		for si, shape := range shapes {
			if testing.Short() && si != ji {
				continue // each -j and each shape once
			}
			t.Run(fmt.Sprintf("j=%s,%s", j, strings.Join(shape, " ")), func(t *testing.T) {
				var slot int64           // the largest window's answer
				var maxUsed atomic.Int64 // the run's peak at the checks of its cap
				testHookBudgetCheck = func(b *memBudget, used int64) {
					for p := maxUsed.Load(); used > p && b.parent == nil && !maxUsed.CompareAndSwap(p, used); p = maxUsed.Load() {
					}
				}
				defer func() { testHookBudgetCheck = nil }()
				run := func(cap string) (string, string, int) {
					args := append(slices.Clone(groupWindowArgs), shape...)
					args = append(args, "-j", j, "--format", "json", "--max-memory", cap)
					return runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
				}
				out, stderr, code := run("1GiB")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					var w struct {
						MemoryBytes int64 `json:"memory_bytes"`
					}
					if err := json.Unmarshal([]byte(line), &w); err != nil {
						t.Fatal(err)
					}
					slot = max(slot, w.MemoryBytes)
				}
				// Each window's answer fits under the cap: only their sum,
				// with the slots and states they came from, passes it.
				testHookBudgetCheck = nil
				peak := maxUsed.Load()
				limit := peak / 2
				if slot >= limit || limit < 1<<20 {
					t.Fatalf("a window's answer holds %d bytes, the run %d at most: the case does not test the sum", slot, peak)
				}
				t.Logf("cap %d of a peak of %d", limit, peak)
				_, stderr, code = run(fmt.Sprint(limit))
				if code != exitFailure || !strings.Contains(stderr, "past --max-memory "+formatBytes(limit)) ||
					!strings.Contains(stderr, "window [20") || !strings.Contains(stderr, "-k N lists") {
					t.Fatalf("cap %d of a peak of %d: exit %d, stderr %q", limit, peak, code, stderr)
				}
				// Under a cap that holds, the same answer (peaks differ
				// with the workers' timing).
				again, stderr, code := run(fmt.Sprint(2 * peak))
				if code != 0 || again != out {
					t.Fatalf("cap of twice the peak %d: exit %d, %s; the answer differs: %v", peak, code, stderr, again != out)
				}
			})
		}
	}
}

// TestWindowGroupAllAnswers: distinct --by -k 0 --window writes, for
// each window, the groups distinct --by -k 0 writes for the window's
// records alone, at -j 1 and 2, under a cap that holds.
func TestWindowGroupAllAnswers(t *testing.T) {
	data := groupWindows(5, 400, 40, 150) // HLLs past 8 values at --precision 6
	lines := strings.SplitAfter(data, "\n")
	for _, j := range []string{"1", "2"} {
		args := append(slices.Clone(groupWindowArgs), "--window", "1m", "--precision", "6", "-j", j, "--format", "json", "--max-memory", "64MiB")
		out, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(data), chunk: 4096}, args...)
		if code != 0 {
			t.Fatalf("-j %s: exit %d: %s", j, code, stderr)
		}
		got := strings.Split(strings.TrimSpace(out), "\n")
		if len(got) != 5 {
			t.Fatalf("-j %s: %d windows, want 5", j, len(got))
		}
		for m, w := range got {
			var win struct {
				Groups json.RawMessage `json:"groups"`
			}
			if err := json.Unmarshal([]byte(w), &win); err != nil {
				t.Fatal(err)
			}
			var part strings.Builder
			for _, l := range lines[m*400*40 : (m+1)*400*40] {
				part.WriteString(l)
			}
			plain, stderr, code := runIn(t, runOpts{stdin: strings.NewReader(part.String())},
				"distinct", "-f", "3", "--by", "2", "-k", "0", "--precision", "6", "--format", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var want struct {
				Groups json.RawMessage `json:"groups"`
			}
			if err := json.Unmarshal([]byte(plain), &want); err != nil {
				t.Fatal(err)
			}
			if string(win.Groups) != string(want.Groups) {
				t.Errorf("-j %s, window %d: groups differ from a run over its records:\n%.300s\nwant\n%.300s", j, m, win.Groups, want.Groups)
			}
		}
	}
}

// windowAllSpec is distinct --by -k 0 --window 1m --precision 6 at -j 1
// under a cap of 1 GiB.
func windowAllSpec(tb testing.TB) *spec {
	tb.Helper()
	o := &options{precision: 6, jobs: 1}
	o.by.maxBytes, o.win.size = 1<<30, time.Minute
	s, err := setupDistinctAll(o, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// FuzzWindowOpBudget: a distinct --by -k 0 windowOp's state decoder never
// panics, and the worker's budget holds what its state holds: nothing
// after a refused state, after an accepted one what a fresh windowOp
// holds once it restores the state encoded again.
func FuzzWindowOpBudget(f *testing.F) {
	s := windowAllSpec(f)
	wf := &windowFlags{size: time.Minute, slide: 20 * time.Second, lateness: 5 * time.Second, timeField: "1"}
	mk := func() (*windowOp, *memBudget) {
		root := &memBudget{limit: 1 << 30}
		var op *windowOp
		op = newWindowOp(wf, func() (pipeline.Mergeable, error) {
			m, err := s.newWindowSlot(0)
			return op.budgetSlot(m), err
		}, time.Now, nil)
		op.mem, op.local = root, &memBudget{parent: root}
		return op, root
	}
	op, root := mk()
	b := new(pipeline.Batch)
	for i := range 300 {
		b.Add(pipeline.PairKey(nil, fmt.Appendf(nil, "g%d", i%7), fmt.Appendf(nil, "v%d", i%37))).Time = int64(i+1) * int64(time.Second)
	}
	if err := op.Process(b, new(pipeline.Batch)); err != nil {
		f.Fatal(err)
	}
	if root.used.Load() <= 0 || len(op.closed) == 0 {
		f.Fatalf("the seed's windowOp holds %d bytes, %d closed windows", root.used.Load(), len(op.closed))
	}
	st, err := op.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	fresh, _ := mk()
	empty, _ := fresh.MarshalBinary()
	f.Add(st)
	f.Add(empty)
	f.Add(st[:len(st)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		o, root := mk()
		if err := o.UnmarshalBinary(data); err != nil {
			if u := root.used.Load(); u != 0 {
				t.Fatalf("a refused state left %d bytes in the budget", u)
			}
			return
		}
		again, err := o.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		o2, root2 := mk()
		if err := o2.UnmarshalBinary(again); err != nil {
			t.Fatalf("state accepted, encoded again, refused: %v", err)
		}
		// Restoring again over o: the budget drops the old slots.
		if err := o.UnmarshalBinary(again); err != nil {
			t.Fatal(err)
		}
		if u, u2 := root.used.Load(), root2.used.Load(); u != u2 || u < 0 || o.local.used.Load() != u {
			t.Fatalf("budget %d after restoring twice, %d after once in a fresh windowOp", u, u2)
		}
	})
}

// TestWindowSpan: the window named in errors holds t's slot, before 1970
// too.
func TestWindowSpan(t *testing.T) {
	for _, c := range []struct {
		t, size, slide time.Duration
		start, end     time.Duration
	}{
		{90 * time.Second, time.Minute, 0, time.Minute, 2 * time.Minute},
		{60 * time.Second, time.Minute, 0, time.Minute, 2 * time.Minute},
		{59 * time.Second, 4 * time.Minute, time.Minute, -3 * time.Minute, time.Minute},
		{-time.Second, time.Minute, 0, -time.Minute, 0},
		{-time.Minute, 2 * time.Minute, time.Minute, -2 * time.Minute, 0},
	} {
		start, end := windowSpan(time.Unix(0, int64(c.t)), c.size, c.slide)
		if start.UnixNano() != int64(c.start) || end.UnixNano() != int64(c.end) {
			t.Errorf("t=%v,size=%v,slide=%v: [%v, %v), want [%v, %v)", c.t, c.size, c.slide,
				time.Duration(start.UnixNano()), time.Duration(end.UnixNano()), c.start, c.end)
		}
	}
}

// TestGroupAllOpBudgetAllocs: counting a window slot's bytes in the
// budget allocates nothing per batch (groups seen before, sets grown).
func TestGroupAllOpBudgetAllocs(t *testing.T) {
	s := windowAllSpec(t)
	op, err := s.newWindowSlot(0)
	if err != nil {
		t.Fatal(err)
	}
	b, out := new(pipeline.Batch), new(pipeline.Batch)
	for i := range 256 {
		b.Add(pipeline.PairKey(nil, fmt.Appendf(nil, "g%d", i%4), fmt.Appendf(nil, "v%d", i)))
	}
	if err := op.Process(b, out); err != nil {
		t.Fatal(err)
	}
	mem := s.windowMem
	if got := mem.used.Load(); got != op.(*groupAllOp).Sketch.Bytes() || got <= 0 {
		t.Fatalf("budget %d, the sketch holds %d", got, op.(*groupAllOp).Sketch.Bytes())
	}
	if n := testing.AllocsPerRun(100, func() { op.Process(b, out) }); n != 0 {
		t.Fatalf("got %v allocation(s) per batch (want zero)", n)
	}
}

// BenchmarkMemBudgetAdd measures memBudget.add as the workers call it
// (once a batch, two goroutines, each on its own part and both on the
// run's budget) against the same add keeping the run's peak by
// compare-and-swap, as it did before for tests only (peakAdd), in the
// same run: ns/add, ns/add-peak and their ratio.
func BenchmarkMemBudgetAdd(b *testing.B) {
	var peak atomic.Int64
	peakAdd := func(l *memBudget, n int64) {
		l.used.Add(n)
		u := l.parent.used.Add(n)
		for p := peak.Load(); u > p && !peak.CompareAndSwap(p, u); p = peak.Load() {
		}
	}
	run := func(add func(*memBudget, int64)) time.Duration {
		root := &memBudget{limit: 1 << 40}
		var wg sync.WaitGroup
		t0 := time.Now()
		for range 2 {
			wg.Go(func() {
				l := &memBudget{parent: root}
				for i := range b.N {
					add(l, int64(i%4)-1) // the sketches grow, now and then shrink
				}
			})
		}
		wg.Wait()
		return time.Since(t0)
	}
	b.ReportAllocs()
	var plain, withPeak time.Duration
	for range 5 { // alternated
		plain += run((*memBudget).add)
		withPeak += run(peakAdd)
	}
	n := float64(5 * b.N)
	b.ReportMetric(float64(plain)/n, "ns/add")
	b.ReportMetric(float64(withPeak)/n, "ns/add-peak")
	b.ReportMetric(float64(withPeak)/float64(plain), "peak/add")
}
