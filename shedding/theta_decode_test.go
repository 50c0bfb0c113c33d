package shedding

import (
	"fmt"
	"math/bits"
	"slices"
	"testing"
	"time"
)

// collidingTheta returns the encoding of a ThetaDistinct of k 65536
// (uncut) holding r hashes crafted so that Fibonacci hashing sends them
// all to one slot of the table a decoder builds for r hashes: h·phi has
// the same top bits for each, so a plain linear-probing build takes
// r²/2 probes.
func collidingTheta(tb testing.TB, r int) []byte {
	tb.Helper()
	size := max(16, 1<<bits.Len64(uint64(r*4/3)))
	shift := 64 - bits.Len64(uint64(size-1))
	inv := uint64(0x9e3779b97f4a7c15)
	for range 5 { // Newton's iteration for the inverse of phi mod 2^64
		inv *= 2 - 0x9e3779b97f4a7c15*inv
	}
	hs := make([]uint64, r)
	base := uint64(12345) << shift
	step := (uint64(1) << shift) / uint64(r+1)
	for i := range hs {
		hs[i] = (base + uint64(i+1)*step) * inv // h·phi = base + (i+1)·step
	}
	slices.Sort(hs)
	th := &ThetaDistinct{k: 1 << 16, scratch: hs}
	// Encode through a table-less sketch: sorted() reads the table, so
	// give it one holding exactly hs in any order.
	th.table = append(make([]uint64, 0, 2*r), hs...)
	th.n = r
	enc, err := th.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}

// displacement returns the probes a search for each held hash takes
// beyond its first: the work to build the table and to look anything up.
func displacement(t *ThetaDistinct) int {
	mask := uint64(len(t.table) - 1)
	total := 0
	for i, h := range t.table {
		if h != 0 {
			total += int((uint64(i) - t.home(h)) & mask)
		}
	}
	return total
}

// TestThetaDecodeCollidingHashesLinear: 80k hashes crafted to share one
// slot (640 KB) decode with a linear number of probes, not r²/2 (3.2e9,
// 1.8 s, before the fix), and the decoded sketch is the same sketch.
func TestThetaDecodeCollidingHashesLinear(t *testing.T) {
	const r = 80_000
	enc := collidingTheta(t, r)
	var th ThetaDistinct
	if err := th.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if d := displacement(&th); d > 4*r {
		t.Errorf("decoded table: %d probes beyond the first to find %d hashes, want <= %d (linear)", d, r, 4*r)
	}
	if th.Retained() != r || th.salt == 0 {
		t.Errorf("retained %d of %d, salt %#x (want the crafted input re-salted)", th.Retained(), r, th.salt)
	}
	if again, _ := th.MarshalBinary(); string(again) != string(enc) {
		t.Error("decode/encode of crafted hashes not canonical")
	}
	// Taking them into another sketch does not crowd it either.
	u, _ := NewThetaDistinct(1 << 17)
	u.AddHash(1)
	if err := u.Merge(&th); err != nil || u.Retained() != r+1 {
		t.Fatalf("merge: %v, retained %d", err, u.Retained())
	}
	if d := displacement(u); d > 4*r {
		t.Errorf("merged table: %d probes beyond the first for %d hashes", d, r)
	}
}

// TestThetaDecodeOrdinaryUnsalted: an ordinary sketch decodes into the
// default (unsalted) table, within the probe budget.
func TestThetaDecodeOrdinaryUnsalted(t *testing.T) {
	for _, n := range []int{1, 100, 5000, 200_000} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			th, _ := NewThetaDistinct(1 << 17)
			r := pcg(uint64(n))
			for range n {
				th.AddHash(r.Uint64())
			}
			var d ThetaDistinct
			if err := d.UnmarshalBinary(encode(t, th)); err != nil {
				t.Fatal(err)
			}
			if d.salt != 0 || d.Retained() != th.Retained() || displacement(&d) > 4*d.Retained() {
				t.Errorf("salt %#x, retained %d of %d, displacement %d", d.salt, d.Retained(), th.Retained(), displacement(&d))
			}
		})
	}
}

// BenchmarkThetaDecodeColliding decodes crafted colliding inputs of n and
// 2n hashes: the time ratio, reported as ratio_2n/n, is about 2 when
// decoding is linear (4 if quadratic).
func BenchmarkThetaDecodeColliding(b *testing.B) {
	const n = 40_000
	small, large := collidingTheta(b, n), collidingTheta(b, 2*n)
	b.ReportAllocs()
	var th ThetaDistinct
	var ts, tl time.Duration
	for b.Loop() {
		start := time.Now()
		if err := th.UnmarshalBinary(small); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := th.UnmarshalBinary(large); err != nil {
			b.Fatal(err)
		}
		ts, tl = ts+mid.Sub(start), tl+time.Since(mid)
	}
	b.ReportMetric(float64(tl)/float64(ts), "ratio_2n/n")
}
