package pipeline

// useXXH64x8 says whether hashLines hashes keys 8 at a time
// (xxh64RecordsAVX512) rather than by xxhash.Sum64 one after the other. It
// is decided once, from the CPU; tests set it false to run the scalar
// path on any machine.
var useXXH64x8 = hasXXH64x8

// x8Fits reports whether xxh64RecordsAVX512 may hash keys of data: the CPU
// has it, its tail read of 8 bytes fits in data, and offsets fit a uint32.
func x8Fits(data []byte) bool {
	return useXXH64x8 && len(data) >= 8 && uint64(len(data)) <= 1<<32
}
