#include "textflag.h"

// The two passes of blockLines (linesource_whole.go) in assembly, with
// POPCNT, TZCNT and BLSR (BMI1). The Go loops, built for the amd64
// baseline, called through a CPU check for every popcount and took BSF
// and a CMOV for every trailing zero count, and kept p, stop and maxKey
// on the stack: together a fifth of distinct's CPU on 64-byte keys.

// EMIT writes the offset of the lowest newline of R10 (block start R11)
// to ends[DX+i] (off = 4i) and clears it; R10 == 0 writes R11+64, which
// the count in R12 leaves out.
#define EMIT(off) \
	TZCNTQ R10, R13 \
	ADDL   R11, R13 \
	MOVL   R13, off(DI)(DX*4) \
	BLSRQ  R10, R10

// NEXTBLOCK adds the block's count to k and, if a block is left, loads
// it (R10, start R11) and goes to body; else to done.
#define NEXTBLOCK(body) \
	ADDQ R12, DX \
	CMPQ R9, CX \
	JGE  done \
	MOVQ (SI)(R9*8), R10 \
	INCQ R9 \
	ADDL $64, R11 \
	JMP  body

// REST writes the offsets of the newlines left in R10 from ends[DX+w]
// on, in loop, then goes to next.
#define REST(w, loop, next) \
	LEAQ w(DX), R14 \
loop: \
	TZCNTQ R10, R13 \
	ADDL   R11, R13 \
	MOVL   R13, (DI)(R14*4) \
	INCQ   R14 \
	BLSRQ  R10, R10 \
	JNZ    loop \
	JMP    next

// func flattenEndsAsm(ends *endList, mask uint64, blk int, masks *uint64, nm int) int
// flattenEnds (see there) of mask, the block at blk, and masks[:nm].
TEXT ·flattenEndsAsm(SB), NOSPLIT, $0-48
	MOVQ ends+0(FP), DI
	MOVQ mask+8(FP), AX
	MOVQ blk+16(FP), R11
	MOVQ masks+24(FP), SI
	MOVQ nm+32(FP), CX

	// c, the newlines of all blocks, against nb = nm+1 blocks: w, the
	// offsets each block writes unconditionally.
	POPCNTQ AX, R8
	XORQ    R9, R9

count:
	CMPQ    R9, CX
	JGE     counted
	POPCNTQ (SI)(R9*8), R12
	ADDQ    R12, R8
	INCQ    R9
	JMP     count

counted:
	LEAQ 1(CX), R9 // nb
	MOVQ AX, R10   // the first block's bits
	XORQ DX, DX    // k
	CMPQ R8, R9
	JLE  w1
	SHLQ $1, R9
	CMPQ R8, R9
	JLE  w2
	SHLQ $1, R9
	CMPQ R8, R9
	JLE  w4
	JMP  w8

// In each loop, R9 indexes masks, R10 holds the block's bits, R11 its
// start, R12 its count; wNrest writes the bits past the first w.
w1:
	XORQ R9, R9

w1body:
	POPCNTQ R10, R12
	EMIT(0)
	JNZ     w1rest

w1next:
	NEXTBLOCK(w1body)

w1rest:
	REST(1, w1restloop, w1next)

w2:
	XORQ R9, R9

w2body:
	POPCNTQ R10, R12
	EMIT(0)
	EMIT(4)
	JNZ     w2rest

w2next:
	NEXTBLOCK(w2body)

w2rest:
	REST(2, w2restloop, w2next)

w4:
	XORQ R9, R9

w4body:
	POPCNTQ R10, R12
	EMIT(0)
	EMIT(4)
	EMIT(8)
	EMIT(12)
	JNZ     w4rest

w4next:
	NEXTBLOCK(w4body)

w4rest:
	REST(4, w4restloop, w4next)

w8:
	XORQ R9, R9

w8body:
	POPCNTQ R10, R12
	EMIT(0)
	EMIT(4)
	EMIT(8)
	EMIT(12)
	EMIT(16)
	EMIT(20)
	EMIT(24)
	EMIT(28)
	JNZ     w8rest

w8next:
	NEXTBLOCK(w8body)

w8rest:
	REST(8, w8restloop, w8next)

done:
	MOVQ DX, ret+40(FP)
	RET

// func endRecordsAsm(out *Record, data *byte, base, p int, ends *uint32, n, stop, maxKey int) (int, int)
// endRecords (see there): the records of the lines from data[p] that end
// at ends[:n], while p < stop and keys have at most maxKey bytes, written
// to out[0:]; returns p after them and their number. Every end must be
// below len(data) (endRecords checks the last, the largest).
TEXT ·endRecordsAsm(SB), NOSPLIT, $0-80
	MOVQ  out+0(FP), DI
	MOVQ  data+8(FP), SI
	MOVQ  base+16(FP), R8
	MOVQ  p+24(FP), AX
	MOVQ  ends+32(FP), BX
	MOVQ  n+40(FP), CX
	MOVQ  stop+48(FP), R9
	MOVQ  maxKey+56(FP), R10
	XORQ  DX, DX
	PXOR  X0, X0

loop:
	CMPQ DX, CX
	JGE  finish
	CMPQ AX, R9
	JGE  finish
	MOVL (BX)(DX*4), R11 // end
	MOVQ R11, R12
	SUBQ AX, R12         // its length, CR included
	CMPQ R12, R10
	JGT  finish
	TESTQ R12, R12
	JLE  store
	XORL  R13, R13
	CMPB  -1(SI)(R11*1), $0x0d
	SETEQ R13B
	SUBQ  R13, R12

store:
	// Hash, Value, Time 0; keyOff = base+p and keyLen in one word; KeepP,
	// HasValue 0.
	LEAQ   (R8)(AX*1), R13
	MOVL   R13, R13
	SHLQ   $32, R12
	ORQ    R13, R12
	MOVUPS X0, 0(DI)
	MOVQ   X0, 16(DI)
	MOVQ   R12, 24(DI)
	MOVQ   X0, 32(DI)
	ADDQ   $40, DI
	LEAQ   1(R11), AX
	INCQ   DX
	JMP    loop

finish:
	MOVQ AX, ret+64(FP)
	MOVQ DX, ret1+72(FP)
	RET
