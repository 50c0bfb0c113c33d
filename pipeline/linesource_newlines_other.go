//go:build !amd64

package pipeline

// newlineMasks sets dst[i] to newlines64(src[64*i:]) for every i; src
// must hold 64*len(dst) bytes.
func newlineMasks(dst []uint64, src []byte) {
	if 64*len(dst) > len(src) {
		panic("pipeline: newlineMasks: source too short")
	}
	for i := range dst {
		dst[i] = newlines64(src[64*i:])
	}
}
