package pipeline

import "math/bits"

// MaxRegisters raises each dense HLL register regs[j] (len 2^p) to the
// rank of the hashes of recs that fall in it: index j = the top p bits,
// rank = leading zeros of (hash<<p | 1<<(p-1)) + 1, axiomhq/hyperloglog's
// mapping (getPosVal), so that folding the registers into a sketch.HLL
// (one synthetic hash per register) gives the registers that adding every
// hash would. It is the dense loop of the CLI's distinct operator and of a
// window's distinct slot: one compare per record instead of a call into
// the sketch. At p = 14, the default, the registers are an array, so the
// compiler drops the bounds check and max stores without a branch on the
// data. It allocates nothing.
func MaxRegisters(regs []uint8, p uint8, recs []Record) {
	if p == 14 && len(regs) == 1<<14 {
		maxRegisters14((*[1 << 14]uint8)(regs), recs)
		return
	}
	shift := 64 - p
	guard := uint64(1) << (p - 1)
	for i := range recs {
		x := recs[i].Hash
		r := uint8(bits.LeadingZeros64(x<<p|guard)) + 1
		if j := x >> shift; r > regs[j] {
			regs[j] = r
		}
	}
}

// maxRegisters14 is MaxRegisters at p = 14.
func maxRegisters14(regs *[1 << 14]uint8, recs []Record) {
	const p = 14
	for i := range recs {
		x := recs[i].Hash
		r := uint8(bits.LeadingZeros64(x<<p|1<<(p-1))) + 1
		j := x >> (64 - p)
		regs[j] = max(regs[j], r)
	}
}
