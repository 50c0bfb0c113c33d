package shedding

import (
	"fmt"
	"math"
	"testing"
)

func TestQuantize(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{1, 1},
		{2, 1},
		{math.NaN(), 1},
		{0.5, 0.5},
		{0.3, math.Floor(0.3*65536) / 65536},
		{1 - 1e-9, 1 - PStep},
		{PStep, PStep},
		{PStep / 2, PStep},
		{0, PStep},
		{-1, PStep},
	} {
		t.Run(fmt.Sprintf("p=%v", tc.in), func(t *testing.T) {
			got := Quantize(tc.in)
			if got != tc.want {
				t.Fatalf("Quantize(%v) = %v, want %v", tc.in, got, tc.want)
			}
			if !onGrid(got) {
				t.Errorf("%v is off the grid", got)
			}
			// The three representations agree: float32 KeepP, and the
			// threshold p·2^64 exactly.
			if float64(float32(got)) != got {
				t.Errorf("%v does not fit a float32", got)
			}
			if got < 1 && float64(threshold(got))*0x1p-64 != got {
				t.Errorf("threshold of %v is %#x, not exact", got, threshold(got))
			}
		})
	}
}

func TestKeepFractions(t *testing.T) {
	// Over many hashes each rule keeps a fraction p, and the random rule is
	// independent of the key-hash rule: among keys KeepKey keeps at p,
	// KeepRandom keeps a fraction q.
	const n = 200_000
	r := pcg(1)
	for _, p := range []float64{0.1, 0.5, 0.9} {
		q := Quantize(0.3)
		var key, rnd, both int
		for i := range n {
			h := r.Uint64()
			k, x := KeepKey(h, p), KeepRandom(h, uint64(i), 7, q)
			if k {
				key++
			}
			if x {
				rnd++
			}
			if k && x {
				both++
			}
		}
		check := func(what string, got, want, sd float64) {
			if math.Abs(got-want) > 5*sd {
				t.Errorf("p %v: %s fraction %.4f, want %.4f", p, what, got, want)
			}
		}
		check("key-hash", float64(key)/n, p, math.Sqrt(p*(1-p)/n))
		check("random", float64(rnd)/n, q, math.Sqrt(q*(1-q)/n))
		check("random among key-kept", float64(both)/float64(key), q, math.Sqrt(q*(1-q)/float64(key)))
	}
}

func TestKeepRandomPerRecord(t *testing.T) {
	// Records of one key are decided independently: a key repeated n times
	// is kept about n·p times, not 0 or n.
	const n = 10_000
	for _, h := range []uint64{0, 1, 0xdeadbeef, math.MaxUint64} {
		kept := 0
		for seq := range uint64(n) {
			if KeepRandom(h, seq, 0, 0.25) {
				kept++
			}
		}
		if kept < n/4-250 || kept > n/4+250 {
			t.Errorf("hash %#x: kept %d of %d repeats, want about %d", h, kept, n, n/4)
		}
	}
}

func TestKeepAtOne(t *testing.T) {
	for _, h := range []uint64{0, math.MaxUint64} {
		if !KeepKey(h, 1) || !KeepRandom(h, 3, 4, 1) {
			t.Errorf("hash %#x dropped at p = 1", h)
		}
	}
	// Nested: a key kept at p is kept at every larger p.
	r := pcg(2)
	for range 10_000 {
		h := r.Uint64()
		p := Quantize(r.Float64())
		if KeepKey(h, p) && !KeepKey(h, Quantize(p+r.Float64()*(1-p))) {
			t.Fatalf("hash %#x kept at %v, dropped at a larger p", h, p)
		}
	}
}
