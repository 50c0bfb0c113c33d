//go:build !amd64

package pipeline

// flattenEnds and endRecords are the Go loops; amd64 has them in
// assembly (linesource_ends_amd64.s).
func flattenEnds(ends *endList, mask uint64, blk int, masks []uint64) int {
	return flattenEndsGo(ends, mask, blk, masks)
}

func endRecords(recs []Record, data []byte, base, p int, ends []uint32, stop, maxKey int) ([]Record, int, int) {
	return endRecordsGo(recs, data, base, p, ends, stop, maxKey)
}
