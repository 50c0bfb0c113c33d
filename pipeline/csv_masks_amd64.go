package pipeline

// csvMasks sets, for each 64-byte block i of src (i < len(dst)/3),
// dst[3i] to its quote bitmap, dst[3i+1] to its bitmap of comma and
// dst[3i+2] to its newline bitmap (bit j for byte j); src must hold
// 64*(len(dst)/3) bytes.
func csvMasks(dst []uint64, src []byte, comma byte) {
	if 64*(len(dst)/3) > len(src) {
		panic("pipeline: csvMasks: source too short")
	}
	csvMasksSSE2(dst, src, comma)
}

// csvMasksSSE2 is csvMasks in assembly, 16 bytes an instruction (SSE2,
// which every amd64 CPU has).
//
//go:noescape
func csvMasksSSE2(dst []uint64, src []byte, comma byte)
