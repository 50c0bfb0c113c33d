package sketch

import (
	"encoding/binary"
	"math/bits"

	"github.com/axiomhq/hyperloglog"
)

// Merge adds the items of o to h, so that h estimates the distinct count of
// the union. Sketches of different precision merge too: the finer one is
// folded down to the coarser precision first (exactly: the folded registers
// equal those a sketch at the coarser precision would hold), and h takes the
// coarser precision. o is not modified, so one o may be merged into several
// sketches concurrently. A nil or zero-value o is empty: merging it changes
// nothing, not even h's precision.
func (h *HLL) Merge(o *HLL) error {
	h.init()
	if o == nil || o.sk == nil {
		return nil
	}
	switch {
	case h.p == o.p:
		return h.sk.Merge(o.sk)
	case h.p < o.p:
		return h.sk.Merge(fold(o.sk, o.p, h.p))
	default:
		h.sk = fold(h.sk, h.p, o.p)
		h.p = o.p
		return h.sk.Merge(o.sk)
	}
}

// fold returns a dense sketch at precision to holding the items of sk, which
// has the finer precision from.
//
// A hash's coarse index is the top `to` bits of its fine index i; the next
// d = from-to bits of i are the first bits the coarse rank counts. If they are
// not all zero, the coarse rank is their leading zeros plus one, whatever the
// fine register held; if they are, the coarse rank continues into the fine
// rank: d + register.
func fold(sk *hyperloglog.Sketch, from, to uint8) *hyperloglog.Sketch {
	dense, _ := hyperloglog.NewSketch(from, false)
	_ = dense.Merge(sk) // same precision: cannot fail
	enc, _ := dense.MarshalBinary()
	fine := enc[8:]
	d := from - to
	m := uint32(1) << to
	out := make([]byte, 8+m)
	out[0], out[1] = 2, to // axiomhq version 2, dense
	binary.BigEndian.PutUint32(out[4:], m)
	coarse := out[8:]
	lowMask := uint32(1)<<d - 1
	for i, v := range fine {
		if v == 0 {
			continue
		}
		low := uint32(i) & lowMask
		var r uint8
		if low != 0 {
			r = uint8(bits.LeadingZeros32(low)-(32-int(d))) + 1
		} else {
			r = d + v
		}
		j := uint32(i) >> d
		coarse[j] = max(coarse[j], r)
	}
	res := new(hyperloglog.Sketch)
	if err := res.UnmarshalBinary(out); err != nil {
		panic(err) // the registers above are valid by construction
	}
	return res
}
