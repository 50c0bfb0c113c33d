package pipeline

import (
	"encoding/binary"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// hashChunk is the most records hashLines buckets at a time: their indexes
// fit a uint16.
const hashChunk = 2048

// shortKey is the length from which keys go to xxhash.Sum64, whose loop
// over 32-byte stripes amortizes its branches; shorter keys are hashed by
// hashOfLen, one length at a time.
const shortKey = 32

// byLength is hashLines' scratch space: the indexes of a chunk's records by
// key length, all of 32 bytes and up in the last list. The lists are padded
// past a multiple of 4 KiB apart: at 4 KiB the store of an index to one
// list and the load of the next one's count were taken for the same
// address (4K aliasing), which made bucketing keys of 0..31 bytes 15%
// slower than the sort it replaces.
type byLength [shortKey + 1][hashChunk + 40]uint16

// hashLines sets the hash of records whose keys are at keyOff-base in
// data, to xxhash.Sum64 of the key. Where the CPU has AVX-512, it hashes
// 8 keys at once, in order (hashLinesX8: 2.1 to 2.8x on keys of 4 to 64
// bytes, 1.7 to 1.8x on 128, CPU time of `go test -run XXX -bench
// BenchmarkHashLinesX8 ./pipeline`). Elsewhere it puts the
// indexes of up to 2048 records at a time in lists by key length, then
// hashes each list with hashOfLen, whose branches on the length go the
// same way key after key: on keys of 5 to 11 bytes in random order,
// xxhash.Sum64 mispredicted about one branch per key, which cost more
// than the hash. One pass over the records suffices, where the counting
// sort this replaces took two and prefix sums over every length (1.25x on
// Zipf-distributed "key-N", see BenchmarkHashLines). On the lists,
// hashOfLen (pure Go, its loop around the hash) took 6.6 ns a key where
// xxhash.Sum64 took 7.8. by is scratch space kept by the caller: it is
// large, and only the entries written are read.
func hashLines(recs []Record, data []byte, base int, by *byLength) {
	if x8Fits(data) && hashLinesX8(recs, data, base) {
		return
	}
	for len(recs) > 0 {
		c := recs[:min(len(recs), hashChunk)]
		recs = recs[len(c):]
		if len(c) < 16 {
			// Too few keys to pay for the lists.
			hashInOrder(c, data, base)
			continue
		}
		if l0 := c[0].keyLen; oneLength(c[:16], l0) && oneLength(c, l0) {
			// One length: xxhash.Sum64's branches go the same way without
			// the lists, and filling them would wait on the store of the
			// one count at every key. (Here the assembly beat hashOfLen,
			// 5.5 against 7.3 ns on 11-byte keys.)
			hashInOrder(c, data, base)
			continue
		}
		var n [shortKey + 1]uint16
		for i := range c {
			l := min(c[i].keyLen, shortKey)
			by[l][n[l]] = uint16(i)
			n[l]++
		}
		for l := range shortKey {
			hashOfLen(c, by[l][:n[l]], data, base, l)
		}
		for _, i := range by[shortKey][:n[shortKey]] {
			r := &c[i]
			ks := int(r.keyOff) - base
			r.Hash = xxhash.Sum64(data[ks : ks+int(r.keyLen)])
		}
	}
}

// hashLinesX8 is hashLines where the CPU hashes 8 keys at once
// (xxh64RecordsAVX512), in order, whatever their lengths, since each lane
// of the 8 takes the steps of its own key's length: no lists by length.
// It reports false if a key lies outside data, for hashLines to start
// over and panic as slicing would.
func hashLinesX8(recs []Record, data []byte, base int) bool {
	if len(recs) == 0 {
		return true
	}
	return xxh64RecordsAVX512(&data[0], len(data), &recs[0], len(recs), base) == len(recs)
}

// hashInOrder sets the hash of the records of c with xxhash.Sum64, in order.
func hashInOrder(c []Record, data []byte, base int) {
	for i := range c {
		r := &c[i]
		ks := int(r.keyOff) - base
		r.Hash = xxhash.Sum64(data[ks : ks+int(r.keyLen)])
	}
}

// oneLength reports whether every key of c has l bytes. hashLines asks
// for the first 16 records first, so that a pass over all of them is made
// only where it is likely to pay. It is not inlined: in hashLines' loop,
// short of registers, other went to the stack and back at every record,
// 2 ns a record on 32-byte keys (a tenth of distinct's time).
//
//go:noinline
func oneLength(c []Record, l uint32) bool {
	other := uint32(0)
	for i := range c {
		other |= c[i].keyLen ^ l
	}
	return other == 0
}

// The XXH64 primes.
const (
	xxPrime1 uint64 = 11400714785074694791
	xxPrime2 uint64 = 14029467366897019727
	xxPrime3 uint64 = 1609587929392839161
	xxPrime4 uint64 = 9650029242287828579
	xxPrime5 uint64 = 2870177450012600261
)

// hashOfLen sets the hash of the records c[i], i in idx, whose keys all
// have n < 32 bytes, to xxhash.Sum64 of the key: XXH64 with seed 0 as in
// the XXH64 specification (github.com/Cyan4973/xxHash, doc/xxhash_spec.md,
// "Step 1" for inputs under 32 bytes, then steps 4 to 6) or cespare/xxhash's
// pure-Go Sum64, of which this is the part for short inputs. Its branches
// depend on n only, the same for every key of the call.
func hashOfLen(c []Record, idx []uint16, data []byte, base int, n int) {
	le := binary.LittleEndian
	for _, i := range idx {
		r := &c[i]
		ks := int(r.keyOff) - base
		b := data[ks : ks+n : ks+n]
		h := xxPrime5 + uint64(n)
		p := 0
		for ; p <= n-8; p += 8 {
			h ^= bits.RotateLeft64(le.Uint64(b[p:p+8])*xxPrime2, 31) * xxPrime1
			h = bits.RotateLeft64(h, 27)*xxPrime1 + xxPrime4
		}
		if n&4 != 0 {
			h ^= uint64(le.Uint32(b[p:p+4])) * xxPrime1
			h = bits.RotateLeft64(h, 23)*xxPrime2 + xxPrime3
			p += 4
		}
		for ; p < n; p++ {
			h ^= uint64(b[p]) * xxPrime5
			h = bits.RotateLeft64(h, 11) * xxPrime1
		}
		h ^= h >> 33
		h *= xxPrime2
		h ^= h >> 29
		h *= xxPrime3
		h ^= h >> 32
		r.Hash = h
	}
}
