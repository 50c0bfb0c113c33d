package pipeline

import (
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"
)

// TestNewlineMasks checks newlineMasks (assembly on amd64) bit by bit
// against the bytes, for every count of blocks up to 40 and at every
// alignment of the source, with the bytes around '\n' that would borrow
// or carry in a word-wise search.
func TestNewlineMasks(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tricky := []byte{'\n', 0x0b, 0x09, 0x00, 0xff, 0x8a, 0x01, 0x80, 0x7f, '\r'}
	buf := make([]byte, 64*40+16)
	dst := make([]uint64, 41)
	for trial := range 2000 {
		for i := range buf {
			buf[i] = tricky[r.IntN(len(tricky))]
			if trial%3 == 0 {
				buf[i] = byte(r.Uint32())
			}
		}
		n, align := trial%41, trial%16
		src := buf[align : align+64*n]
		dst[n] = 0xdead // past the count: must stay as it is
		newlineMasks(dst[:n], src)
		for blk := range n {
			var want uint64
			for i, c := range src[64*blk : 64*blk+64] {
				if c == '\n' {
					want |= 1 << i
				}
			}
			if dst[blk] != want {
				t.Fatalf("blocks %d, alignment %d: block %d = %064b, want %064b", n, align, blk, bits.Reverse64(dst[blk]), bits.Reverse64(want))
			}
		}
		if dst[n] != 0xdead {
			t.Fatalf("blocks %d: wrote past the count", n)
		}
	}
}

// TestNewlineMasksShortSource checks that a source shorter than the
// blocks asked for is refused before anything is read.
func TestNewlineMasksShortSource(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a 127-byte source and 2 blocks")
		}
	}()
	newlineMasks(make([]uint64, 2), make([]byte, 127))
}

// BenchmarkNewlineMasks finds the newlines of 32 blocks of 64 bytes with
// newlineMasks and, in the same run, with newlines64 block by block (the
// word-wise search it replaces on amd64); speedup is the ratio.
func BenchmarkNewlineMasks(b *testing.B) {
	src := lsBenchData(64*32, lsZipfKey())[:64*32]
	var dst [32]uint64
	var ours, theirs time.Duration
	b.SetBytes(int64(2 * 100 * len(src))) // both searches
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for range 100 {
			newlineMasks(dst[:], src)
		}
		t1 := time.Now()
		for range 100 {
			for i := range dst {
				dst[i] = newlines64(src[64*i:])
			}
		}
		theirs += time.Since(t1)
		ours += t1.Sub(t0)
	}
	n := float64(b.N) * 100 * 32
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ns/block")
	b.ReportMetric(float64(theirs.Nanoseconds())/n, "newlines64-ns/block")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
}
