package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// endsPaths runs f with blockLines' passes in assembly where the CPU has
// them, and in Go, so that both are tested on this machine.
func endsPaths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	paths := []bool{false}
	if hasEndsAsm {
		paths = append(paths, true)
	} else {
		t.Log("no POPCNT and BMI1: only the Go passes are tested")
	}
	for _, asm := range paths {
		t.Run(fmt.Sprintf("asm=%v", asm), func(t *testing.T) {
			defer func(old bool) { useEndsAsm = old }(useEndsAsm)
			useEndsAsm = asm
			f(t)
		})
	}
}

// endsData returns n bytes whose newlines are about one in every gap
// bytes, with CRs before some of them, and their masks by 64-byte block.
func endsData(r *rand.Rand, n, gap int) ([]byte, []uint64) {
	data := make([]byte, n)
	for i := range data {
		switch {
		case r.IntN(gap) == 0:
			data[i] = '\n'
		case r.IntN(8) == 0:
			data[i] = '\r'
		default:
			data[i] = 'a' + byte(r.IntN(26))
		}
	}
	masks := make([]uint64, (n+63)/64)
	for i, c := range data {
		if c == '\n' {
			masks[i/64] |= 1 << (i % 64)
		}
	}
	return data, masks
}

// TestFlattenEndsAsm compares flattenEndsAsm with flattenEndsGo on blocks
// of every density (so every unconditional width w), 0 to 32 blocks after
// the first, the first at -64 (no block yet) or not.
func TestFlattenEndsAsm(t *testing.T) {
	if !hasEndsAsm {
		t.Skip("no POPCNT and BMI1")
	}
	defer func(old bool) { useEndsAsm = old }(useEndsAsm)
	useEndsAsm = true
	r := rand.New(rand.NewPCG(16, 33))
	var got, want endList
	for _, gap := range []int{1, 2, 5, 9, 16, 40, 64, 100, 300, 5000} {
		for trial := range 200 {
			nm := r.IntN(33)
			_, masks := endsData(r, 64*(nm+1), gap)
			mask, blk := masks[0], 64*r.IntN(100)
			if trial%7 == 0 {
				mask, blk = 0, -64
			}
			for i := range got {
				got[i], want[i] = 0, 0
			}
			k := flattenEndsGo(&want, mask, blk, masks[1:])
			if g := flattenEnds(&got, mask, blk, masks[1:]); g != k || !slices.Equal(got[:k], want[:k]) {
				t.Fatalf("gap %d, %d blocks after %d: got %d ends %v, want %d %v", gap, nm, blk, g, got[:g], k, want[:k])
			}
		}
	}
}

// TestEndRecordsAsm compares endRecords through the assembly with
// endRecordsGo on lines of every density, CRs included, with stops and
// key caps that end the pass early, and records before the new ones that
// must stay as they are.
func TestEndRecordsAsm(t *testing.T) {
	if !hasEndsAsm {
		t.Skip("no POPCNT and BMI1")
	}
	defer func(old bool) { useEndsAsm = old }(useEndsAsm)
	r := rand.New(rand.NewPCG(5, 8))
	var ends endList
	for _, gap := range []int{1, 2, 5, 9, 16, 40, 64, 100, 300} {
		for trial := range 300 {
			data, masks := endsData(r, 64*(1+r.IntN(33)), gap)
			k := flattenEndsGo(&ends, masks[0], 0, masks[1:])
			all := ends[:k]
			stop, maxKey := math.MaxInt, math.MaxInt
			if trial%3 == 1 {
				stop = r.IntN(len(data) + 1)
			}
			if trial%3 == 2 {
				maxKey = r.IntN(2 * gap)
			}
			base := r.IntN(1 << 20)
			pre := []Record{{Hash: 7, keyOff: 1, keyLen: 2, KeepP: 0.5}}
			junk := Record{Hash: 1, Value: 2, Time: 3, keyOff: 4, keyLen: 5, KeepP: 6, HasValue: true}
			mk := func() []Record {
				recs := make([]Record, 1, 1+len(all))
				copy(recs, pre)
				for i := 1; i < cap(recs); i++ {
					recs[:cap(recs)][i] = junk
				}
				return recs
			}
			useEndsAsm = false
			wr, wp, wi := endRecords(mk(), data, base, 0, all, stop, maxKey)
			useEndsAsm = true
			gr, gp, gi := endRecords(mk(), data, base, 0, all, stop, maxKey)
			if gp != wp || gi != wi || !slices.Equal(gr, wr) {
				t.Fatalf("gap %d, stop %d, maxKey %d: got p %d, %d records %v; want %d, %d %v", gap, stop, maxKey, gp, gi, gr, wp, wi, wr)
			}
		}
	}
}

// TestEndRecordsBeyondData: an end past data goes to the Go loop, which
// panics as slicing does, rather than to the assembly's unchecked read.
func TestEndRecordsBeyondData(t *testing.T) {
	endsPaths(t, func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic for an end past the data")
			}
		}()
		recs := make([]Record, 0, 2)
		endRecords(recs, []byte("ab\ncd"), 0, 0, []uint32{2, 7}, math.MaxInt, math.MaxInt)
	})
}
