//go:build !amd64

package pipeline

// csvMasks sets, for each 64-byte block i of src (i < len(dst)/4),
// dst[4i] to its quote bitmap, dst[4i+1] to its bitmap of comma,
// dst[4i+2] to its newline bitmap and dst[4i+3] to its CR bitmap (bit j
// for byte j); src must hold 64*(len(dst)/4) bytes.
func csvMasks(dst []uint64, src []byte, comma byte) { csvMasksGo(dst, src, comma) }

// csvMasksVariants are the implementations of csvMasks this CPU runs, for
// the test against csvMasksGo.
func csvMasksVariants() map[string]func([]uint64, []byte, byte) {
	return map[string]func([]uint64, []byte, byte){"go": csvMasksGo}
}
