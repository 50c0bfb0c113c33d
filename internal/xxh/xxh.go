// Package xxh computes XXH64 with seed 0 of short inputs in pure Go,
// bit-identical to github.com/cespare/xxhash/v2.Sum64, which it calls for
// inputs of 32 bytes or more.
//
// Why not call xxhash.Sum64 for everything: record keys are mostly a few
// bytes long, and for those the assembly Sum64 pays a call through an ABI
// wrapper and, worse, a mispredicted branch in its 8-byte, 4-byte and 1-byte
// tail loops each time the key length changes. Here the tail is gathered
// into one word with at most two overlapping loads and each optional step
// of the XXH64 short-input path is computed and kept or dropped with a
// conditional move, so a stream of keys of varying lengths runs without
// mispredictions. The steps are those of XXH64's finalisation (XXH64_finalize
// in the reference xxhash.h): for each 8-byte lane h ^= round(0, lane),
// h = rotl(h,27)*P1 + P4; for a 4-byte lane h ^= lane*P1,
// h = rotl(h,23)*P2 + P3; for each byte h ^= byte*P5, h = rotl(h,11)*P1;
// then the avalanche.
package xxh

import (
	"encoding/binary"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

// Sum64 returns xxhash.Sum64(b).
func Sum64(b []byte) uint64 {
	n := len(b)
	if n >= 32 {
		return xxhash.Sum64(b)
	}
	h := prime5 + uint64(n)
	var t uint64 // the n&7 bytes after the 8-byte lanes, little-endian
	switch {
	case n >= 8:
		h = lane(h, u64(b))
		if n >= 16 {
			h = lanes12(h, b, 0, n)
		}
		t = u64(b[n-8:]) >> (64 - 8*(n&7)) // n&7 == 0: a shift by 64 is 0
	case n >= 4:
		// Two overlapping loads cover 4..7 bytes; the overlap ORs equal bytes.
		t = uint64(u32(b)) | uint64(u32(b[n-4:]))<<(8*(n-4))
	case n > 0:
		t = uint64(b[0]) | uint64(b[n>>1])<<(8*(n>>1)) | uint64(b[n-1])<<(8*(n-1))
	}
	return tail(h, t, n)
}

// SumWindow returns xxhash.Sum64(buf[start:end]), reading bytes of buf
// outside the key where that saves a branch: buf must hold the key, and
// the bytes around it are never part of the result. For keys shorter than
// 16 bytes that end at least 8 bytes into buf, it takes no data-dependent
// branch at all, so it suits a stream of short keys of varying lengths cut
// from one buffer (lines of a read buffer, keys of an arena).
func SumWindow(buf []byte, start, end int) uint64 {
	n := end - start
	if n >= 32 || end < 8 {
		return Sum64(buf[start:end])
	}
	h := prime5 + uint64(n)
	// The lane load is in bounds whatever n is: a key shorter than 8
	// bytes loads the 8 bytes ending at its end, and drops the result.
	p := start
	if n < 8 {
		p = end - 8
	}
	if h0 := lane(h, u64(buf[p:])); n >= 8 {
		h = h0
	}
	if n >= 16 {
		h = lanes12(h, buf, start, n)
	}
	return tail(h, u64(buf[end-8:])>>(64-8*(n&7)), n)
}

// lanes12 mixes in the second 8-byte lane of the key buf[start:start+n],
// 16 <= n < 32, and the third if n >= 24.
func lanes12(h uint64, buf []byte, start, n int) uint64 {
	h = lane(h, u64(buf[start+8:]))
	// With n < 24 the third lane's load is moved back into the key and
	// its result dropped.
	o := start + min(16, n-8)
	if h2 := lane(h, u64(buf[o:])); n >= 24 {
		h = h2
	}
	return h
}

// tail mixes in the n&7 bytes t that follow the key's 8-byte lanes (a
// 4-byte lane, then single bytes) and finishes the hash. Every step is
// computed; the conditions only pick which results are kept.
func tail(h, t uint64, n int) uint64 {
	h4 := bits.RotateLeft64(h^(t&0xffffffff)*prime1, 23)*prime2 + prime3
	t4 := t >> 32
	if n&4 != 0 {
		h, t = h4, t4
	}
	r := n & 3
	if h1 := bits.RotateLeft64(h^(t&0xff)*prime5, 11) * prime1; r >= 1 {
		h = h1
	}
	if h2 := bits.RotateLeft64(h^(t>>8&0xff)*prime5, 11) * prime1; r >= 2 {
		h = h2
	}
	if h3 := bits.RotateLeft64(h^(t>>16&0xff)*prime5, 11) * prime1; r == 3 {
		h = h3
	}
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

// lane mixes one 8-byte lane v into h.
func rotl(x uint64, k int) uint64 { return bits.RotateLeft64(x, k) }

func lane(h, v uint64) uint64 {
	k := bits.RotateLeft64(v*prime2, 31) * prime1
	return bits.RotateLeft64(h^k, 27)*prime1 + prime4
}

func u64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
func u32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
