package pipeline

import "golang.org/x/sys/cpu"

// hasCSVMasksAVX512 reports whether the CPU runs csvMasksAVX512 (AVX-512BW
// for byte compares into mask registers; cpu checks that the OS saves
// the registers).
var hasCSVMasksAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW

// csvMasks sets, for each 64-byte block i of src (i < len(dst)/4),
// dst[4i] to its quote bitmap, dst[4i+1] to its bitmap of comma,
// dst[4i+2] to its newline bitmap and dst[4i+3] to its CR bitmap (bit j
// for byte j); src must hold 64*(len(dst)/4) bytes.
func csvMasks(dst []uint64, src []byte, comma byte) {
	if 64*(len(dst)/4) > len(src) {
		panic("pipeline: csvMasks: source too short")
	}
	if hasCSVMasksAVX512 {
		csvMasksAVX512(dst, src, comma)
		return
	}
	csvMasksSSE2(dst, src, comma)
}

// csvMasksSSE2 is csvMasks in assembly, 16 bytes an instruction (SSE2,
// which every amd64 CPU has).
//
//go:noescape
func csvMasksSSE2(dst []uint64, src []byte, comma byte)

// csvMasksAVX512 is csvMasks in assembly, a 64-byte block an instruction
// (AVX-512BW).
//
//go:noescape
func csvMasksAVX512(dst []uint64, src []byte, comma byte)

// csvMasksVariants are the implementations of csvMasks this CPU runs, for
// the test against csvMasksGo.
func csvMasksVariants() map[string]func([]uint64, []byte, byte) {
	v := map[string]func([]uint64, []byte, byte){"sse2": csvMasksSSE2}
	if hasCSVMasksAVX512 {
		v["avx512"] = csvMasksAVX512
	}
	return v
}
