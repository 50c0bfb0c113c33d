package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// hashPaths runs f with keys hashed 8 at a time where the CPU can, and
// with the scalar path forced, so that both are tested on this machine.
func hashPaths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	paths := []bool{false}
	if hasXXH64x8 {
		paths = append(paths, true)
	} else {
		t.Log("no AVX-512: only the scalar path is tested")
	}
	for _, x8 := range paths {
		t.Run(fmt.Sprintf("x8=%v", x8), func(t *testing.T) {
			defer func(old bool) { useXXH64x8 = old }(useXXH64x8)
			useXXH64x8 = x8
			f(t)
		})
	}
}

// x8Check hashes the keys at offs, of lens bytes, as records through
// hashLines and compares every hash with xxhash.Sum64 of the key.
func x8Check(t *testing.T, data []byte, offs, lens []uint32) {
	t.Helper()
	recs := make([]Record, len(offs))
	for i := range recs {
		recs[i] = spanRecord(int(offs[i]), int(lens[i]), 0)
	}
	hlCheck(t, data, recs, 0)
}

// TestXXH64KeysEveryLength checks the 8-lane XXH64 (through hashLines)
// against xxhash.Sum64 on keys of every length 0..300: 1 to 17 keys of one
// length (partial and whole groups of 8, and of the two groups a pass
// takes), at random offsets and at the very end of data, where a read of
// whole words past the key would leave the slice; then keys of random
// lengths mixed in one call, so that the lanes of a group take different
// steps.
func TestXXH64KeysEveryLength(t *testing.T) {
	hashPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(16, 8))
		buf := make([]byte, 4096)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		for n := 0; n <= 300; n++ {
			for _, keys := range []int{1, 7, 8, 9, 17} {
				for _, size := range []int{n, n + 3, 1000} {
					data := buf[:size:size]
					offs := make([]uint32, keys)
					lens := make([]uint32, keys)
					for i := range offs {
						offs[i] = uint32(r.IntN(size - n + 1))
						lens[i] = uint32(n)
					}
					offs[0] = uint32(size - n) // the last bytes of data
					x8Check(t, data, offs, lens)
				}
			}
		}
		for range 2000 {
			keys := 1 + r.IntN(40)
			size := 8 + r.IntN(400)
			maxLen := []int{8, 40, 300}[r.IntN(3)]
			offs := make([]uint32, keys)
			lens := make([]uint32, keys)
			for i := range offs {
				lens[i] = uint32(r.IntN(min(maxLen, size) + 1))
				offs[i] = uint32(r.IntN(size - int(lens[i]) + 1))
			}
			x8Check(t, buf[:size:size], offs, lens)
		}
	})
}

// FuzzXXH64x8 compares hashLines, 8-wide and scalar, with xxhash.Sum64 on
// keys cut from data: each pair of bytes of cuts is a key's offset and
// length (mod what fits).
func FuzzXXH64x8(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef0123456789"), []byte{0, 42, 3, 5, 40, 2, 0, 0, 9, 33, 1, 1})
	f.Add([]byte("key-1"), []byte{0, 5, 4, 1, 1, 3})
	f.Add(make([]byte, 300), []byte{0, 255, 45, 255, 200, 100, 7, 31, 8, 32, 1, 63, 2, 64, 3, 65, 4, 66})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var offs, lens []uint32
		for i := 0; i+1 < len(cuts); i += 2 {
			off := int(cuts[i]) * len(data) / 256
			offs = append(offs, uint32(off))
			lens = append(lens, uint32(int(cuts[i+1])%(len(data)-off+1)))
		}
		data = data[:len(data):len(data)]
		x8Check(t, data, offs, lens)
		if hasXXH64x8 {
			defer func(old bool) { useXXH64x8 = old }(useXXH64x8)
			useXXH64x8 = !useXXH64x8
			x8Check(t, data, offs, lens)
		}
	})
}
