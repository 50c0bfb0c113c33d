#include "go_asm.h"
#include "textflag.h"

// XXH64 (seed 0) of 8 keys at once, one key in each 64-bit lane of a ZMM
// register: the steps of the XXH64 specification (github.com/Cyan4973/xxHash,
// doc/xxhash_spec.md) lane by lane, each lane's steps selected by a mask
// register computed from its length, so one call takes keys of any lengths.
// AVX-512F and DQ (VPMULLQ).
//
// A gather merges into its destination, which makes it wait for the last
// write of that register, the previous group's chain of multiplies: every
// gather's destination is zeroed first (3.5x on 8-byte keys).
//
// Every load is a masked gather or a masked load, and reads only bytes the
// caller vouched for: a lane's stripes and 8-byte steps lie inside its key;
// its last len&7 bytes are read as the 8 bytes at min(end&^7, dlen-8), then
// shifted down, which lies inside [0, dlen) when dlen >= 8 (xxh64Keys
// checks both). Lanes past n have length 0 and read nothing.

// Registers across the loop:
//   Z0..Z4   the primes P1..P5        Z5  P1+P2, Z6 -P1 (the seed-0 v1, v4)
//   Z20      32                       Z21 dlen-8
//   Z22      0xff                     Z23 1
//   Z25      7                        Z26 3
//   Z28      2                        Z29 4
//   SI data, K7 the group's lanes.
//   xxh64KeysAVX512: DI offs, BX lens, DX out, CX keys left.
//   xxh64RecordsAVX512: DI the group's records, BX n, R10 records done,
//   Z24 dlen, Z27 base, Z30 recIndex, Z31 0xffffffff.
// Per group:
//   Z7 offsets, Z8 lengths, Z10..Z13 the accumulators v1..v4, Z19 h.

// STRIPE(disp, v, in, k): v = round(v, the 8 bytes at disp+off+32s) on the
// lanes of K1 (K1 is copied to k: a gather clears its mask).
#define STRIPE(disp, v, in, k) \
	KMOVW K1, k \
	VPXORQ in, in, in \
	VPGATHERQQ disp(SI)(Z14*1), k, in \
	VPMULLQ Z1, in, in \
	VPADDQ in, v, in \
	VPROLQ $31, in, in \
	VPMULLQ Z0, in, K1, v

// MERGE(v): h = (h ^ round(0, v))*P1 + P4, h in Z15.
#define MERGE(v) \
	VPMULLQ Z1, v, Z16 \
	VPROLQ $31, Z16, Z16 \
	VPMULLQ Z0, Z16, Z16 \
	VPXORQ Z16, Z15, Z15 \
	VPMULLQ Z0, Z15, Z15 \
	VPADDQ Z3, Z15, Z15

// WORD8(disp): on the lanes of K1, h = rotl(h ^ round(0, w), 27)*P1 + P4,
// w the 8 bytes at disp+Z14.
#define WORD8(disp) \
	KMOVW K1, K2 \
	VPXORQ Z15, Z15, Z15 \
	VPGATHERQQ disp(SI)(Z14*1), K2, Z15 \
	VPMULLQ Z1, Z15, Z15 \
	VPROLQ $31, Z15, Z15 \
	VPMULLQ Z0, Z15, Z15 \
	VPXORQ Z15, Z19, Z15 \
	VPROLQ $27, Z15, Z15 \
	VPMULLQ Z0, Z15, Z15 \
	VPADDQ Z3, Z15, K1, Z19

// BYTE: on the lanes of K1, h = rotl(h ^ b*P5, 11)*P1, b the low byte of
// Z16; then Z16 >>= 8.
#define BYTE \
	VPANDQ Z22, Z16, Z15 \
	VPMULLQ Z4, Z15, Z15 \
	VPXORQ Z15, Z19, Z15 \
	VPROLQ $11, Z15, Z15 \
	VPMULLQ Z0, Z15, K1, Z19 \
	VPSRLQ $8, Z16, Z16

// SETUP puts the constants in Z0..Z6 and Z20..Z29 (the table above) from
// R8 = dlen.
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
	VPADDQ Z0, Z1, Z5 \
	VPXORQ Z6, Z6, Z6 \
	VPSUBQ Z0, Z6, Z6 \
	MOVQ $32, AX \
	VPBROADCASTQ AX, Z20 \
	LEAQ -8(R8), AX \
	VPBROADCASTQ AX, Z21 \
	MOVQ $0xff, AX \
	VPBROADCASTQ AX, Z22 \
	MOVQ $1, AX \
	VPBROADCASTQ AX, Z23 \
	MOVQ $7, AX \
	VPBROADCASTQ AX, Z25 \
	MOVQ $3, AX \
	VPBROADCASTQ AX, Z26 \
	MOVQ $2, AX \
	VPBROADCASTQ AX, Z28 \
	MOVQ $4, AX \
	VPBROADCASTQ AX, Z29

// hash8 sets Z19 to the hashes of the keys at offsets Z7 and of lengths Z8
// in SI's data, from the constants of SETUP; lanes of length 0 past the
// keys read nothing. It uses Z9..Z18 and K1..K6.
TEXT hash8<>(SB), NOSPLIT|NOFRAME, $0
	// h = P5 on lanes of fewer than 32 bytes; the others run the
	// stripe loop and merge their accumulators.
	VMOVDQA64 Z4, Z19
	VPSRLQ $5, Z8, Z9
	VPTESTMQ Z9, Z9, K1
	KORTESTW K1, K1
	JZ words
	KMOVW K1, K6
	VMOVDQA64 Z5, Z10
	VMOVDQA64 Z1, Z11
	VPXORQ Z12, Z12, Z12
	VMOVDQA64 Z6, Z13
	VMOVDQA64 Z7, Z14

stripe:
	STRIPE(0, Z10, Z15, K2)
	STRIPE(8, Z11, Z16, K3)
	STRIPE(16, Z12, Z17, K4)
	STRIPE(24, Z13, Z18, K5)
	VPADDQ Z20, Z14, Z14
	VPSUBQ Z23, Z9, K1, Z9
	VPTESTMQ Z9, Z9, K1
	KORTESTW K1, K1
	JNZ stripe

	VPROLQ $1, Z10, Z15
	VPROLQ $7, Z11, Z16
	VPADDQ Z16, Z15, Z15
	VPROLQ $12, Z12, Z16
	VPADDQ Z16, Z15, Z15
	VPROLQ $18, Z13, Z16
	VPADDQ Z16, Z15, Z15
	MERGE(Z10)
	MERGE(Z11)
	MERGE(Z12)
	MERGE(Z13)
	VMOVDQA64 Z15, K6, Z19

words:
	VPADDQ Z8, Z19, Z19

	// The 8-byte steps: (len&31)>>3 of them, from off + len&^31.
	VPSRLQ $5, Z8, Z14
	VPSLLQ $5, Z14, Z14
	VPADDQ Z7, Z14, Z14
	VPSRLQ $3, Z8, Z9
	VPANDQ Z26, Z9, Z9
	VPTESTMQ Z9, Z9, K1
	KORTESTW K1, K1
	JZ tail
	WORD8(0)
	VPCMPUQ $6, Z23, Z9, K1
	KORTESTW K1, K1
	JZ tail
	WORD8(8)
	VPCMPUQ $6, Z28, Z9, K1
	KORTESTW K1, K1
	JZ tail
	WORD8(16)

tail:
	// The last len&7 bytes, from t = off + len&^7: the 8 bytes at
	// a = min(t, dlen-8), shifted right by t-a bytes.
	VPTESTMQ Z25, Z8, K1
	KORTESTW K1, K1
	JZ aval
	VPSRLQ $3, Z8, Z14
	VPSLLQ $3, Z14, Z14
	VPADDQ Z7, Z14, Z14
	VPMINUQ Z21, Z14, Z15
	VPSUBQ Z15, Z14, Z14
	VPSLLQ $3, Z14, Z14
	KMOVW K1, K2
	VPXORQ Z16, Z16, Z16
	VPGATHERQQ 0(SI)(Z15*1), K2, Z16
	VPSRLVQ Z14, Z16, Z16

	// The 4-byte step, on lanes with len&4.
	VPTESTMQ Z29, Z8, K1
	KORTESTW K1, K1
	JZ bytes
	VPSLLQ $32, Z16, Z15
	VPSRLQ $32, Z15, Z15
	VPMULLQ Z0, Z15, Z15
	VPXORQ Z15, Z19, Z15
	VPROLQ $23, Z15, Z15
	VPMULLQ Z1, Z15, Z15
	VPADDQ Z2, Z15, K1, Z19
	VPSRLQ $32, Z16, K1, Z16

bytes:
	// The 1-byte steps: len&3 of them.
	VPANDQ Z26, Z8, Z9
	VPTESTMQ Z9, Z9, K1
	KORTESTW K1, K1
	JZ aval
	BYTE
	VPCMPUQ $6, Z23, Z9, K1
	KORTESTW K1, K1
	JZ aval
	BYTE
	VPCMPUQ $6, Z28, Z9, K1
	KORTESTW K1, K1
	JZ aval
	BYTE

aval:
	VPSRLQ $33, Z19, Z15
	VPXORQ Z15, Z19, Z19
	VPMULLQ Z1, Z19, Z19
	VPSRLQ $29, Z19, Z15
	VPXORQ Z15, Z19, Z19
	VPMULLQ Z2, Z19, Z19
	VPSRLQ $32, Z19, Z15
	VPXORQ Z15, Z19, Z19
	RET

// func xxh64KeysAVX512(data *byte, dlen int, offs *uint32, lens *uint32, out *uint64, n int)
TEXT ·xxh64KeysAVX512(SB), NOSPLIT, $0-48
	MOVQ data+0(FP), SI
	MOVQ dlen+8(FP), R8
	MOVQ offs+16(FP), DI
	MOVQ lens+24(FP), BX
	MOVQ out+32(FP), DX
	MOVQ n+40(FP), CX
	SETUP

group:
	TESTQ CX, CX
	JLE done
	MOVQ $0xff, AX
	CMPQ CX, $8
	JGE full
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX

full:
	KMOVW AX, K7
	VPMOVZXDQ.Z (DI), K7, Z7
	VPMOVZXDQ.Z (BX), K7, Z8
	CALL hash8<>(SB)
	VMOVDQU64 Z19, K7, (DX)
	ADDQ $32, DI
	ADDQ $32, BX
	ADDQ $64, DX
	SUBQ $8, CX
	JMP group

done:
	VZEROUPPER
	RET

// func xxh64RecordsAVX512(data *byte, dlen int, recs *Record, n int, base int) int
// The records' keyOff and keyLen are one gathered qword (the Go side
// checks that keyLen follows keyOff), their hashes scattered back. A group
// with a key outside data stops the loop before it is hashed.
TEXT ·xxh64RecordsAVX512(SB), NOSPLIT, $0-48
	MOVQ data+0(FP), SI
	MOVQ dlen+8(FP), R8
	MOVQ recs+16(FP), DI
	MOVQ n+24(FP), BX
	MOVQ base+32(FP), R9
	SETUP
	VPBROADCASTQ R8, Z24
	VPBROADCASTQ R9, Z27
	MOVQ $0xffffffff, AX
	VPBROADCASTQ AX, Z31
	VMOVDQU64 recIndex<>(SB), Z30
	XORQ R10, R10

rgroup:
	MOVQ BX, CX
	SUBQ R10, CX
	JLE rdone
	MOVQ $0xff, AX
	CMPQ CX, $8
	JGE rfull
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX

rfull:
	KMOVW AX, K7
	KMOVW AX, K1
	VPXORQ Z9, Z9, Z9
	VPGATHERQQ Record_keyOff(DI)(Z30*1), K1, Z9
	VPANDQ Z31, Z9, Z7
	VPSUBQ Z27, Z7, Z7
	VPSRLQ $32, Z9, Z8
	VPXORQ Z9, Z9, Z9
	VPCMPQ $1, Z9, Z7, K7, K1
	VPADDQ Z7, Z8, Z9
	VPCMPQ $6, Z24, Z9, K7, K2
	KORTESTW K1, K2
	JNZ rdone
	CALL hash8<>(SB)
	KMOVW K7, K1
	VPSCATTERQQ Z19, K1, Record_Hash(DI)(Z30*1)
	ADDQ $(8*Record__size), DI
	ADDQ $8, R10
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
