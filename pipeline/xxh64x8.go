package pipeline

import "github.com/cespare/xxhash/v2"

// useXXH64x8 says whether keys are hashed 8 at a time (xxh64KeysAVX512)
// rather than by xxhash.Sum64 one after the other. It is decided once, from
// the CPU; tests set it false to run the scalar path on any machine.
var useXXH64x8 = hasXXH64x8

// xxh64Keys sets out[i] to xxhash.Sum64(data[offs[i] : offs[i]+lens[i]])
// for every i < len(out); offs and lens hold at least len(out) entries. A
// key outside data panics, as slicing data would.
func xxh64Keys(data []byte, offs, lens []uint32, out []uint64) {
	offs, lens = offs[:len(out)], lens[:len(out)]
	if x8Fits(data) && len(out) > 0 {
		hi := 0
		for i := range out {
			hi = max(hi, int(offs[i])+int(lens[i]))
		}
		if hi <= len(data) {
			xxh64KeysAVX512(&data[0], len(data), &offs[0], &lens[0], &out[0], len(out))
			return
		}
	}
	for i := range out {
		out[i] = xxhash.Sum64(data[offs[i] : int(offs[i])+int(lens[i])])
	}
}

// x8Fits reports whether xxh64KeysAVX512 may hash keys of data: the CPU has
// it, its tail read of 8 bytes fits in data, and offsets fit a uint32.
func x8Fits(data []byte) bool {
	return useXXH64x8 && len(data) >= 8 && uint64(len(data)) <= 1<<32
}
