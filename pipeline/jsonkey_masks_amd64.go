package pipeline

// jsonMasks sets, for each 64-byte block i of src (i < len(dst)/4),
// dst[4i] to its quote bitmap, dst[4i+1] to its backslash bitmap,
// dst[4i+2] to its newline bitmap and dst[4i+3] to its bitmap of control
// bytes (< 0x20), bit j for byte j; src must hold 64*(len(dst)/4) bytes.
func jsonMasks(dst []uint64, src []byte) {
	if 64*(len(dst)/4) > len(src) {
		panic("pipeline: jsonMasks: source too short")
	}
	jsonMasksSSE2(dst, src)
}

// jsonMasksSSE2 is jsonMasks in assembly, 16 bytes an instruction (SSE2,
// which every amd64 CPU has).
//
//go:noescape
func jsonMasksSSE2(dst []uint64, src []byte)
