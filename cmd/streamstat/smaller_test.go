package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/sketch"
)

// TestStatsExactExtremes: min and max are shown exactly (not 6.71015e+06),
// q = 0 and q = 1 are the exact min and max, and every quantile bound lies
// within them, though the KLL has compacted the extremes away.
func TestStatsExactExtremes(t *testing.T) {
	var in strings.Builder
	const n = 50000
	for i := range n {
		// A permutation of 1..n, scaled; the extremes are unique.
		v := (i*7919)%n + 1
		fmt.Fprintf(&in, "%d.25\n", v*33)
	}
	in.WriteString("6710153\n")
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(in.String())}, "stats", "-f", "1", "-q", "0,0.0001,0.5,0.9999,1", "--format", "json", "-j", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var j struct {
		Min, Max  float64
		Quantiles []struct{ Q, Value, Lower, Upper float64 }
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	const lo, hi = 33.25, 6710153
	if j.Min != lo || j.Max != hi {
		t.Fatalf("min %v max %v; want %v %v", j.Min, j.Max, lo, hi)
	}
	for _, q := range j.Quantiles {
		if q.Lower < lo || q.Upper > hi || q.Value < q.Lower || q.Value > q.Upper {
			t.Errorf("q=%v: %v in [%v, %v], outside [min, max] or its bounds", q.Q, q.Value, q.Lower, q.Upper)
		}
		if (q.Q == 0 && (q.Value != lo || q.Lower != lo || q.Upper != lo)) || (q.Q == 1 && (q.Value != hi || q.Lower != hi || q.Upper != hi)) {
			t.Errorf("q=%v: %v [%v, %v]; want the exact min or max", q.Q, q.Value, q.Lower, q.Upper)
		}
	}
	// q=0.0001 has rank error reaching 0: its lower bound is the min.
	if q := j.Quantiles[1]; q.Lower != lo {
		t.Errorf("q=%v: lower bound %v; want the exact min %v", q.Q, q.Lower, lo)
	}
	text, _, _ := runIn(t, runOpts{stdin: strings.NewReader(in.String())}, "stats", "-f", "1", "-q", "0,1", "-j", "2")
	for _, want := range []string{"\nmin     33.25\n", "\nmax     6710153\n", "\np0      33.25\n", "\np100    6710153\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("text answer lacks %q:\n%s", want, text)
		}
	}
}

// TestStatsExactQuantileText: a quantile known exactly (its bounds are its
// value, as for a few values) is shown in text with every digit, as the
// bounds it omits imply, not rounded to 6 digits (6.71015e+06).
func TestStatsExactQuantileText(t *testing.T) {
	text, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("6710153\n12345.678\n")}, "stats", "-f", "1", "-q", "0.5,0.9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"\np50     12345.678\n", "\np90     6710153\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("text answer lacks %q:\n%s", want, text)
		}
	}
}

// TestStatsAllBad: when no value is a number, stats says so on stderr and
// exits 1, and its answer shows no NaN; some bad values get a warning.
func TestStatsAllBad(t *testing.T) {
	for _, format := range []string{"text", "json", "csv"} {
		out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("a x\nb y\nc z\n")}, "stats", "-f", "2", "--format", format)
		if code != 1 || !strings.Contains(errOut, "streamstat: stats: none of the 3 values is a number") || strings.Contains(out, "NaN") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1, a message and no NaN", format, code, out, errOut)
		}
	}
	out, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("a 1\nb y\n")}, "stats", "-f", "2")
	if code != 0 || !strings.Contains(errOut, "warning: 1 of 2 values are not numbers") || strings.Contains(out, "NaN") {
		t.Errorf("one bad value: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestDedupPastCapacity: a filter far past its capacity (saturated) gives
// bounds no wider than the records, and suggests a --capacity that dedup
// accepts.
func TestDedupPastCapacity(t *testing.T) {
	for _, c := range []struct {
		capacity, rate string
	}{
		{"1", "0.5"}, {"3", "0.01"}, {"50", "0.001"},
	} {
		_, errOut, code := runIn(t, runOpts{stdin: strings.NewReader(lines("k", 5000) + lines("z", 100))},
			"dedup", "--capacity", c.capacity, "--fp-rate", c.rate, "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var j dedupJSON
		if err := json.Unmarshal([]byte(errOut), &j); err != nil {
			t.Fatal(err)
		}
		if j.Upper > j.Records || j.Lower > j.Distinct || j.Distinct > j.Upper || j.Lower < j.Passed {
			t.Errorf("capacity %s: bounds %d <= %d <= %d with %d records, %d passed", c.capacity, j.Lower, j.Distinct, j.Upper, j.Records, j.Passed)
		}
		_, text, _ := runIn(t, runOpts{stdin: strings.NewReader(lines("k", 5000))}, "dedup", "--capacity", c.capacity, "--fp-rate", c.rate)
		i := strings.Index(text, "rerun with --capacity ")
		if i < 0 {
			t.Fatalf("capacity %s: no hint in %q", c.capacity, text)
		}
		hint, _, _ := strings.Cut(text[i+len("rerun with --capacity "):], " ")
		if _, err := strconv.ParseUint(hint, 10, 64); err != nil {
			t.Fatalf("hint %q", hint)
		}
		if _, errOut, code := runIn(t, runOpts{stdin: strings.NewReader("a\n")}, "dedup", "--capacity", hint, "--fp-rate", c.rate); code != 0 {
			t.Errorf("the suggested --capacity %s is refused: %s", hint, errOut)
		}
	}
	// At the largest filter, the hint is the largest capacity and a
	// higher rate.
	h := capacityHint(math.MaxUint64, 0.01)
	var most uint64
	if _, err := fmt.Sscanf(h, "rerun with --capacity %d (the largest", &most); err != nil {
		t.Fatalf("%q: %v", h, err)
	}
	// (NewBloom(most) would allocate 4 GiB: only the refusals are tried.)
	if !strings.Contains(h, "higher --fp-rate") || most < sketch.MaxBloomBits/10 {
		t.Errorf("%q: no higher rate suggested, or a capacity far below the largest", h)
	}
	if _, err := sketch.NewBloom(most+most/1000, 0.01); err == nil {
		t.Errorf("%q: 0.1%% more is accepted too: not the largest", h)
	}
}

// TestDistinctSaturated: a state whose HLL has every register at its
// maximum is shown as saturated, with a finite lower bound, in every
// format.
func TestDistinctSaturated(t *testing.T) {
	const p = 4
	h, err := sketch.NewHLL(p)
	if err != nil {
		t.Fatal(err)
	}
	for j := range uint64(1 << p) {
		h.AddHash(registerHash(j, 65-p, p))
	}
	if !h.Saturated() {
		t.Fatal("the test sketch is not saturated")
	}
	data, err := encodeState(stateHeader{version: stateVersion, cmd: "distinct", complete: true, delim: "ws", sources: []uint64{1}},
		counts{Records: 1 << 40}, &distinctAgg{hll: h})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/sat.state"
	if err := writeFile(path, string(data)); err != nil {
		t.Fatal(err)
	}
	for format, want := range map[string]string{
		"text": "(saturated: at least ",
		"json": `"saturated":true`,
		"csv":  ",true,true\n", // saturated, complete
	} {
		out, errOut, code := runIn(t, runOpts{}, "merge", "--format", format, path)
		if code != 0 || !strings.Contains(out, want) || strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", format, code, out, errOut, want)
		}
		if format == "json" {
			var j distinctJSON
			if err := json.Unmarshal([]byte(out), &j); err != nil || j.Lower == 0 || j.Lower > j.Upper {
				t.Errorf("json %q: %v", out, err)
			}
		}
	}
}
