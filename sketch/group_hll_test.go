package sketch

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/internal/hashmix"
)

func ghFeed(tb testing.TB, p int, s []gdPair) *GroupHLL {
	tb.Helper()
	g, err := NewGroupHLL(p)
	if err != nil {
		tb.Fatal(err)
	}
	keys := map[int][]byte{}
	for _, x := range s {
		key, ok := keys[x.group]
		if !ok {
			key = gdKey(x.group)
			keys[x.group] = key
		}
		g.AddHash(key, x.hash)
	}
	return g
}

// TestGroupHLLExactThenDense: a group is exact up to 2^p/8 values, then
// an HLL whose registers are those of an HLL fed the same hashes.
func TestGroupHLLExactThenDense(t *testing.T) {
	const p = 8 // exact up to 32 values
	sizes := []int{32, 33, 500, 1}
	g := ghFeed(t, p, gdStream(5, sizes))
	if g.Groups() != len(sizes) {
		t.Fatalf("%d groups, want %d", g.Groups(), len(sizes))
	}
	for i, n := range sizes {
		e := g.Estimate(gdKey(i))
		if n <= 32 {
			if !e.Exact || e.Value != float64(n) {
				t.Errorf("group %d of %d values: %v, want exact", i, n, e)
			}
			continue
		}
		if e.Exact || !(e.Lower <= float64(n) && float64(n) <= e.Upper) {
			t.Errorf("group %d of %d values: %v, want an estimate with bounds around it", i, n, e)
		}
		// The same hashes in an HLL give the same estimate.
		h, _ := NewHLL(p)
		for _, x := range gdStream(5, sizes) {
			if x.group == i {
				h.AddHash(x.hash)
			}
		}
		regs, _, _, _ := h.state()
		if regs == nil {
			h.sk.Estimate()
			regs, _, _, _ = h.state()
		}
		idx := g.idx[string(gdKey(i))]
		if regs != nil && !bytes.Equal(regs, g.ents[idx].regs) {
			t.Errorf("group %d: registers differ from HLL's", i)
		}
	}
	if e := g.Estimate([]byte("nope")); !e.Exact || e.Value != 0 {
		t.Errorf("unseen group: %v", e)
	}
	top := g.Top(2)
	if len(top) != 2 || string(top[0].Key) != string(gdKey(2)) {
		t.Errorf("top 2: %v", top)
	}
}

// TestGroupHLLCoverage: the 95% bounds of every dense group hold its true
// number of distinct values in at least 93% of (group, seed) cases, on
// Zipf group sizes, over 200 seeds (15 with -short).
func TestGroupHLLCoverage(t *testing.T) {
	trials := 200
	if testing.Short() {
		trials = 15
	}
	for _, p := range []int{6, 10} {
		t.Run(fmt.Sprintf("p=%d", p), func(t *testing.T) {
			sizes := zipfSizes(100, 400<<(p-4), 1.1)
			var cases, miss, dense int
			for seed := range trials {
				g := ghFeed(t, p, gdStream(uint64(seed)+9000, sizes))
				for i, n := range sizes {
					e := g.Estimate(gdKey(i))
					if !(e.Lower <= e.Value && e.Value <= e.Upper) {
						t.Fatalf("group %d: value outside its bounds: %v", i, e)
					}
					if e.Exact {
						if e.Value != float64(n) {
							t.Fatalf("group %d: exact %v, truth %d", i, e.Value, n)
						}
						continue
					}
					dense++
					cases++
					if float64(n) < e.Lower || float64(n) > e.Upper {
						miss++
					}
				}
			}
			cov := 1 - float64(miss)/float64(cases)
			t.Logf("p=%d: coverage %.4f over %d dense (group, seed) cases", p, cov, cases)
			if dense < 10*trials {
				t.Fatalf("only %d dense cases: the test does not reach the HLL", dense)
			}
			if cov < 0.93 {
				t.Errorf("coverage %.4f, want >= 0.93", cov)
			}
		})
	}
}

// TestGroupHLLMergeEqualsWhole: the merge of the sketches of the parts
// of a stream encodes to the same bytes as the sketch of the whole.
func TestGroupHLLMergeEqualsWhole(t *testing.T) {
	s := gdStream(3, zipfSizes(40, 3000, 1.1))
	whole := mustMarshal(t, ghFeed(t, 7, s))
	for _, cut := range []int{0, 1, len(s) / 3, len(s) - 1} {
		a, b := ghFeed(t, 7, s[:cut]), ghFeed(t, 7, s[cut:])
		if err := b.Merge(a); err != nil {
			t.Fatal(err)
		}
		if got := mustMarshal(t, b); !bytes.Equal(got, whole) {
			t.Fatalf("cut %d: merge differs from the whole", cut)
		}
	}
	o, _ := NewGroupHLL(8)
	if err := o.Merge(ghFeed(t, 7, s)); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("merge of another precision: %v", err)
	}
}

func TestGroupHLLRoundTrip(t *testing.T) {
	g := ghFeed(t, 6, gdStream(8, zipfSizes(30, 2000, 1)))
	enc := mustMarshal(t, g)
	var d GroupHLL
	if err := d.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustMarshal(t, &d), enc) || d.Bytes() != g.Bytes() {
		t.Fatalf("round trip differs (bytes %d vs %d)", d.Bytes(), g.Bytes())
	}
	// The decoded sketch goes on as the original.
	more := gdStream(9, zipfSizes(35, 500, 1))
	for _, x := range more {
		g.AddHash(gdKey(x.group), x.hash)
		d.AddHash(gdKey(x.group), x.hash)
	}
	if !bytes.Equal(mustMarshal(t, &d), mustMarshal(t, g)) {
		t.Fatal("decoded sketch diverges")
	}
	var z GroupHLL
	if enc := mustMarshal(t, &z); z.UnmarshalBinary(enc) != nil || z.Precision() != DefaultGroupHLLPrecision {
		t.Fatal("zero value does not round trip")
	}
}

// TestGroupHLLBytes: Bytes grows with the groups and their values, as
// much as the sets and registers hold.
func TestGroupHLLBytes(t *testing.T) {
	g, _ := NewGroupHLL(12)
	for i := range 1000 {
		g.AddHash(fmt.Appendf(nil, "g%d", i), hashmix.SplitMix64(uint64(i)))
	}
	small := g.Bytes()
	if small < 1000*groupHLLOverhead || small > 1000*(groupHLLOverhead+64) {
		t.Fatalf("1000 groups of one value: %d bytes", small)
	}
	for v := range 600 {
		g.AddHash([]byte("g1"), hashmix.SplitMix64(uint64(v)<<20))
	}
	if d := g.Bytes() - small; d < 4096-64 || d > 4096+64 {
		t.Fatalf("a dense group added %d bytes, want its 4096 registers", d)
	}
}

func TestGroupHLLAddAllocs(t *testing.T) {
	g, _ := NewGroupHLL(10)
	key := []byte("page")
	for i := range 1000 {
		g.AddHash(key, hashmix.SplitMix64(uint64(i)))
	}
	i := uint64(0)
	if n := testing.AllocsPerRun(1000, func() { i++; g.AddHash(key, hashmix.SplitMix64(i)) }); n != 0 {
		t.Fatalf("got %v allocation(s) (want zero)", n)
	}
}

func FuzzUnmarshalGroupHLL(f *testing.F) {
	for _, tc := range []struct{ p, groups, n int }{{4, 1, 1}, {4, 3, 10}, {5, 5, 200}, {6, 20, 1000}} {
		g := ghFeed(f, tc.p, gdStream(11, zipfSizes(tc.groups, tc.n, 1)))
		enc := mustMarshal(f, g)
		f.Add(enc)
		f.Add(enc[:len(enc)-3])
		f.Add(envelope.Reseal(withByte(enc, 40, byte(tc.groups+1))))
		if len(enc) > 70 {
			f.Add(envelope.Reseal(withByte(enc, 66, 0xff)))
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var g GroupHLL
		if err := g.UnmarshalBinary(data); err != nil {
			if !envelope.IsDecodeError(err) {
				t.Fatalf("error %v is not a documented sentinel", err)
			}
			return
		}
		if again := mustMarshal(t, &g); !bytes.Equal(again, data) {
			t.Fatalf("decode/encode not canonical:\n in %x\nout %x", data, again)
		}
		for _, c := range g.Top(3) {
			if e := c.Estimate; !(e.Lower <= e.Value && e.Value <= e.Upper) {
				t.Fatalf("estimate outside its bounds: %v", e)
			}
		}
		for i := range 50 {
			g.AddString("more", string(rune('a'+i%26)))
		}
		if err := g.Merge(ghFeed(t, g.Precision(), gdStream(2, []int{3, 40}))); err != nil {
			t.Fatal(err)
		}
	})
}
