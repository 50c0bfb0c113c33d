package shedding

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

func TestThetaExactWhileSmall(t *testing.T) {
	var th ThetaDistinct // zero value: DefaultThetaK
	r := pcg(5)
	hs := make([]uint64, 3000)
	for i := range hs {
		hs[i] = r.Uint64()
	}
	hs[7] = 0 // the hash that cannot live in the table
	for range 3 {
		for _, h := range hs {
			th.AddHash(h)
		}
	}
	if e := th.Estimate(); !e.Exact || e.Value != 3000 || th.Theta() != 1 {
		t.Errorf("estimate %v theta %v, want exact 3000", e, th.Theta())
	}
}

func TestThetaShrinksToK(t *testing.T) {
	th, err := NewThetaDistinct(64)
	if err != nil {
		t.Fatal(err)
	}
	r := pcg(6)
	var all []uint64
	for range 10_000 {
		h := r.Uint64()
		all = append(all, h)
		th.AddHash(h)
		if th.Retained() >= 96 {
			t.Fatalf("%d hashes held, limit 96", th.Retained())
		}
	}
	// Everything held is below theta, and every hash seen below theta is
	// held.
	limit := th.theta
	below := 0
	for _, h := range all {
		if h < limit {
			below++
		}
	}
	if below != th.Retained() || th.Retained() < 64 {
		t.Errorf("%d hashes below theta seen, %d held (k 64)", below, th.Retained())
	}
	if e := th.Estimate(); !e.Contains(10_000) || e.Exact {
		t.Errorf("estimate %v of 10000", e)
	}
}

func TestThetaLowersWithP(t *testing.T) {
	var th ThetaDistinct
	r := pcg(7)
	var hs []uint64
	for range 1000 {
		hs = append(hs, r.Uint64())
	}
	for _, h := range hs {
		th.AddHash(h)
	}
	p := float32(0.25)
	for _, h := range hs[:10] {
		if KeepKey(h, 0.25) {
			th.AddHashP(h, p)
		}
	}
	if th.Theta() != 0.25 {
		t.Fatalf("theta %v after a record kept at 0.25", th.Theta())
	}
	n := 0
	for _, h := range hs {
		if h < 1<<62 {
			n++
		}
	}
	if th.Retained() != n {
		t.Errorf("held %d, want the %d hashes below 1/4", th.Retained(), n)
	}
	if err := th.LowerTheta(0.5); err != nil || th.Theta() != 0.25 {
		t.Errorf("LowerTheta(0.5) raised theta to %v (%v)", th.Theta(), err)
	}
	if err := th.LowerTheta(0.125); err != nil || th.Theta() != 0.125 {
		t.Errorf("LowerTheta(0.125): theta %v (%v)", th.Theta(), err)
	}
	for _, bad := range []float64{0, -1, math.NaN()} {
		if err := th.LowerTheta(bad); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("LowerTheta(%v): %v", bad, err)
		}
	}
	if err := th.LowerTheta(2); err != nil || th.Theta() != 0.125 {
		t.Errorf("LowerTheta(2): theta %v (%v)", th.Theta(), err)
	}
}

func TestThetaMergeIsUnion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ka, kb   int
		pa, pb   float32
		na, both int
	}{
		{"small, unshed", 1024, 1024, 1, 1, 500, 200},
		{"full", 256, 256, 1, 1, 20_000, 5000},
		{"different k", 256, 1024, 1, 1, 20_000, 5000},
		{"shed at different p", 1024, 1024, 0.5, 0.25, 3000, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := NewThetaDistinct(tc.ka)
			b, _ := NewThetaDistinct(tc.kb)
			u, _ := NewThetaDistinct(tc.ka)
			r := pcg(8)
			for i := range tc.na + tc.na - tc.both {
				h := r.Uint64()
				if i < tc.na && KeepKey(h, float64(tc.pa)) {
					a.AddHashP(h, tc.pa)
				}
				if i >= tc.na-tc.both && KeepKey(h, float64(tc.pb)) {
					b.AddHashP(h, tc.pb)
				}
				// The union sketch sees each key in the stream it came in.
				if i < tc.na && KeepKey(h, float64(tc.pa)) {
					u.AddHashP(h, tc.pa)
				}
				if i >= tc.na-tc.both && KeepKey(h, float64(tc.pb)) {
					u.AddHashP(h, tc.pb)
				}
			}
			if err := a.Merge(b); err != nil {
				t.Fatal(err)
			}
			// Same theta and same hashes below it, unless a sketch shrank:
			// then the merged one holds at least the union's below its
			// own, smaller or equal, theta.
			ea, eu := encode(t, a), encode(t, u)
			if tc.name != "full" && tc.name != "different k" && !bytes.Equal(ea, eu) {
				t.Errorf("merge differs from the sketch of the union: theta %v/%v held %d/%d",
					a.Theta(), u.Theta(), a.Retained(), u.Retained())
			}
			truth := float64(2*tc.na - tc.both)
			sd := math.Sqrt(truth * (1 - a.Theta()) / a.Theta())
			if e := a.Estimate(); math.Abs(e.Value-truth) > 4*sd {
				t.Errorf("merged estimate %v of %v, more than 4 sd (%.0f) off", e, truth, sd)
			}
		})
	}
}

func encode(t testing.TB, th *ThetaDistinct) []byte {
	t.Helper()
	b, err := th.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestThetaEncoding(t *testing.T) {
	for _, n := range []int{0, 1, 100, 5000} {
		th, _ := NewThetaDistinct(1024)
		r := pcg(uint64(n))
		for range n {
			th.AddHashP(r.Uint64()>>1, 0.5)
		}
		enc := encode(t, th)
		var back ThetaDistinct
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if again := encode(t, &back); !bytes.Equal(enc, again) {
			t.Errorf("n %d: re-encoding differs", n)
		}
		if back.Estimate() != th.Estimate() {
			t.Errorf("n %d: estimates %v and %v", n, back.Estimate(), th.Estimate())
		}
		// A decoded sketch goes on like the original.
		c := th.Clone()
		for range 3000 {
			h := r.Uint64() >> 1
			back.AddHash(h)
			c.AddHash(h)
		}
		if !bytes.Equal(encode(t, &back), encode(t, c)) {
			t.Errorf("n %d: decoded sketch evolves differently", n)
		}
	}
}

func TestThetaDecodeErrors(t *testing.T) {
	th, _ := NewThetaDistinct(16)
	for _, h := range []uint64{5, 9, 1 << 40} {
		th.AddHashP(h, 0.5)
	}
	good := encode(t, th)
	edit := func(off int, v uint64) []byte {
		b := bytes.Clone(good)
		for i := range 8 {
			b[off+i] = byte(v >> (8 * i))
		}
		return envelope.Reseal(b)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", good[:len(good)-3], ErrTruncated},
		{"flipped", func() []byte { b := bytes.Clone(good); b[60] ^= 1; return b }(), ErrChecksum},
		{"k not a power of two", edit(16, 17), ErrCorrupt},
		{"k too large", edit(16, 1<<40), ErrCorrupt},
		{"theta zero but cut", edit(24, 0), ErrCorrupt},
		{"flag 2", edit(32, 2), ErrCorrupt},
		{"too many hashes for k", edit(40, 24), ErrCorrupt},
		{"count off the payload", edit(40, 2), ErrCorrupt},
		{"hashes out of order", edit(56, 1<<41), ErrCorrupt},
		{"hash above theta", edit(56+16, 1<<63+1), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var back ThetaDistinct
			err := back.UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewThetaDistinct(100); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("NewThetaDistinct(100): %v", err)
	}
}

// TestThetaMergeIntoEmpty: merging into an empty sketch (as an answer
// merges the workers' sketches) leaves it byte-identical to adding the
// other's hashes one by one, and it goes on alike: for sketches not
// full, full, cut by shedding, holding hash 0, of another k, and empty.
func TestThetaMergeIntoEmpty(t *testing.T) {
	for _, tc := range []struct {
		name   string
		k, ko  int
		n      int
		p      float32
		zero   bool
		decode bool // o decoded (may be salted)
	}{
		{"not full", 1024, 1024, 500, 1, false, false},
		{"full", 256, 256, 20_000, 1, false, false},
		{"cut by shedding", 1024, 1024, 5000, 0.25, false, false},
		{"hash 0", 256, 256, 3000, 1, true, false},
		{"other k", 256, 1024, 20_000, 1, false, false},
		{"empty", 256, 256, 0, 1, false, false},
		{"decoded", 256, 256, 20_000, 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := NewThetaDistinct(tc.ko)
			r := pcg(11)
			if tc.zero {
				o.AddHash(0)
			}
			for range tc.n {
				h := r.Uint64()
				if KeepKey(h, float64(tc.p)) {
					o.AddHashP(h, tc.p)
				}
			}
			if tc.decode {
				d := new(ThetaDistinct)
				if err := d.UnmarshalBinary(encode(t, o)); err != nil {
					t.Fatal(err)
				}
				o = d
			}
			want, _ := NewThetaDistinct(tc.k)
			if o.cut {
				want.lowerTheta(o.theta)
			}
			if o.zero {
				want.AddHash(0)
			}
			for _, h := range o.table {
				if h != 0 {
					want.AddHash(h)
				}
			}
			got, _ := NewThetaDistinct(tc.k)
			if err := got.Merge(o); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(encode(t, got), encode(t, want)) {
				t.Fatalf("merge into empty: theta %v held %d, adding one by one: theta %v held %d",
					got.Theta(), got.Retained(), want.Theta(), want.Retained())
			}
			for range 5000 {
				h := r.Uint64()
				got.AddHash(h)
				want.AddHash(h)
			}
			if !bytes.Equal(encode(t, got), encode(t, want)) {
				t.Fatal("after more hashes, the merged sketch differs")
			}
		})
	}
}
