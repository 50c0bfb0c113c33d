package pipeline

import "golang.org/x/sys/cpu"

// hasXXH64x8 reports whether the CPU runs xxh64KeysAVX512: AVX-512F for the
// 512-bit lanes, gathers and masks, DQ for VPMULLQ (cpu checks that the OS
// saves the registers).
var hasXXH64x8 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// xxh64KeysAVX512 sets out[i] to XXH64 (seed 0) of data[offs[i]:][:lens[i]]
// for i < n, 8 keys at a time, one in each lane of a ZMM register: a key's
// hash is a chain of multiplies that one core's scalar multiplier runs in
// turn, where VPMULLQ runs 8 of them at once. The caller guarantees
// dlen >= 8, dlen = len(data) and every key inside data
// (xxh64x8_amd64.s says why that suffices for its reads).
//
//go:noescape
func xxh64KeysAVX512(data *byte, dlen int, offs, lens *uint32, out *uint64, n int)
