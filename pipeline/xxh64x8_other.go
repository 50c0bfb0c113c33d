//go:build !amd64

package pipeline

// hasXXH64x8 is false: the 8-lane XXH64 is amd64 assembly.
const hasXXH64x8 = false

// xxh64RecordsAVX512 is never called where hasXXH64x8 is false.
func xxh64RecordsAVX512(data *byte, dlen int, recs *Record, n int, base int) int {
	panic("pipeline: xxh64RecordsAVX512 without AVX-512")
}
