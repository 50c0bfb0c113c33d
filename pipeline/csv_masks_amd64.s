#include "textflag.h"

// func csvMasksSSE2(dst []uint64, src []byte, comma byte)
// For each 64-byte block i of src, i < len(dst)/4: dst[4i] is its quote
// bitmap, dst[4i+1] its comma bitmap, dst[4i+2] its newline bitmap and
// dst[4i+3] its CR bitmap (bit j for byte j). SSE2 only, which every
// amd64 CPU has: PCMPEQB compares 16 bytes, PMOVMSKB gathers the results
// into 16 bits.
TEXT ·csvMasksSSE2(SB), NOSPLIT, $0-49
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), R12
	MOVQ src_base+24(FP), SI
	MOVBQZX comma+48(FP), AX
	MOVQ $0x0101010101010101, BX
	IMULQ BX, AX
	MOVQ AX, X11
	PUNPCKLQDQ X11, X11
	MOVQ $0x2222222222222222, AX
	MOVQ AX, X10
	PUNPCKLQDQ X10, X10
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X12
	PUNPCKLQDQ X12, X12
	MOVQ $0x0d0d0d0d0d0d0d0d, AX
	MOVQ AX, X13
	PUNPCKLQDQ X13, X13
	CMPQ R12, $4
	JLT done

block:
	XORQ R8, R8
	XORQ R9, R9
	XORQ R10, R10
	XORQ R11, R11
	XORQ CX, CX

chunk:
	MOVOU (SI)(CX*1), X1
	MOVO X1, X2
	MOVO X1, X3
	MOVO X1, X4
	PCMPEQB X10, X1
	PCMPEQB X11, X2
	PCMPEQB X12, X3
	PCMPEQB X13, X4
	PMOVMSKB X1, AX
	PMOVMSKB X2, BX
	PMOVMSKB X3, DX
	PMOVMSKB X4, R13
	SHLQ CX, AX
	SHLQ CX, BX
	SHLQ CX, DX
	SHLQ CX, R13
	ORQ AX, R8
	ORQ BX, R9
	ORQ DX, R10
	ORQ R13, R11
	ADDQ $16, CX
	CMPQ CX, $64
	JLT chunk

	MOVQ R8, 0(DI)
	MOVQ R9, 8(DI)
	MOVQ R10, 16(DI)
	MOVQ R11, 24(DI)
	ADDQ $64, SI
	ADDQ $32, DI
	SUBQ $4, R12
	CMPQ R12, $4
	JGE block

done:
	RET

// func csvMasksAVX512(dst []uint64, src []byte, comma byte)
// csvMasksSSE2 with AVX-512BW: VPCMPEQB compares a whole 64-byte block
// into a mask register, which is the bitmap.
TEXT ·csvMasksAVX512(SB), NOSPLIT, $0-49
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), R12
	MOVQ src_base+24(FP), SI
	MOVBQZX comma+48(FP), AX
	VPBROADCASTB AX, Z11
	MOVQ $0x22, AX
	VPBROADCASTB AX, Z10
	MOVQ $0x0a, AX
	VPBROADCASTB AX, Z12
	MOVQ $0x0d, AX
	VPBROADCASTB AX, Z13
	CMPQ R12, $4
	JLT done512

block512:
	VMOVDQU8 (SI), Z1
	VPCMPEQB Z10, Z1, K1
	VPCMPEQB Z11, Z1, K2
	VPCMPEQB Z12, Z1, K3
	VPCMPEQB Z13, Z1, K4
	KMOVQ K1, 0(DI)
	KMOVQ K2, 8(DI)
	KMOVQ K3, 16(DI)
	KMOVQ K4, 24(DI)
	ADDQ $64, SI
	ADDQ $32, DI
	SUBQ $4, R12
	CMPQ R12, $4
	JGE block512

done512:
	VZEROUPPER
	RET
