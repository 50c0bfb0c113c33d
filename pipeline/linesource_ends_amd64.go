package pipeline

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasEndsAsm reports whether the CPU runs flattenEndsAsm and
// endRecordsAsm: POPCNT, and BMI1 for TZCNT and BLSR.
var hasEndsAsm = cpu.X86.HasPOPCNT && cpu.X86.HasBMI1

// useEndsAsm says whether blockLines takes the assembly passes; tests
// turn it off to run the Go ones on this machine too.
var useEndsAsm = hasEndsAsm

// flattenEnds is flattenEndsGo, in assembly where the CPU can.
func flattenEnds(ends *endList, mask uint64, blk int, masks []uint64) int {
	if !useEndsAsm {
		return flattenEndsGo(ends, mask, blk, masks)
	}
	return flattenEndsAsm(ends, mask, blk, unsafe.SliceData(masks), len(masks))
}

// endRecords is endRecordsGo, in assembly where the CPU can. The
// assembly reads data[end-1] for an end of ends unchecked: the ends
// ascend, so the last is checked here, and beyond data the Go loop runs
// (and panics, as a bug should).
func endRecords(recs []Record, data []byte, base, p int, ends []uint32, stop, maxKey int) ([]Record, int, int) {
	if !useEndsAsm || len(ends) == 0 || int(ends[len(ends)-1]) >= len(data) {
		return endRecordsGo(recs, data, base, p, ends, stop, maxKey)
	}
	k := len(recs)
	out := recs[k : k+len(ends)]
	p, i := endRecordsAsm(&out[0], unsafe.SliceData(data), base, p, &ends[0], len(ends), stop, maxKey)
	return recs[:k+i], p, i
}

//go:noescape
func flattenEndsAsm(ends *endList, mask uint64, blk int, masks *uint64, nm int) int

//go:noescape
func endRecordsAsm(out *Record, data *byte, base, p int, ends *uint32, n, stop, maxKey int) (int, int)

// endRecordsAsm writes a Record as 40 bytes: Hash, Value and Time, then
// keyOff and keyLen as one word (keyOff low), then KeepP and HasValue in
// the last word.
var (
	_ [unsafe.Sizeof(Record{}) - 40]struct{}
	_ [40 - unsafe.Sizeof(Record{})]struct{}
	_ [unsafe.Offsetof(Record{}.keyOff) - 24]struct{}
	_ [24 - unsafe.Offsetof(Record{}.keyOff)]struct{}
	_ [unsafe.Offsetof(Record{}.keyLen) - 28]struct{}
	_ [28 - unsafe.Offsetof(Record{}.keyLen)]struct{}
)
