package main

import (
	"errors"
	"strings"
	"testing"

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
