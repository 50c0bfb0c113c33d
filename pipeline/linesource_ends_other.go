//go:build !amd64

package pipeline

// hasEndsAsm is false: blockLines' passes are in assembly on amd64 only
// (linesource_ends_amd64.s); useEndsAsm, which tests set, changes nothing.
const hasEndsAsm = false

var useEndsAsm = false

// flattenEnds and endRecords are the Go loops.
func flattenEnds(ends *endList, mask uint64, blk int, masks []uint64) int {
	return flattenEndsGo(ends, mask, blk, masks)
}

func endRecords(recs []Record, data []byte, base, p int, ends []uint32, stop, maxKey int) ([]Record, int, int) {
	return endRecordsGo(recs, data, base, p, ends, stop, maxKey)
}
