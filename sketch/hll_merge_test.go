package sketch

import (
	"sync"
	"testing"
)

// TestHLLMergeZeroArgument: a zero-value HLL is empty, so merging it is a
// no-op: it neither lowers the receiver's precision (the zero value stands
// for DefaultPrecision only once it is used) nor writes to the argument,
// which several goroutines may share (run with -race).
func TestHLLMergeZeroArgument(t *testing.T) {
	for _, p := range []int{MinPrecision, 10, DefaultPrecision, 16, MaxPrecision} {
		h := mustHLL(t, p)
		for i := range 50000 {
			h.AddHash(itemHash(31, uint64(i)))
		}
		before := h.Estimate()
		beforeBytes := mustMarshal(t, h)
		var zero HLL
		if err := h.Merge(&zero); err != nil {
			t.Fatal(err)
		}
		if h.Precision() != p {
			t.Errorf("p=%d: merging a zero-value HLL changed the precision to %d", p, h.Precision())
		}
		if got := h.Estimate(); got != before || string(mustMarshal(t, h)) != string(beforeBytes) {
			t.Errorf("p=%d: merging a zero-value HLL changed the estimate from %v to %v", p, before, got)
		}
		if zero.sk != nil || zero.p != 0 || zero.buf != nil {
			t.Errorf("p=%d: Merge modified its zero-value argument", p)
		}
	}
}

func TestHLLMergeSharedZeroArgumentRace(t *testing.T) {
	var shared HLL // read by every goroutine, written by none
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := mustHLL(t, 12+g)
			h.AddString("x")
			for range 100 {
				if err := h.Merge(&shared); err != nil {
					t.Error(err)
					return
				}
			}
			if h.Precision() != 12+g {
				t.Errorf("precision %d after merging an empty sketch, want %d", h.Precision(), 12+g)
			}
		}()
	}
	wg.Wait()
}
