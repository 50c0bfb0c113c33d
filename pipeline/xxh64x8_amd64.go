package pipeline

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasXXH64x8 reports whether the CPU runs xxh64RecordsAVX512: AVX-512F for the
// 512-bit lanes, gathers and masks, DQ for VPMULLQ (cpu checks that the OS
// saves the registers).
var hasXXH64x8 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// xxh64RecordsAVX512 sets recs[i].Hash, i < n, to XXH64 (seed 0) of the
// key at recs[i].keyOff-base in data, 8 keys at a time, one in each lane
// of a ZMM register: a key's hash is a chain of multiplies that one
// core's scalar multiplier runs in turn, where VPMULLQ runs 8 of them at
// once. It reads keyOff and keyLen from the records and writes the hashes
// to them itself (in Go, that copy cost as much as the hash on 8-byte
// keys). It stops before the first group of 8 with a key outside data and
// returns the number of records hashed. dlen = len(data) >= 8
// (xxh64x8_amd64.s says why that suffices for its reads).
//
//go:noescape
func xxh64RecordsAVX512(data *byte, dlen int, recs *Record, n int, base int) int

// xxh64RecordsAVX512 reads keyOff and keyLen as one 8-byte word, keyOff
// in the low half: both arrays have length 0 only if keyLen follows.
var (
	_ [unsafe.Offsetof(Record{}.keyLen) - unsafe.Offsetof(Record{}.keyOff) - 4]struct{}
	_ [4 - (unsafe.Offsetof(Record{}.keyLen) - unsafe.Offsetof(Record{}.keyOff))]struct{}
)
