package main

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/job"
	"github.com/streamstat/streamstat/sketch"
)

func setupDistinct(o *options, args []string) (*spec, error) {
	if o.by.on() {
		return setupDistinctBy(o, args)
	}
	p, err := o.precisionOr(sketch.DefaultPrecision, sketch.MinPrecision, sketch.MaxPrecision)
	if err != nil {
		return nil, err
	}
	if o.shed.on {
		return shedDistinctSpec(o, args, p)
	}
	return &spec{
		cmd: "distinct", args: args, opts: o,
		dynamic: true, // HLL merges are exact: no worker order matters
		line:    distinctLine(o),
		newOp:   func(int) (pipeline.Operator, error) { return newDistinctOp(p) },
		newAgg:  func() aggregate { return newDistinctAgg(p) },
	}, nil
}

// distinctLine is how distinct reads lines, with or without --shed: the
// HLL (and key-hash shedding) read hashes only, so no key bytes are
// copied (HashOnly).
func distinctLine(o *options) pipeline.LineConfig {
	return pipeline.LineConfig{Field: o.field, Delimiter: o.delim, HashOnly: true}
}

// newDistinctOp returns a worker's operator at precision p (checked).
func newDistinctOp(p int) (*distinctOp, error) {
	h, err := sketch.NewHLL(p)
	return &distinctOp{hll: h, p: uint8(p), nextCheck: firstDenseCheck}, err
}

func newDistinctAgg(p int) *distinctAgg {
	h, _ := sketch.NewHLL(p)
	return &distinctAgg{hll: h}
}

// distinctAgg is the merged HLL.
type distinctAgg struct{ hll *sketch.HLL }

func (a *distinctAgg) addOp(op pipeline.Operator) error {
	d := op.(*distinctOp)
	d.fold()
	return a.hll.Merge(d.hll)
}

func (a *distinctAgg) merge(o aggregate) error { return a.hll.Merge(o.(*distinctAgg).hll) }

func (a *distinctAgg) appendState(dst []byte) ([]byte, error) { return a.hll.AppendBinary(dst) }

func decodeDistinct(body []byte) (aggregate, error) {
	h := new(sketch.HLL)
	if err := h.UnmarshalBinary(body); err != nil {
		return nil, err
	}
	return &distinctAgg{hll: h}, nil
}

type distinctJSON struct {
	Distinct   uint64  `json:"distinct"`
	Lower      uint64  `json:"lower"`
	Upper      uint64  `json:"upper"`
	Confidence float64 `json:"confidence"`
	Exact      bool    `json:"exact"`
	Records    uint64  `json:"records"`
	Skipped    uint64  `json:"skipped"`
	Shed       uint64  `json:"shed"`
	Precision  int     `json:"precision"`
	// Saturated: every register is at its maximum, so the sketch cannot
	// tell how many keys it saw beyond Lower (see sketch.HLL.Saturated).
	Saturated bool `json:"saturated,omitempty"`
}

func (a *distinctAgg) result(c counts) result {
	j, bounds := a.answer(a.hll.Estimate(), c)
	return result{
		JSON:      j,
		CSVHeader: []string{"distinct", "lower", "upper", "confidence", "exact", "records", "skipped", "shed", "precision", "saturated"},
		CSVRows: [][]string{{u(j.Distinct), u(j.Lower), u(j.Upper), fmtFloat(j.Confidence, true), fmt.Sprint(j.Exact),
			u(c.Records), u(c.Skipped), u(c.Shed), fmt.Sprint(j.Precision), fmt.Sprint(j.Saturated)}},
		Text: kv("distinct", fmt.Sprintf("%d  %s", j.Distinct, bounds),
			"records", u(c.Records), "skipped", u(c.Skipped), "shed", u(c.Shed)),
	}
}

// answer returns the JSON of e, an estimate read from the merged HLL, and
// its bounds as text.
func (a *distinctAgg) answer(e sketch.Estimate, c counts) (distinctJSON, string) {
	j := distinctJSON{
		Distinct: roundCount(e.Value), Lower: floorCount(e.Lower), Upper: ceilCount(e.Upper),
		Confidence: e.Confidence, Exact: e.Exact,
		Records: c.Records, Skipped: c.Skipped, Shed: c.Shed, Precision: a.hll.Precision(),
		Saturated: a.hll.Saturated(),
	}
	// A saturated sketch's upper bound is 2^64: no more keys than keyed
	// records is tighter, and certain (where the counts agree with the
	// sketch: a state file's may not).
	if keyed := c.Records - min(c.Records, c.Skipped); j.Saturated && keyed >= j.Distinct && keyed < j.Upper {
		j.Upper = keyed
	}
	bounds := "(exact)"
	switch {
	case j.Saturated:
		bounds = fmt.Sprintf("(saturated: at least %d with %g%% confidence; the sketch cannot tell more)", j.Lower, 100*e.Confidence)
	case !e.Exact:
		bounds = fmt.Sprintf("(%g%% bounds %d .. %d)", 100*e.Confidence, j.Lower, j.Upper)
	}
	return j, bounds
}

// firstDenseCheck is the number of records after which distinctOp first
// asks whether its HLL has turned dense; it then asks after twice as many,
// and so on, so a sketch that stays sparse costs a few checks in all.
const firstDenseCheck = 1 << 14

// distinctOp is pipeline.Distinct with a faster dense phase. While the HLL
// is sparse, records go to it as usual. Once it is dense, its registers are
// maxima of the (index, rank) pairs of the hashes, so the operator keeps
// those maxima in a plain array instead, one compare per record rather
// than three calls, and folds them into the HLL when asked (fold), with
// one synthetic hash per register that has the same (index, rank). The
// HLL's registers are then exactly those it would hold had every record
// gone to it (pipeline.MaxRegisters): answers do not change, only their
// cost (a test checks the encodings are equal). The mapping is axiomhq/hyperloglog's getPosVal:
// index = top p bits, rank = leading zeros of (x<<p | 1<<(p-1)) + 1.
type distinctOp struct {
	hll       *sketch.HLL
	p         uint8
	regs      []uint8 // nil while the HLL is sparse
	seen      int     // records given to the sparse HLL
	nextCheck int
	scratch   []byte
}

// hllDenseShape is the offset of shape[1] in an HLL encoding: 1 once the
// sketch is dense (see sketch/hll_encoding.go).
const hllDenseShape = 16 + 8

func (o *distinctOp) Process(in, _ *pipeline.Batch) error {
	recs := in.Records
	if o.regs == nil {
		for i := range recs {
			o.hll.AddHash(recs[i].Hash)
		}
		if o.seen += len(recs); o.seen >= o.nextCheck {
			o.nextCheck *= 2
			o.scratch, _ = o.hll.AppendBinary(o.scratch[:0])
			if len(o.scratch) > hllDenseShape && o.scratch[hllDenseShape] == 1 {
				o.regs = make([]uint8, 1<<o.p)
			}
		}
		return nil
	}
	pipeline.MaxRegisters(o.regs, o.p, recs)
	return nil
}

// fold adds the registers kept since the last fold to the HLL.
func (o *distinctOp) fold() {
	for j, r := range o.regs {
		if r > 0 {
			o.hll.AddHash(registerHash(uint64(j), r, o.p))
		}
	}
	clear(o.regs)
}

// registerHash returns a hash whose (index, rank) is (j, r) at precision p:
// index bits on top, then r-1 zeros and a one (no one at the maximum rank,
// 65-p, where the guard bit sets the rank).
func registerHash(j uint64, r uint8, p uint8) uint64 {
	x := j << (64 - p)
	if int(r) <= 64-int(p) {
		x |= 1 << (64 - int(p) - int(r))
	}
	return x
}

// MarshalBinary implements pipeline.Stateful for checkpoints: the
// registers kept aside are folded into the HLL first (a no-op for the
// answer), then come the dense flag, the records seen and the next
// density check, and the HLL.
func (o *distinctOp) MarshalBinary() ([]byte, error) {
	o.fold()
	dense := uint64(0)
	if o.regs != nil {
		dense = 1
	}
	dst := binary.AppendUvarint(nil, dense)
	dst = binary.AppendUvarint(dst, uint64(o.seen))
	dst = binary.AppendUvarint(dst, uint64(o.nextCheck))
	return o.hll.AppendBinary(dst)
}

// UnmarshalBinary implements pipeline.Stateful; o must come from the
// same setupDistinct.
func (o *distinctOp) UnmarshalBinary(data []byte) error {
	if _, _, err := envelope.Decode(data, envelope.KindTheta); err == nil {
		// Before, distinct --shed counted in a theta sketch (a
		// shedding.Distinct), and its checkpoints hold that.
		return fmt.Errorf("the checkpoint holds the theta sketch of an earlier streamstat's distinct --shed, which now counts in an HLL: resume it with that version, or start over: %w: %w", job.ErrOtherJob, sketch.ErrKind)
	}
	r := envelope.NewReader(data)
	dense, seen, next := r.MinimalUvarint(), r.MinimalUvarint(), r.MinimalUvarint()
	if r.Err != nil || dense > 1 || seen > math.MaxInt/2 || next < firstDenseCheck || next > math.MaxInt/2 {
		return fmt.Errorf("distinct state: %w", sketch.ErrCorrupt)
	}
	h := new(sketch.HLL)
	if err := h.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return err
	}
	if h.Precision() != int(o.p) {
		return fmt.Errorf("distinct state: precision %d, want %d: %w", h.Precision(), o.p, sketch.ErrIncompatible)
	}
	o.hll, o.seen, o.nextCheck = h, int(seen), int(next)
	o.regs = nil
	if dense == 1 {
		o.regs = make([]uint8, 1<<o.p)
	}
	return nil
}
