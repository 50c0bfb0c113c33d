package pipeline

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// takeWhole is take for whole-line keys (no key field, no value field), the
// common case, where every line is a record. It does the same, in two
// passes over the lines it takes: the first finds their newlines, 64 bytes
// at a time (newlineMasks, 32 blocks a call), and writes their records
// (blockLines); the second hashes the keys, every hashEvery bytes of lines
// (and at the end). Split so, neither loop waits on the other's branches:
// for lines of a few bytes the newline search and the hash were each about
// a third of the cost of a record, and a key length the CPU had not
// guessed stalled both.
func (s *LineSource) takeWhole(b *Batch, max int) (n int, full bool, err error) {
	data := s.buf[s.pos:s.end]
	base := b.Bytes()
	room := int64(maxArena) - int64(base)
	budget := s.maxBytes - base
	limit := s.limit - s.off
	recs := slices.Grow(b.Records, min(max, len(data)+1, 4096))
	k0 := len(recs)
	hashed, hashedAt := k0, 0
	p := 0
	starved := false
	long, longNext := -1, 0 // a line whose key is over the cap, at data[long:longNext]
	// The newlines of data[blk:blk+64] not yet used are the bits of mask;
	// s.masks[mk:nm] are those of the blocks after it. The blocks lie on one
	// grid from the first byte not yet searched to the end of data.
	blk, mask := s.scanned-64, uint64(0)
	mk, nm := 0, 0
	maxKey := s.maxKey
	// Lines go by blockLines, which checks only the key cap and the
	// bounds of a batch (stop: the budget or the range's limit, whichever
	// comes first), when the arena has room for all of data; the loop
	// below takes a line when blockLines needs more masks, and the lines
	// it stops at.
	fast := int64(len(data)) <= room
	stop := budget
	if limit < int64(stop) {
		stop = int(limit)
	}
	for n < max && int64(p) < limit {
		if fast && p < stop {
			var used int
			recs = slices.Grow(recs, min(max-n, len(s.ends)))
			recs, p, n, mask, blk, used = blockLines(recs, data, base, p, n, max, mask, blk, s.masks[mk:nm], stop, maxKey, &s.ends)
			mk += used
			if p-hashedAt >= hashEvery && p-hashedAt >= 16*(len(recs)-hashed) {
				// Lines of 16 bytes and more on average: a Fill of
				// shorter ones stays in L1, and hashing them in
				// pieces cost 2% on 8-byte keys. Whole groups of 16
				// keys (hashLinesX8's step): the rest go with the
				// next.
				k := hashed + (len(recs)-hashed)&^15
				hashLines(recs[hashed:k], data, base, s.lenScratch())
				if !s.cfg.HashOnly {
					b.appendArena(data[hashedAt:p])
				}
				hashed, hashedAt = k, p
			}
			if p >= budget {
				full = true
				break
			}
			if n == max || int64(p) >= limit {
				break
			}
			// The masks are used up, or the next line is over the cap:
			// one line the long way.
		}
		for mask == 0 && blk+64 < len(data) {
			blk += 64
			if mk == nm {
				mk, nm = 0, s.blockMasks(data, blk)
			}
			mask = s.masks[mk]
			mk++
		}
		end := -1
		if mask != 0 {
			end = blk + bits.TrailingZeros64(mask)
			mask &= mask - 1
		}
		next := end + 1
		if end < 0 {
			if !s.eof || p == len(data) {
				// Remember that data[p:] holds no newline, so a long
				// line is not scanned again from its start after each
				// read.
				s.scanned = len(data) - p
				starved = true
				break
			}
			end, next = len(data), len(data)
		}
		if end-p > maxKey {
			// Over the cap, CR included: takeCapped sees.
			long, longNext = p, next
			break
		}
		if int64(next) > room {
			if k0 == 0 && n == 0 {
				err = fmt.Errorf("pipeline: line source: line at offset %d has %d bytes, more than a batch holds (4 GiB)", s.off, end)
			}
			full = true
			break
		}
		ke := end
		if ke > p && data[ke-1] == '\r' {
			ke--
		}
		k := len(recs)
		if k == cap(recs) {
			recs = slices.Grow(recs, 1)
		}
		recs = recs[:k+1]
		recs[k] = spanRecord(base+p, ke-p, 0)
		n++
		p = next
		if p >= budget {
			full = true
			break
		}
	}
	// A line's bytes are its key's neighbours in data, so SumWindow may
	// read them.
	hashLines(recs[hashed:], data, base, s.lenScratch())
	b.Records = recs
	s.lines += int64(n)
	if s.cfg.HashOnly {
		dropKeys(recs[k0:])
	} else if p > hashedAt {
		b.appendArena(data[hashedAt:p])
	}
	s.consume(p, starved)
	if long >= 0 {
		n += s.takeCapped(b, data[long:longNext])
	}
	return n, full, err
}

// hashEvery is how many bytes of lines takeWhole makes records of before
// it hashes their keys and (without HashOnly) copies the lines into the
// batch: both while the bytes are still in the L1 cache from the newline
// search, instead of after a whole Fill's lines (1024 of 128 bytes are 129
// KiB, read back from L2). On a 64 MB mapped file read in 16 ranges,
// against hashing and copying once a Fill: distinct 0.90x the CPU on
// 128-byte keys, 0.95x on 64..192, 0.94x on 64, 0.97x on 32, 0.98-1.01x
// on 8 and shorter; top 0.88x on 128, 0.94x on 64 and 64..192, 0.97x on
// 32, 0.99x on 8 (go test -run XXX -bench
// 'BenchmarkMapped(Distinct|Top)Variants' -benchtime 5x ./pipeline, load
// 5). A variable: the benchmarks set it to math.MaxInt for the old way.
var hashEvery = 2048

// blockLines appends to recs the records of the lines from data[p] on
// whose newlines are the bits of mask (offsets from blk) and then of masks
// (the blocks after blk), while p < stop, n < max and the keys have at
// most maxKey bytes; it returns recs, p, n, mask and blk as they are then,
// and how many of masks it used. It is takeWhole's loop for the lines that
// need no other check (takeWhole sees to the arena's room and to recs'
// capacity for n < max).
//
// It goes in two passes: flattenEnds writes the offsets of all the
// newlines (up to 2 KiB of input), then endRecords makes a record of each
// line. The loop that did both at once, a line at a time, mispredicted the
// end of every block's bits and kept too many variables for the registers:
// on 8-byte keys it was a third of distinct's CPU.
func blockLines(recs []Record, data []byte, base, p, n, max int, mask uint64, blk int, masks []uint64, stop, maxKey int, ends *endList) ([]Record, int, int, uint64, int, int) {
	k := flattenEnds(ends, mask, blk, masks)
	all := ends[:min(k, max-n)]
	var i int
	recs, p, i = endRecords(recs, data, base, p, all, stop, maxKey)
	n += i
	if i == k {
		return recs, p, n, 0, blk + 64*len(masks), len(masks)
	}
	// Stopped before newline i: its block's bits from it on are left.
	e := int(ends[i])
	j := (e - blk) >> 6 // 0: the block of mask, j: masks[j-1]
	if j > 0 {
		mask = masks[j-1]
	}
	b := blk + 64*j
	return recs, p, n, mask &^ (1<<(e-b) - 1), b, j
}

// endList holds flattenEnds' offsets: 64 a block for the 32 blocks of
// LineSource.masks and the current one, and 8 past the last.
type endList [33*64 + 8]uint32

// flattenEnds writes to ends the offsets (from the start of data) of the
// newlines of mask, whose block starts at blk, then of masks, the blocks
// after it, in order, and returns how many. Each block's first w go out
// unconditionally (the offsets past the count are garbage), w the power
// of 2 from 1 to 8 at or above the blocks' mean count of newlines: so the
// loop takes no branch on the bits where lines are about as long as each
// other, and writes few offsets in vain where they are long (8 a block
// for one line in two blocks, on 128-byte keys, was a fifth of distinct's
// CPU). blk may be -64 (no block yet, mask 0): the offsets wrap around and
// back. flattenEndsGo is flattenEnds in Go, for CPUs without
// flattenEndsAsm (linesource_ends_amd64.go).
func flattenEndsGo(ends *endList, mask uint64, blk int, masks []uint64) int {
	c := bits.OnesCount64(mask)
	for _, m := range masks {
		c += bits.OnesCount64(m)
	}
	w := 8
	switch nb := len(masks) + 1; {
	case c <= nb:
		w = 1
	case c <= 2*nb:
		w = 2
	case c <= 4*nb:
		w = 4
	}
	k := 0
	b := uint32(blk)
	for j := -1; j < len(masks); j++ {
		m := mask
		if j >= 0 {
			m = masks[j]
			b += 64
		}
		c := bits.OnesCount64(m)
		d := (*[8]uint32)(ends[k : k+8])
		d[0] = b + uint32(bits.TrailingZeros64(m))
		m &= m - 1
		if w >= 2 {
			d[1] = b + uint32(bits.TrailingZeros64(m))
			m &= m - 1
		}
		if w >= 4 {
			d[2] = b + uint32(bits.TrailingZeros64(m))
			m &= m - 1
			d[3] = b + uint32(bits.TrailingZeros64(m))
			m &= m - 1
		}
		if w == 8 {
			d[4] = b + uint32(bits.TrailingZeros64(m))
			m &= m - 1
			d[5] = b + uint32(bits.TrailingZeros64(m))
			m &= m - 1
			d[6] = b + uint32(bits.TrailingZeros64(m))
			m &= m - 1
			d[7] = b + uint32(bits.TrailingZeros64(m))
			m &= m - 1
		}
		for i := w; m != 0; i++ {
			ends[k+i] = b + uint32(bits.TrailingZeros64(m))
			m &= m - 1
		}
		k += c
	}
	return k
}

// endRecords appends to recs the records of the lines that start at
// data[p] and end at the newlines at ends, while p < stop and keys have
// at most maxKey bytes (CR excluded from the key, included in the cap);
// it returns recs, the start of the next line and how many it made.
// recs must have room for len(ends) more. endRecordsGo is endRecords in
// Go, for CPUs without endRecordsAsm.
func endRecordsGo(recs []Record, data []byte, base, p int, ends []uint32, stop, maxKey int) ([]Record, int, int) {
	k := len(recs)
	out := recs[k : k+len(ends)]
	i := 0
	for ; i < len(ends) && p < stop; i++ {
		end := int(ends[i])
		if end-p > maxKey {
			break
		}
		ke := end
		if ke > p && data[ke-1] == '\r' {
			ke--
		}
		out[i] = spanRecord(base+p, ke-p, 0)
		p = end + 1
	}
	return recs[:k+i], p, i
}

// blockMasks sets s.masks[:m] to the newline bitmaps of the m blocks of 64
// bytes from data[blk] (blk < len(data)) and returns m, at least 1: a last
// block shorter than 64 bytes is read as if padded with zeros.
func (s *LineSource) blockMasks(data []byte, blk int) int {
	if m := min(len(s.masks), (len(data)-blk)/64); m > 0 {
		newlineMasks(s.masks[:m], data[blk:])
		return m
	}
	var tail [64]byte
	copy(tail[:], data[blk:])
	s.masks[0] = newlines64(tail[:])
	return 1
}

// newlines64 returns the positions of the newlines in b[:64] as the bits
// of a word: bit i is set iff b[i] == '\n'.
func newlines64(b []byte) uint64 {
	_ = b[63]
	return newlines8(b[0:]) | newlines8(b[8:])<<8 | newlines8(b[16:])<<16 | newlines8(b[24:])<<24 |
		newlines8(b[32:])<<32 | newlines8(b[40:])<<40 | newlines8(b[48:])<<48 | newlines8(b[56:])<<56
}

// newlines8 is newlines64 for b[:8], in the low 8 bits. x has a zero byte
// where b has a newline; adding 0x7f to the low 7 bits of each byte sets
// its high bit iff they are not all zero, without carrying into the next
// byte (unlike the usual x - 0x01...01 test, which flags bytes above a zero
// byte too), and or-ing x adds the bytes whose high bit alone is set. The
// multiplication gathers the 8 high bits of the inverse into the top byte:
// byte j's bit 8j+7 lands at 56+j, every other product lands at a different
// bit outside the top byte, so no carry can reach it.
func newlines8(b []byte) uint64 {
	const lo7, hi, nl = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080, 0x0a0a0a0a0a0a0a0a
	x := binary.LittleEndian.Uint64(b) ^ nl
	z := ^((x&lo7 + lo7) | x) & hi
	return z * 0x0002040810204081 >> 56
}
