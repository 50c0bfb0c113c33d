//go:build !amd64

package pipeline

// jsonMasks sets, for each 64-byte block i of src (i < len(dst)/4),
// dst[4i] to its quote bitmap, dst[4i+1] to its backslash bitmap,
// dst[4i+2] to its newline bitmap and dst[4i+3] to its bitmap of control
// bytes (< 0x20), bit j for byte j; src must hold 64*(len(dst)/4) bytes.
func jsonMasks(dst []uint64, src []byte) { jsonMasksGo(dst, src) }
