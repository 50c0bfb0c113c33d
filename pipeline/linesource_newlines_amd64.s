#include "textflag.h"

// func newlineMasksSSE2(dst []uint64, src []byte)
// dst[i] = the newline bitmap of src[64i:64i+64]; len(src) >= 64*len(dst).
// SSE2 only, which every amd64 CPU has: PCMPEQB finds the newlines of 16
// bytes, PMOVMSKB gathers them into 16 bits. The loop is the first to
// touch a mapped file's bytes (linesource_mmap_linux.go), so it waits on
// memory: PREFETCHT0 2 KiB ahead, past the 4 KiB page the hardware
// prefetcher stops at, took `streamstat distinct -j 1` on 128-byte keys
// from 108 to 89 ms of CPU (1-3 KiB alike).
TEXT ·newlineMasksSSE2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X0
	PUNPCKLQDQ X0, X0
	TESTQ CX, CX
	JEQ done

loop:
	PREFETCHT0 2048(SI)
	MOVOU 0(SI), X1
	MOVOU 16(SI), X2
	MOVOU 32(SI), X3
	MOVOU 48(SI), X4
	PCMPEQB X0, X1
	PCMPEQB X0, X2
	PCMPEQB X0, X3
	PCMPEQB X0, X4
	PMOVMSKB X1, AX
	PMOVMSKB X2, BX
	PMOVMSKB X3, DX
	PMOVMSKB X4, R8
	SHLQ $16, BX
	SHLQ $32, DX
	SHLQ $48, R8
	ORQ BX, AX
	ORQ DX, R8
	ORQ R8, AX
	MOVQ AX, 0(DI)
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNE loop

done:
	RET
