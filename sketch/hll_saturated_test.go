package sketch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// denseEncoding returns the encoding of a dense HLL at precision p whose
// registers are regs(i).
func denseEncoding(p int, regs func(i int) byte) []byte {
	hdr := envelope.Header{Kind: envelope.KindHLL, HashID: envelope.HashXXH64}
	hdr.Shape[0], hdr.Shape[1] = uint64(p), hllDense
	dst, start := envelope.Begin(nil, hdr)
	for i := range 1 << p {
		dst = append(dst, regs(i))
	}
	return envelope.End(dst, start)
}

// TestHLLSaturated: a sketch with every register at its maximum used to
// estimate +Inf with NaN bounds, which encoding/json refuses. It now says
// Saturated, with a finite value and bounds: Lower the honest floor, Upper
// 2^64.
func TestHLLSaturated(t *testing.T) {
	for _, p := range []int{MinPrecision, DefaultPrecision, MaxPrecision} {
		t.Run(fmt.Sprintf("p=%d", p), func(t *testing.T) {
			var h HLL
			if err := h.UnmarshalBinary(denseEncoding(p, func(int) byte { return byte(64 - p + 1) })); err != nil {
				t.Fatal(err)
			}
			if !h.Saturated() {
				t.Fatal("Saturated() = false with every register at its maximum")
			}
			e := h.Estimate()
			for _, x := range []float64{e.Value, e.Lower, e.Upper} {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Fatalf("estimate %+v is not finite", e)
				}
			}
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("estimate does not encode as JSON: %v", err)
			}
			// Fewer than ~2^64 distinct hashes leave some register below
			// its maximum: the floor sits under 2^64 (0.79 * 2^64 at p=4,
			// closer at larger p), and a larger confidence lowers it.
			if !(e.Lower > 0.75*twoTo64 && e.Lower < twoTo64 && e.Upper == twoTo64 && e.Value == e.Lower && !e.Exact) {
				t.Errorf("saturated estimate %+v, want Value = Lower just below Upper = 2^64", e)
			}
			if e99 := h.EstimateAt(0.99); !(e99.Lower < e.Lower) {
				t.Errorf("99%% floor %g not below the 95%% floor %g", e99.Lower, e.Lower)
			}
		})
	}
	h := mustHLL(t, 10)
	for i := range 100000 {
		h.AddHash(itemHash(43, uint64(i)))
	}
	if h.Saturated() || new(HLL).Saturated() {
		t.Error("Saturated() = true for an ordinary or empty sketch")
	}
}

// TestHLLExtremeRegisters: every uniform register state, and nearly
// saturated ones, give a finite estimate inside finite bounds of nonzero
// width (zero only when Exact), that encodes as JSON.
func TestHLLExtremeRegisters(t *testing.T) {
	for _, p := range []int{MinPrecision, 9, DefaultPrecision, MaxPrecision} {
		q := 64 - p
		for v := 0; v <= q+1; v++ {
			for _, odd := range []int{-1, 0, q + 1} { // register 0 differs
				name := fmt.Sprintf("p=%d,registers=%d,first=%d", p, v, odd)
				enc := denseEncoding(p, func(i int) byte {
					if i == 0 && odd >= 0 {
						return byte(odd)
					}
					return byte(v)
				})
				var h HLL
				if err := h.UnmarshalBinary(enc); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				e := h.Estimate()
				b, err := json.Marshal(e)
				switch {
				case err != nil:
					t.Errorf("%s: %+v does not encode: %v", name, e, err)
				case bytes.Contains(b, []byte("Inf")) || bytes.Contains(b, []byte("NaN")):
					t.Errorf("%s: %s", name, b)
				case !(e.Lower <= e.Value && e.Value <= e.Upper):
					t.Errorf("%s: value outside its bounds: %+v", name, e)
				case e.Lower == e.Upper && !e.Exact:
					t.Errorf("%s: zero-width bounds without Exact: %+v", name, e)
				case e.Upper > twoTo64:
					t.Errorf("%s: upper bound %g above 2^64 distinct hashes", name, e.Upper)
				}
			}
		}
	}
}
