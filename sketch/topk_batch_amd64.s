#include "textflag.h"
#include "go_asm.h"

// func tkEvictRun(r *tkRun, hs, keys unsafe.Pointer, n int) int
//
// The eviction of TopK.evict, for new keys of 1 byte or more that fit the
// counter they replace (inline, or in its region of the arena), and the
// common hits of AddHash, with a count of 1, in a loop over the batch that
// stops at the first key whose update would need anything else (see
// evictRun). Every check comes before the first write of a key's update,
// so a key is taken whole or not at all.
//
// Registers: DI r, SI i, R8 &table[0], R10 &counters[0], R11 &q[0],
// R12 qh; AX, BX, CX, DX, R9, R13, R14 scratch.
TEXT ·tkEvictRun(SB), NOSPLIT, $0-40
	MOVQ r+0(FP), DI
	MOVQ tkRun_table(DI), R8
	MOVQ tkRun_counters(DI), R10
	MOVQ tkRun_q(DI), R11
	MOVQ tkRun_qh(DI), R12
	XORQ SI, SI

loop:
	CMPQ SI, n+24(FP)
	JGE  done
	// What the update would need besides the eviction: the next level
	// (atMin reaching 0), a rehash, growing next, a saturated total.
	CMPQ tkRun_atMin(DI), $2
	JLT  done
	MOVQ tkRun_stale(DI), AX
	CMPQ AX, tkRun_maxStale(DI)
	JGE  done
	MOVQ tkRun_nextLen(DI), AX
	CMPQ AX, tkRun_nextCap(DI)
	JGE  done
	CMPQ tkRun_total(DI), $-1
	JEQ  done

	// Ask for the table slot of the key tkAheadSlots on and the counter
	// tkAheadMin entries on in q, so that they are in the cache when
	// their turn comes.
	LEAQ const_tkAheadSlots(SI), AX
	CMPQ AX, n+24(FP)
	JGE  nearend
	MOVQ tkRun_shift(DI), CX
	MOVQ hs+8(FP), BX
	MOVQ (BX)(AX*8), AX
	MOVQ $0x9e3779b97f4a7c15, BX
	IMULQ BX, AX
	SHRQ $32, AX
	SHRQ CX, AX
	PREFETCHT0 (R8)(AX*8)

nearend:
	LEAQ const_tkAheadMin(R12), AX
	CMPQ AX, tkRun_qLen(DI)
	JGE  probestart
	SHLQ $4, AX
	MOVLQSX tkRef_i(R11)(AX*1), AX
	SHLQ $6, AX
	PREFETCHT0 (R10)(AX*1)

probestart:
	// The probe: tag, home, and the first empty slot from home on; a
	// slot with the key's tag before it may hold the key.
	MOVQ tkRun_shift(DI), CX
	MOVQ hs+8(FP), AX
	MOVQ (AX)(SI*8), AX
	MOVQ $0x9e3779b97f4a7c15, BX
	IMULQ BX, AX
	SHRQ $32, AX               // AX = tag
	MOVQ AX, R14
	SHRQ CX, R14
	LEAQ (R8)(R14*8), R14      // R14 = &table[home]

	// The four slots from home at once, without a branch on each: the
	// loop's exit, at a slot a stale or live entry holds by chance, was
	// mispredicted on about a third of the keys. A slot stops the probe
	// if it is empty (both 32-bit halves zero) or holds the tag (its
	// upper half).
	LEAQ 32(R14), DX
	CMPQ DX, tkRun_end(DI)
	JHI  probe                 // near the table's end: slot by slot
	MOVQ AX, X2
	PSHUFD $0, X2, X2          // the tag in all four lanes
	PXOR X3, X3
	MOVOU 0(R14), X0           // slots 0 and 1
	MOVOU 16(R14), X1          // slots 2 and 3
	MOVOU X0, X4
	PCMPEQL X3, X4
	PSHUFD $0xb1, X4, X5
	PAND X5, X4                // slots 0, 1: empty
	PSHUFD $0xf5, X0, X5
	PCMPEQL X2, X5
	POR  X5, X4                // or the tag
	MOVOU X1, X6
	PCMPEQL X3, X6
	PSHUFD $0xb1, X6, X7
	PAND X7, X6
	PSHUFD $0xf5, X1, X7
	PCMPEQL X2, X7
	POR  X7, X6                // slots 2, 3
	PMOVMSKB X4, DX
	PMOVMSKB X6, CX
	SHLL $16, CX
	ORL  CX, DX                // bits 8k to 8k+7: slot k stops the probe
	TESTL DX, DX
	JZ   probe4
	BSFL DX, DX                // 8k: slot k's offset
	ADDQ DX, R14
	CMPQ (R14), $0
	JEQ  empty
	JMP  sametag

probe4:
	ADDQ $32, R14
	CMPQ R14, tkRun_end(DI)
	JHS  done                  // the probe would wrap to the table's start

probe:
	MOVQ (R14), DX
	TESTQ DX, DX
	JZ   empty
	SHRQ $32, DX
	CMPQ DX, AX
	JEQ  sametag

probenext:
	ADDQ $8, R14
	CMPQ R14, tkRun_end(DI)
	JLO  probe
	JMP  done                  // the probe would wrap to the table's start

sametag:
	// The entry's counter holds the key if it has the key's hash (an
	// entry left stale by an eviction, of this key or another, does not)
	// and the key's bytes.
	MOVL (R14), R9
	DECQ R9
	SHLQ $6, R9
	ADDQ R10, R9               // R9 = the entry's counter
	MOVQ hs+8(FP), R13
	MOVQ (R13)(SI*8), R13
	CMPQ tkCounter_hash(R9), R13
	JNE  probenext
	MOVQ keys+16(FP), BX
	LEAQ (SI)(SI*2), CX
	MOVQ 8(BX)(CX*8), DX       // DX = len(key)
	MOVQ (BX)(CX*8), BX        // BX = &key[0]
	CMPQ DX, $0x7fffffff
	JHI  done
	CMPL DX, tkCounter_klen(R9)
	JNE  probenext
	LEAQ tkCounter_inline(R9), R13
	CMPQ DX, $const_tkInline
	JHI  eqlong
	CMPQ DX, $8
	JLT  eq7
	MOVQ (BX), CX
	CMPQ CX, (R13)
	JNE  probenext
	MOVQ -8(BX)(DX*1), CX
	CMPQ CX, -8(R13)(DX*1)
	JNE  probenext
	JMP  hit

eq7:
	CMPQ DX, $4
	JLT  eq3
	MOVL (BX), CX
	CMPL CX, (R13)
	JNE  probenext
	MOVL -4(BX)(DX*1), CX
	CMPL CX, -4(R13)(DX*1)
	JNE  probenext
	JMP  hit

eq3:
	// 1 to 3 bytes (an empty key has no bytes to compare): bytes 0,
	// n-1 and, for 3, 1.
	TESTQ DX, DX
	JZ   hit
	MOVB (BX), CX
	CMPB CX, (R13)
	JNE  probenext
	MOVB -1(BX)(DX*1), CX
	CMPB CX, -1(R13)(DX*1)
	JNE  probenext
	CMPQ DX, $3
	JNE  hit
	MOVB 1(BX), CX
	CMPB CX, 1(R13)
	JNE  probenext
	JMP  hit

eqlong:
	// In the counter's region of the arena, 16 bytes at a time, the last
	// 16 overlapping.
	MOVQ tkCounter_off(R9), R13
	ADDQ tkRun_arena(DI), R13
	XORQ CX, CX
	SUBQ $16, DX

eq16:
	MOVOU (BX)(CX*1), X0
	MOVOU (R13)(CX*1), X1
	PCMPEQB X1, X0
	PMOVMSKB X0, R9
	CMPL R9, $0xffff
	JNE  probenext
	ADDQ $16, CX
	CMPQ CX, DX
	JLT  eq16
	MOVOU (BX)(DX*1), X0
	MOVOU (R13)(DX*1), X1
	PCMPEQB X1, X0
	PMOVMSKB X0, R9
	CMPL R9, $0xffff
	JNE  probenext
	// R9 no longer holds the counter: find it again.
	MOVL (R14), R9
	DECQ R9
	SHLQ $6, R9
	ADDQ R10, R9

hit:
	// The key is tracked, in counter R9: the common cases of raise, a
	// count that neither leaves the minimum nor reaches a listed level
	// (a new count and stamp), and one that leaves the minimum for the
	// next level; any other goes through AddHash.
	MOVQ tkCounter_count(R9), CX
	CMPQ CX, $-1
	JEQ  done
	CMPQ CX, tkRun_minc(DI)
	JEQ  hitmin
	CMPQ CX, tkRun_lim(DI)
	JLO  done
	INCQ CX
	MOVQ CX, tkCounter_count(R9)
	MOVQ tkRun_seq(DI), CX
	MOVQ CX, tkCounter_stamp(R9)
	INCQ CX
	MOVQ CX, tkRun_seq(DI)
	INCQ tkRun_total(DI)
	INCQ SI
	JMP  loop

hitmin:
	// A hit on a counter at the minimum count, which leaves it, as raise
	// does: to the end of next, one fewer at the minimum (the loop's
	// checks left at least one there, and room in next).
	INCQ CX
	MOVQ CX, tkCounter_count(R9)
	MOVQ tkRun_seq(DI), AX
	MOVQ AX, tkCounter_stamp(R9)
	MOVQ tkRun_nextLen(DI), CX
	SHLQ $4, CX
	ADDQ tkRun_next(DI), CX    // CX = &next[len(next)]
	MOVQ AX, tkRef_stamp(CX)
	MOVQ R9, BX
	SUBQ R10, BX
	SHRQ $6, BX                // the counter's index
	MOVL BX, tkRef_i(CX)
	INCQ AX
	MOVQ AX, tkRun_seq(DI)
	INCQ tkRun_nextLen(DI)
	DECQ tkRun_atMin(DI)
	INCQ tkRun_total(DI)
	INCQ SI
	JMP  loop

empty:
	// The key (an empty one goes through AddHash).
	MOVQ keys+16(FP), BX
	LEAQ (SI)(SI*2), CX
	MOVQ 8(BX)(CX*8), DX       // DX = len(key)
	MOVQ (BX)(CX*8), R9        // R9 = &key[0]
	TESTQ DX, DX
	JZ   done                  // an empty key: AddHash

	// popMin, when the first entry of q is live; and a count that can
	// rise. q holds the atMin >= 2 counters at the minimum from qh on, so
	// qh is within it; checked all the same, as popMin's index is, so that
	// a broken invariant cannot read past q.
	CMPQ R12, tkRun_qLen(DI)
	JHS  done
	MOVQ R12, CX
	SHLQ $4, CX
	ADDQ R11, CX               // CX = &q[qh]
	MOVLQSX tkRef_i(CX), BX    // BX = v
	MOVQ tkRef_stamp(CX), CX
	MOVQ BX, R13
	SHLQ $6, R13
	ADDQ R10, R13              // R13 = &counters[v]
	CMPQ tkCounter_stamp(R13), CX
	JNE  done
	MOVQ tkCounter_count(R13), CX // CX = m
	CMPQ CX, $-1
	JEQ  done
	// A key longer than tkInline goes in the counter's region of the
	// arena, if it fits (storeKey moves it otherwise).
	CMPQ DX, $const_tkInline
	JLS  update
	CMPQ DX, $0x7fffffff
	JHI  done
	CMPL DX, tkCounter_kcap(R13)
	JHI  done

update:
	// The update.
	SHLQ $32, AX
	LEAQ 1(AX)(BX*1), AX
	MOVQ AX, (R14)             // table[slot] = tag<<32 | v+1
	MOVQ hs+8(FP), AX
	MOVQ (AX)(SI*8), AX
	MOVQ AX, tkCounter_hash(R13)
	MOVQ CX, tkCounter_err(R13)
	MOVL DX, tkCounter_klen(R13)
	CMPQ DX, $const_tkInline
	JHI  long
	LEAQ tkCounter_inline(R13), R14
	CMPQ DX, $8
	JLT  short
	MOVQ (R9), AX
	MOVQ AX, (R14)
	MOVQ -8(R9)(DX*1), AX
	MOVQ AX, -8(R14)(DX*1)
	JMP  copied

short:
	CMPQ DX, $4
	JLT  tiny
	MOVL (R9), AX
	MOVL AX, (R14)
	MOVL -4(R9)(DX*1), AX
	MOVL AX, -4(R14)(DX*1)
	JMP  copied

tiny:
	// 1 to 3 bytes: 0, n-1 and, for 3, 1.
	MOVB (R9), AX
	MOVB AX, (R14)
	MOVB -1(R9)(DX*1), AX
	MOVB AX, -1(R14)(DX*1)
	CMPQ DX, $3
	JNE  copied
	MOVB 1(R9), AX
	MOVB AX, 1(R14)
	JMP  copied

long:
	// 16 bytes at a time, the last 16 overlapping: only key bytes are
	// written, within the region.
	MOVQ tkCounter_off(R13), R14
	ADDQ tkRun_arena(DI), R14
	XORQ AX, AX
	SUBQ $16, DX

copy16:
	MOVOU (R9)(AX*1), X0
	MOVOU X0, (R14)(AX*1)
	ADDQ $16, AX
	CMPQ AX, DX
	JLT  copy16
	MOVOU (R9)(DX*1), X0
	MOVOU X0, (R14)(DX*1)

copied:
	INCQ CX
	MOVQ CX, tkCounter_count(R13)
	MOVQ tkRun_seq(DI), AX
	MOVQ AX, tkCounter_stamp(R13)
	MOVQ tkRun_nextLen(DI), CX
	SHLQ $4, CX
	ADDQ tkRun_next(DI), CX    // CX = &next[len(next)]
	MOVQ AX, tkRef_stamp(CX)
	MOVL BX, tkRef_i(CX)
	INCQ AX
	MOVQ AX, tkRun_seq(DI)
	INCQ tkRun_nextLen(DI)
	INCQ R12
	DECQ tkRun_atMin(DI)
	INCQ tkRun_stale(DI)
	INCQ tkRun_total(DI)
	INCQ SI
	JMP  loop

done:
	MOVQ R12, tkRun_qh(DI)
	MOVQ SI, ret+32(FP)
	RET
