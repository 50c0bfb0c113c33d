package sketch

import (
	"encoding/binary"
	"fmt"

	"github.com/axiomhq/hyperloglog"
)

// HLL precision limits. Precision p gives m = 2^p registers and a relative
// standard error of about 1.04/sqrt(m) once the sketch is dense: 0.81% at the
// default 14.
const (
	MinPrecision     = 4
	MaxPrecision     = 18
	DefaultPrecision = 14
)

// sparsePrecision is axiomhq/hyperloglog's sparse index width (pp in its
// source): while sparse, a sketch tracks which of 2^25 hash buckets are hit.
const sparsePrecision = 25

// HLL estimates the number of distinct items in a stream (HyperLogLog, with a
// sparse representation for small cardinalities). Storage and updates are
// github.com/axiomhq/hyperloglog's; the estimator and its bounds are ours (see
// Estimate).
//
// The zero value is an empty sketch at DefaultPrecision, ready to use. An HLL
// is not safe for concurrent use: even Estimate compacts internal state.
type HLL struct {
	sk  *hyperloglog.Sketch
	p   uint8
	buf []byte // scratch for reading axiomhq's documented encoding
}

// NewHLL returns an empty HLL with 2^precision registers; precision must be
// in [MinPrecision, MaxPrecision]. It is not needed for DefaultPrecision:
// the zero value HLL works, at that precision.
func NewHLL(precision int) (*HLL, error) {
	if precision < MinPrecision || precision > MaxPrecision {
		return nil, fmt.Errorf("sketch: HLL precision %d outside [%d, %d]: %w", precision, MinPrecision, MaxPrecision, ErrInvalidParameter)
	}
	h := &HLL{p: uint8(precision)}
	h.sk = newSparse(h.p)
	return h, nil
}

func newSparse(p uint8) *hyperloglog.Sketch {
	sk, err := hyperloglog.NewSketch(p, true)
	if err != nil {
		panic(err) // p was validated by every caller
	}
	return sk
}

func (h *HLL) init() {
	if h.sk == nil {
		if h.p == 0 {
			h.p = DefaultPrecision
		}
		h.sk = newSparse(h.p)
	}
}

// Precision returns p; the sketch has 2^p registers.
func (h *HLL) Precision() int {
	h.init()
	return int(h.p)
}

// AddHash adds an item by its 64-bit xxhash (see Hash). It does not allocate
// once the sketch is dense; while sparse, it allocates only when it compacts
// its buffer of recent hashes, amortized well below one allocation per call.
func (h *HLL) AddHash(x uint64) {
	if h.sk == nil {
		h.init()
	}
	h.sk.InsertHash(x)
}

// Add adds the item b.
func (h *HLL) Add(b []byte) { h.AddHash(Hash(b)) }

// AddString adds the item s.
func (h *HLL) AddString(s string) { h.AddHash(HashString(s)) }

// Reset empties the sketch, keeping its precision.
func (h *HLL) Reset() {
	h.init()
	h.sk = newSparse(h.p)
}

// Clone returns an independent copy of h.
func (h *HLL) Clone() *HLL {
	h.init()
	return &HLL{sk: h.sk.Clone(), p: h.p}
}

// state returns the m registers of a dense sketch (aliasing h.buf), or nil
// regs and, for a sparse one, compacted first, the number of distinct sparse
// keys, their encoded stream and the last key. Both read axiomhq's documented
// version 2 encoding, the only access it gives to its registers.
func (h *HLL) state() (regs []byte, keys uint32, sparseStream []byte, last uint32) {
	h.init()
	h.buf, _ = h.sk.AppendBinary(h.buf[:0])
	if h.buf[3] == 1 {
		// Compact the sparse buffer into the sorted list (this may turn
		// the sketch dense), then read again.
		h.sk.Estimate()
		h.buf, _ = h.sk.AppendBinary(h.buf[:0])
	}
	if h.buf[3] == 0 {
		return h.buf[8:], 0, nil, 0
	}
	// Sparse, compacted: [hdr 4][tmp set count 4 = 0][count 4][last 4][size 4][stream].
	b := h.buf[8:]
	count := binary.BigEndian.Uint32(b[0:])
	last = binary.BigEndian.Uint32(b[4:])
	return nil, count, b[12:], last
}
