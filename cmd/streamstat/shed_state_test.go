package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/job"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// oldShedDistinctStates returns operator states of distinct --shed as
// streamstat wrote them before it counted in an HLL: the encodings of a
// shedding.Distinct's theta sketch, empty, exact and past its threshold.
func oldShedDistinctStates(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, n := range []int{0, 100, 50_000} {
		th, err := shedding.NewThetaDistinct(1 << 10)
		if err != nil {
			tb.Fatal(err)
		}
		for i := range n {
			th.AddHash(sketch.HashString(string(rune('a'+i%26)) + strings.Repeat("x", i%7) + string(rune(i))))
		}
		data, err := th.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// TestShedDistinctOldState: a checkpoint of distinct --shed from before
// it counted in an HLL holds a theta sketch; resuming it is refused with
// an error that says so and what to do, as a checkpoint of another job
// (job.ErrOtherJob, which the CLI words as "run without --resume to start
// over"), not as corrupt bytes.
func TestShedDistinctOldState(t *testing.T) {
	for _, data := range oldShedDistinctStates(t) {
		op, err := newDistinctOp(sketch.DefaultPrecision)
		if err != nil {
			t.Fatal(err)
		}
		err = op.UnmarshalBinary(data)
		if !errors.Is(err, job.ErrOtherJob) || !errors.Is(err, sketch.ErrKind) || !strings.Contains(err.Error(), "theta sketch of an earlier streamstat") {
			t.Fatalf("old state: %v; want ErrOtherJob and ErrKind, saying it is an earlier version's theta sketch", err)
		}
		if msg := jobError(err).Error(); !strings.Contains(msg, "run without --resume to start over") {
			t.Errorf("CLI error %q does not say to start over", msg)
		}
	}
}

// TestShedDistinctUnknown: when keys were shed down to a p that leaves
// fewer than 16 registers below it (a checkpoint of a run with a lower
// floor than the CLI's 2^-10 could hold one), shedding.HLLDistinct knows
// nothing, and distinct --shed says so in every format (text "unknown",
// json "distinct": null, csv an empty distinct) with the bounds it has
// (0 .. the keyed records), never as a count of 0. Read at 2^-10, the
// same sketch gives a count.
func TestShedDistinctUnknown(t *testing.T) {
	const p = sketch.DefaultPrecision
	h, _ := sketch.NewHLL(p)
	finer, _ := sketch.NewHLL(p + 1)
	if err := h.Merge(finer); err != nil { // folded: dense, empty
		t.Fatal(err)
	}
	const keys = 300
	for i := range uint64(keys) {
		h.AddHash(i << 44) // below 2^-16·2^64, over 16 registers
	}
	a := &shedDistinctAgg{distinctAgg: &distinctAgg{hll: h}, run: &shedRun{policy: shedding.KeyHash, maxLatency: 100 * time.Millisecond}}
	c := counts{Records: 5000, Skipped: 10}
	for _, tc := range []struct {
		minP                  float64
		text, json, csvPrefix string
	}{
		{shedding.PStep, "distinct  unknown: fewer than 16 of the 2^14 registers lie below the smallest keep probability, 1.526e-05 (at most 4990)",
			`{"distinct":null,"lower":0,"upper":4990,`, "\n,0,4990,0.95,false,5000,10,4000,14,false,0,5000,1000,0.8,"},
		{shedding.DefaultMinP, "distinct  ", `{"distinct":`, "\n"},
	} {
		s := shedding.Summary{Seen: 5000, Kept: 1000, Shed: 4000, MinP: tc.minP, MeanP: 0.2, MeanInvP: 5}
		e, cover, err := shedding.HLLDistinct(h, tc.minP, shedConfidence)
		if err != nil {
			t.Fatal(err)
		}
		r := a.render(e, cover, c, s)
		js, err := json.Marshal(r.JSON)
		if err != nil {
			t.Fatal(err)
		}
		csv := strings.Join(r.CSVHeader, ",") + "\n" + strings.Join(r.CSVRows[0], ",")
		if !strings.HasPrefix(r.Text, tc.text) || !strings.HasPrefix(string(js), tc.json) || !strings.Contains(csv, tc.csvPrefix) {
			t.Errorf("min p %g, cover %g:\n%s\n%s\n%s\nwant text %q, json %q, csv %q", tc.minP, cover, r.Text, js, csv, tc.text, tc.json, tc.csvPrefix)
		}
		if known := cover > 0; known == strings.Contains(r.Text, "unknown") || known == strings.Contains(string(js), "null") {
			t.Errorf("min p %g, cover %g: text %q, json %s", tc.minP, cover, r.Text, js)
		}
	}
}
