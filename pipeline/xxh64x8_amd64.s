#include "go_asm.h"
#include "textflag.h"

// XXH64 (seed 0) of keys 8 at a time, one key in each 64-bit lane of a ZMM
// register: the steps of the XXH64 specification (github.com/Cyan4973/xxHash,
// doc/xxhash_spec.md) lane by lane, each lane's steps selected by a mask
// register computed from its length, so one call takes keys of any lengths.
// AVX-512F and DQ (VPMULLQ).
//
// A key's hash is a chain of dependent multiplies, and VPMULLQ takes about
// 15 cycles: one group of 8 keys leaves the multiplier idle most of the
// time, and the out-of-order window holds too few groups to make up for
// it. So hash16 takes two groups, A and B, each step written for A then
// for B: their chains run side by side (8-16% over one group a pass on
// BenchmarkHashLinesX8: less than hoped, so the ports, not the latency,
// are most of the cost now). Branches go by the union of both groups'
// lanes.
//
// A gather merges into its destination, which would make it wait for the
// last write of that register, the previous group's chain: every gather's
// destination is zeroed first (on 8-byte keys, from 0.9x the speed of
// xxhash.Sum64 to 2.1x, in the same runs). Loading each lane's 32-byte
// stripe whole and transposing the 8 rows (VINSERTI64X4, VPERMT2Q,
// VSHUFI64X2) in place of the 4 gathers took twice as long: the lanes'
// offsets went to GPRs through a 64-byte store read back 8 bytes at a
// time, which the store buffer does not forward.
//
// Every load is a masked gather, and reads only bytes of data (each
// group's keys are checked to lie inside it before they are hashed) or
// of the records: a lane's stripes and 8-byte steps lie inside its key;
// its last len&7 bytes are read as the 8 bytes at min(end&^7, dlen-8), then
// shifted down, which lies inside [0, dlen) when dlen >= 8 (the Go side
// checks it). Lanes past the keys have length 0 and read nothing.

// Registers:
//   Z0..Z4 the primes P1..P5, Z5 dlen-8, Z28 1, Z29 2, Z30 3, Z31 0xff;
//   SI data, K6 and K7 the lanes of A and B that hold keys.
//   hash16 takes A's offsets and lengths in Z6, Z7 and B's in Z17, Z18, and
//   returns their hashes in Z12 and Z23. It uses, for A (B):
//   Z8..Z11 (Z19..Z22) v1..v4, Z13 (Z24) where to read, Z14, Z15 (Z25,
//   Z26) scratch, Z16 (Z27) counts; K1 (K2) the lanes a step applies to,
//   K3 (K4) their copy that a gather consumes.

// SETUP sets the constants, dlen in R8.
#define SETUP \
	MOVQ $0x9E3779B185EBCA87, AX \
	VPBROADCASTQ AX, Z0 \
	MOVQ $0xC2B2AE3D27D4EB4F, AX \
	VPBROADCASTQ AX, Z1 \
	MOVQ $0x165667B19E3779F9, AX \
	VPBROADCASTQ AX, Z2 \
	MOVQ $0x85EBCA77C2B2AE63, AX \
	VPBROADCASTQ AX, Z3 \
	MOVQ $0x27D4EB2F165667C5, AX \
	VPBROADCASTQ AX, Z4 \
	LEAQ -8(R8), AX \
	VPBROADCASTQ AX, Z5 \
	MOVQ $1, AX \
	VPBROADCASTQ AX, Z28 \
	MOVQ $2, AX \
	VPBROADCASTQ AX, Z29 \
	MOVQ $3, AX \
	VPBROADCASTQ AX, Z30 \
	MOVQ $0xff, AX \
	VPBROADCASTQ AX, Z31

// GATHER(disp, at, k, kc, dst): dst = the 8 bytes at disp+at on the lanes
// of k (copied to kc, which the gather clears).
#define GATHER(disp, at, k, kc, dst) \
	KMOVW k, kc \
	VPXORQ dst, dst, dst \
	VPGATHERQQ disp(SI)(at*1), kc, dst

// STRIPE(disp, at, in, v, k, kc): v = round(v, the 8 bytes at disp+at) on
// the lanes of k.
#define STRIPE(disp, at, in, v, k, kc) \
	GATHER(disp, at, k, kc, in) \
	VPMULLQ Z1, in, in \
	VPADDQ in, v, in \
	VPROLQ $31, in, in \
	VPMULLQ Z0, in, k, v

// CONVERGE(v1, v2, v3, v4, h, t): h = rotl(v1, 1) + rotl(v2, 7) +
// rotl(v3, 12) + rotl(v4, 18).
#define CONVERGE(v1, v2, v3, v4, h, t) \
	VPROLQ $1, v1, h \
	VPROLQ $7, v2, t \
	VPADDQ t, h, h \
	VPROLQ $12, v3, t \
	VPADDQ t, h, h \
	VPROLQ $18, v4, t \
	VPADDQ t, h, h

// MERGE(v, h, t): h = (h ^ round(0, v))*P1 + P4.
#define MERGE(v, h, t) \
	VPMULLQ Z1, v, t \
	VPROLQ $31, t, t \
	VPMULLQ Z0, t, t \
	VPXORQ t, h, h \
	VPMULLQ Z0, h, h \
	VPADDQ Z3, h, h

// WORD8(disp, at, t, h, k, kc): on the lanes of k,
// h = rotl(h ^ round(0, w), 27)*P1 + P4, w the 8 bytes at disp+at.
#define WORD8(disp, at, t, h, k, kc) \
	GATHER(disp, at, k, kc, t) \
	VPMULLQ Z1, t, t \
	VPROLQ $31, t, t \
	VPMULLQ Z0, t, t \
	VPXORQ t, h, t \
	VPROLQ $27, t, t \
	VPMULLQ Z0, t, t \
	VPADDQ Z3, t, k, h

// LAST8(off, n, at, t, w, k, kc): on the lanes of k, w = the last n&7
// bytes of the key at off, in its low bytes: the 8 bytes at
// a = min(e, dlen-8), e = off + n&^7, shifted right by e-a bytes.
#define LAST8(off, n, at, t, w, k, kc) \
	VPANDQ.BCST not7<>(SB), n, at \
	VPADDQ off, at, at \
	VPMINUQ Z5, at, t \
	VPSUBQ t, at, at \
	VPSLLQ $3, at, at \
	GATHER(0, t, k, kc, w) \
	VPSRLVQ at, w, w

// WORD4(w, t, h, k): on the lanes of k, h = rotl(h ^ d*P1, 23)*P2 + P3,
// d the low 4 bytes of w; then w >>= 32.
#define WORD4(w, t, h, k) \
	VPANDQ.BCST low32<>(SB), w, t \
	VPMULLQ Z0, t, t \
	VPXORQ t, h, t \
	VPROLQ $23, t, t \
	VPMULLQ Z1, t, t \
	VPADDQ Z2, t, k, h \
	VPSRLQ $32, w, k, w

// BYTE(w, t, h, k): on the lanes of k, h = rotl(h ^ b*P5, 11)*P1, b the
// low byte of w; then w >>= 8.
#define BYTE(w, t, h, k) \
	VPANDQ Z31, w, t \
	VPMULLQ Z4, t, t \
	VPXORQ t, h, t \
	VPROLQ $11, t, t \
	VPMULLQ Z0, t, k, h \
	VPSRLQ $8, w, w

// AVALANCHE(h, t)
#define AVALANCHE(h, t) \
	VPSRLQ $33, h, t \
	VPXORQ t, h, h \
	VPMULLQ Z1, h, h \
	VPSRLQ $29, h, t \
	VPXORQ t, h, h \
	VPMULLQ Z2, h, h \
	VPSRLQ $32, h, t \
	VPXORQ t, h, h

// LANES(n, k): k = the low min(n, 8) lanes (0 if n <= 0); uses AX, CX.
#define LANES(n, k) \
	XORQ AX, AX \
	MOVQ n, CX \
	TESTQ CX, CX \
	JLE 7(PC) \
	MOVQ $0xff, AX \
	CMPQ CX, $8 \
	JGE 4(PC) \
	MOVQ $1, AX \
	SHLQ CX, AX \
	DECQ AX \
	KMOVW AX, k

// hash16: see the register table.
TEXT hash16<>(SB), NOSPLIT|NOFRAME, $0
	// h = P5 on lanes of fewer than 32 bytes; the others run the
	// stripe loop and merge their accumulators.
	VMOVDQA64 Z4, Z12
	VMOVDQA64 Z4, Z23
	VPSRLQ $5, Z7, Z16
	VPSRLQ $5, Z18, Z27
	VPTESTMQ Z16, Z16, K1
	VPTESTMQ Z27, Z27, K2
	KORTESTW K1, K2
	JZ words
	VPADDQ Z0, Z1, Z8
	VMOVDQA64 Z8, Z19
	VMOVDQA64 Z1, Z9
	VMOVDQA64 Z1, Z20
	VPXORQ Z10, Z10, Z10
	VPXORQ Z21, Z21, Z21
	VPSUBQ Z0, Z10, Z11
	VMOVDQA64 Z11, Z22
	VMOVDQA64 Z6, Z13
	VMOVDQA64 Z17, Z24
	MOVQ $32, AX
	VPBROADCASTQ AX, Z15

stripe:
	STRIPE(0, Z13, Z14, Z8, K1, K3)
	STRIPE(0, Z24, Z25, Z19, K2, K4)
	STRIPE(8, Z13, Z14, Z9, K1, K3)
	STRIPE(8, Z24, Z25, Z20, K2, K4)
	STRIPE(16, Z13, Z14, Z10, K1, K3)
	STRIPE(16, Z24, Z25, Z21, K2, K4)
	STRIPE(24, Z13, Z14, Z11, K1, K3)
	STRIPE(24, Z24, Z25, Z22, K2, K4)
	VPADDQ Z15, Z13, Z13
	VPADDQ Z15, Z24, Z24
	VPSUBQ Z28, Z16, K1, Z16
	VPSUBQ Z28, Z27, K2, Z27
	VPTESTMQ Z16, Z16, K1
	VPTESTMQ Z27, Z27, K2
	KORTESTW K1, K2
	JNZ stripe

	CONVERGE(Z8, Z9, Z10, Z11, Z14, Z15)
	CONVERGE(Z19, Z20, Z21, Z22, Z25, Z26)
	MERGE(Z8, Z14, Z15)
	MERGE(Z19, Z25, Z26)
	MERGE(Z9, Z14, Z15)
	MERGE(Z20, Z25, Z26)
	MERGE(Z10, Z14, Z15)
	MERGE(Z21, Z25, Z26)
	MERGE(Z11, Z14, Z15)
	MERGE(Z22, Z25, Z26)
	VPSRLQ $5, Z7, Z16
	VPSRLQ $5, Z18, Z27
	VPTESTMQ Z16, Z16, K1
	VPTESTMQ Z27, Z27, K2
	VMOVDQA64 Z14, K1, Z12
	VMOVDQA64 Z25, K2, Z23

words:
	VPADDQ Z7, Z12, Z12
	VPADDQ Z18, Z23, Z23

	// The 8-byte steps: (len&31)>>3 of them, from off + len&^31.
	VPANDQ.BCST not31<>(SB), Z7, Z13
	VPANDQ.BCST not31<>(SB), Z18, Z24
	VPADDQ Z6, Z13, Z13
	VPADDQ Z17, Z24, Z24
	VPSRLQ $3, Z7, Z16
	VPSRLQ $3, Z18, Z27
	VPANDQ Z30, Z16, Z16
	VPANDQ Z30, Z27, Z27
	VPTESTMQ Z16, Z16, K1
	VPTESTMQ Z27, Z27, K2
	KORTESTW K1, K2
	JZ tail
	WORD8(0, Z13, Z14, Z12, K1, K3)
	WORD8(0, Z24, Z25, Z23, K2, K4)
	VPCMPUQ $6, Z28, Z16, K1
	VPCMPUQ $6, Z28, Z27, K2
	KORTESTW K1, K2
	JZ tail
	WORD8(8, Z13, Z14, Z12, K1, K3)
	WORD8(8, Z24, Z25, Z23, K2, K4)
	VPCMPUQ $6, Z29, Z16, K1
	VPCMPUQ $6, Z29, Z27, K2
	KORTESTW K1, K2
	JZ tail
	WORD8(16, Z13, Z14, Z12, K1, K3)
	WORD8(16, Z24, Z25, Z23, K2, K4)

tail:
	// The last len&7 bytes: a 4-byte step on lanes with len&4, then
	// len&3 1-byte steps.
	MOVQ $7, AX
	VPBROADCASTQ AX, Z15
	VPTESTMQ Z15, Z7, K1
	VPTESTMQ Z15, Z18, K2
	KORTESTW K1, K2
	JZ avalanche
	LAST8(Z6, Z7, Z13, Z14, Z15, K1, K3)
	LAST8(Z17, Z18, Z24, Z25, Z26, K2, K4)
	VPSLLQ $1, Z29, Z16
	VPTESTMQ Z16, Z7, K1
	VPTESTMQ Z16, Z18, K2
	KORTESTW K1, K2
	JZ bytes
	WORD4(Z15, Z14, Z12, K1)
	WORD4(Z26, Z25, Z23, K2)

bytes:
	VPANDQ Z30, Z7, Z16
	VPANDQ Z30, Z18, Z27
	VPTESTMQ Z16, Z16, K1
	VPTESTMQ Z27, Z27, K2
	KORTESTW K1, K2
	JZ avalanche
	BYTE(Z15, Z14, Z12, K1)
	BYTE(Z26, Z25, Z23, K2)
	VPCMPUQ $6, Z28, Z16, K1
	VPCMPUQ $6, Z28, Z27, K2
	KORTESTW K1, K2
	JZ avalanche
	BYTE(Z15, Z14, Z12, K1)
	BYTE(Z26, Z25, Z23, K2)
	VPCMPUQ $6, Z29, Z16, K1
	VPCMPUQ $6, Z29, Z27, K2
	KORTESTW K1, K2
	JZ avalanche
	BYTE(Z15, Z14, Z12, K1)
	BYTE(Z26, Z25, Z23, K2)

avalanche:
	AVALANCHE(Z12, Z14)
	AVALANCHE(Z23, Z25)
	RET

// func xxh64RecordsAVX512(data *byte, dlen int, recs *Record, n int, base int) int
// The records' keyOff and keyLen are one gathered qword (the Go side
// checks that keyLen follows keyOff), their hashes scattered back. A pass
// with a key outside data stops the loop before it is hashed.
TEXT ·xxh64RecordsAVX512(SB), NOSPLIT, $0-48
	MOVQ data+0(FP), SI
	MOVQ dlen+8(FP), R8
	MOVQ recs+16(FP), DI
	MOVQ n+24(FP), BX
	SETUP
	XORQ R10, R10

rgroup:
	MOVQ BX, R9
	SUBQ R10, R9
	JLE rdone
	LANES(R9, K6)
	SUBQ $8, R9
	LANES(R9, K7)
	VMOVDQU64 recIndex<>(SB), Z13
	KMOVW K6, K1
	KMOVW K7, K2
	VPXORQ Z6, Z6, Z6
	VPXORQ Z17, Z17, Z17
	VPGATHERQQ Record_keyOff(DI)(Z13*1), K1, Z6
	VPGATHERQQ (Record_keyOff+8*Record__size)(DI)(Z13*1), K2, Z17
	VPSRLQ $32, Z6, Z7
	VPSRLQ $32, Z17, Z18
	VPANDQ.BCST low32<>(SB), Z6, Z6
	VPANDQ.BCST low32<>(SB), Z17, Z17
	VPSUBQ.BCST base+32(FP), Z6, Z6
	VPSUBQ.BCST base+32(FP), Z17, Z17

	// Every key inside data: 0 <= off, off+len <= dlen.
	VPXORQ Z14, Z14, Z14
	VPCMPQ $1, Z14, Z6, K6, K1
	VPCMPQ $1, Z14, Z17, K7, K2
	KORTESTW K1, K2
	JNZ rdone
	VPADDQ Z6, Z7, Z14
	VPADDQ Z17, Z18, Z25
	VPCMPQ.BCST $6, dlen+8(FP), Z14, K6, K1
	VPCMPQ.BCST $6, dlen+8(FP), Z25, K7, K2
	KORTESTW K1, K2
	JNZ rdone

	CALL hash16<>(SB)
	VMOVDQU64 recIndex<>(SB), Z13
	KMOVW K6, K1
	KMOVW K7, K2
	VPSCATTERQQ Z12, K1, Record_Hash(DI)(Z13*1)
	VPSCATTERQQ Z23, K2, (Record_Hash+8*Record__size)(DI)(Z13*1)
	ADDQ $(16*Record__size), DI
	ADDQ $16, R10
	JMP rgroup

rdone:
	CMPQ R10, BX
	CMOVQGT BX, R10
	MOVQ R10, ret+40(FP)
	VZEROUPPER
	RET

// recIndex is the offsets of 8 consecutive records.
DATA recIndex<>+0(SB)/8, $0
DATA recIndex<>+8(SB)/8, $Record__size
DATA recIndex<>+16(SB)/8, $(2*Record__size)
DATA recIndex<>+24(SB)/8, $(3*Record__size)
DATA recIndex<>+32(SB)/8, $(4*Record__size)
DATA recIndex<>+40(SB)/8, $(5*Record__size)
DATA recIndex<>+48(SB)/8, $(6*Record__size)
DATA recIndex<>+56(SB)/8, $(7*Record__size)
GLOBL recIndex<>(SB), RODATA|NOPTR, $64

// Masks for VPANDQ, where a pair of shifts would take port 0, which the
// multiplies keep busy.
DATA not31<>+0(SB)/8, $~31
GLOBL not31<>(SB), RODATA|NOPTR, $8
DATA not7<>+0(SB)/8, $~7
GLOBL not7<>(SB), RODATA|NOPTR, $8
DATA low32<>+0(SB)/8, $0xffffffff
GLOBL low32<>(SB), RODATA|NOPTR, $8
