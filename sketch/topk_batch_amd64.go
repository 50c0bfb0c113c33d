package sketch

import "unsafe"

const tkHasEvictRun = true

// tkEvictRun is evictRun's loop (topk_batch_amd64.s): it takes the keys
// hs[i], keys[i] for i < n while each replaces the minimum as evict would,
// on r, and returns how many it took.
//
//go:noescape
func tkEvictRun(r *tkRun, hs, keys unsafe.Pointer, n int) int

// tkEvictRun indexes counters and q by shifts: a counter is 64 bytes, an
// entry of q 16.
var (
	_ [unsafe.Sizeof(tkCounter{}) - 64]byte
	_ [64 - unsafe.Sizeof(tkCounter{})]byte
	_ [unsafe.Sizeof(tkRef{}) - 16]byte
	_ [16 - unsafe.Sizeof(tkRef{})]byte
)
