package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// hlRecords lays out keys of the given lengths in one buffer, each after
// pad[i%len(pad)] random bytes (so keys start at every offset modulo 8), and
// returns the buffer with records whose spans start at base.
func hlRecords(r *rand.Rand, lens, pad []int, base int) ([]byte, []Record) {
	var data []byte
	recs := make([]Record, 0, len(lens))
	for i, n := range lens {
		for range pad[i%len(pad)] {
			data = append(data, byte(r.Uint32()))
		}
		recs = append(recs, spanRecord(base+len(data), n, 0))
		for range n {
			data = append(data, byte(r.Uint32()))
		}
	}
	return data, recs
}

// hlScratch is hlCheck's scratch space: too big for a stack to clear at
// every fuzz input. Tests that use it do not run in parallel.
var hlScratch byLength

// hlCheck runs hashLines over recs and compares every hash with
// xxhash.Sum64 of the key.
func hlCheck(t *testing.T, data []byte, recs []Record, base int) {
	t.Helper()
	hashLines(recs, data, base, &hlScratch)
	for i, rec := range recs {
		key := data[int(rec.keyOff)-base : int(rec.keyOff)-base+int(rec.keyLen)]
		if want := xxhash.Sum64(key); rec.Hash != want {
			t.Fatalf("record %d of %d: hash of %x = %#x, want %#x", i, len(recs), key, rec.Hash, want)
		}
	}
}

// TestHashLinesEveryLength checks hashLines against xxhash.Sum64 for keys
// of every length 0..64 at every offset modulo 8, in batches that take
// each of its paths: too few keys for the lists, one length (short and
// long), and lists of mixed lengths, in runs of one length and shuffled,
// across the 2048-record chunks.
func TestHashLinesEveryLength(t *testing.T) { hashPaths(t, testHashLinesEveryLength) }

func testHashLinesEveryLength(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	pads := [][]int{{0}, {1}, {3, 5}, {0, 1, 2, 3, 4, 5, 6, 7}}
	for n := 0; n <= 64; n++ {
		for _, count := range []int{1, 15, 16, 2048, 2049} {
			for _, pad := range pads {
				t.Run(fmt.Sprintf("one-length=%d,records=%d,pad=%v", n, count, pad), func(t *testing.T) {
					lens := make([]int, count)
					for i := range lens {
						lens[i] = n
					}
					data, recs := hlRecords(r, lens, pad, 100)
					hlCheck(t, data, recs, 100)
				})
			}
		}
	}
	for _, count := range []int{15, 16, 17, 2048, 5000} {
		for _, shuffled := range []bool{false, true} {
			for _, pad := range pads {
				t.Run(fmt.Sprintf("lengths=0..64,records=%d,shuffled=%v,pad=%v", count, shuffled, pad), func(t *testing.T) {
					lens := make([]int, count)
					for i := range lens {
						lens[i] = i * 65 / count
					}
					if shuffled {
						r.Shuffle(len(lens), func(i, j int) { lens[i], lens[j] = lens[j], lens[i] })
					}
					data, recs := hlRecords(r, lens, pad, 0)
					hlCheck(t, data, recs, 0)
				})
			}
		}
	}
}

func TestHashLinesAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	lens := make([]int, 3000)
	for i := range lens {
		lens[i] = r.IntN(40)
	}
	data, recs := hlRecords(r, lens, []int{1}, 0)
	by := new(byLength)
	hashPaths(t, func(t *testing.T) {
		if n := testing.AllocsPerRun(20, func() { hashLines(recs, data, 0, by) }); n != 0 {
			t.Fatalf("got %v allocation(s) (want zero)", n)
		}
	})
}

// FuzzHashLines compares hashLines with xxhash.Sum64 on keys cut from data
// at the lengths in lens (each byte a length, mod 70), repeated to make
// enough records for the length lists.
func FuzzHashLines(f *testing.F) {
	f.Add([]byte("key-1key-22key-333"), []byte{5, 6, 7}, uint8(0), uint8(20))
	f.Add([]byte("0123456789abcdef0123456789abcdef0123456789"), []byte{0, 31, 32, 8, 4, 3}, uint8(3), uint8(100))
	f.Add([]byte("x"), []byte{1}, uint8(1), uint8(255))
	f.Fuzz(func(t *testing.T, data, lens []byte, skip, repeat uint8) {
		if len(lens) == 0 {
			return
		}
		var recs []Record
		p0 := min(int(skip%8), len(data))
		p := p0
		// At most 5000 records: enough for lists across two chunks, few
		// enough to keep each input fast.
		for i := range min((1+int(repeat))*len(lens), 5000) {
			n := int(lens[i%len(lens)]) % 70
			if p+n > len(data) {
				p = p0
				n = min(n, len(data)-p)
			}
			recs = append(recs, spanRecord(p, n, 0))
			p += n
		}
		hlCheck(t, data, recs, 0)
		if hasXXH64x8 {
			defer func(old bool) { useXXH64x8 = old }(useXXH64x8)
			useXXH64x8 = !useXXH64x8
			hlCheck(t, data, recs, 0)
		}
	})
}

// TestHashLinesOutOfBounds: a record whose key lies outside data (before
// base or past the end) panics, as slicing data does, on both paths, and
// wherever it is in the batch.
func TestHashLinesOutOfBounds(t *testing.T) {
	hashPaths(t, func(t *testing.T) {
		data := make([]byte, 100)
		for _, bad := range []Record{spanRecord(10+95, 6, 0), spanRecord(10+101, 0, 0), spanRecord(9, 3, 0), {keyOff: 10 + 1<<31, keyLen: 1 << 31}} {
			for _, at := range []int{0, 7, 8, 40} {
				recs := make([]Record, 41)
				for i := range recs {
					recs[i] = spanRecord(10+i, 5, 0)
				}
				recs[at] = bad
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("key at %d of %d bytes, record %d: no panic", bad.keyOff, bad.keyLen, at)
						}
					}()
					hashLines(recs, data, 10, &hlScratch)
				}()
			}
		}
	})
}
