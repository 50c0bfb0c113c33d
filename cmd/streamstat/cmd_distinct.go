package main

import (
	"fmt"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

func setupDistinct(o *options, args []string) (*spec, error) {
	p, err := o.precisionOr(sketch.DefaultPrecision, sketch.MinPrecision, sketch.MaxPrecision)
	if err != nil {
		return nil, err
	}
	return &spec{
		cmd: "distinct", args: args, opts: o,
		dynamic: true, // HLL merges are exact: no worker order matters
		line:    pipeline.LineConfig{Field: o.field, Delimiter: o.delim},
		newOp: func(int) (pipeline.Operator, error) {
			h, err := sketch.NewHLL(p)
			return &pipeline.Distinct{HLL: h}, err
		},
		newAgg: func() aggregate {
			h, _ := sketch.NewHLL(p)
			return &distinctAgg{hll: h}
		},
	}, nil
}

// distinctAgg is the merged HLL.
type distinctAgg struct{ hll *sketch.HLL }

func (a *distinctAgg) addOp(op pipeline.Operator) error {
	return a.hll.Merge(op.(*pipeline.Distinct).HLL)
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
}

func (a *distinctAgg) result(c counts) result {
	e := a.hll.Estimate()
	j := distinctJSON{
		Distinct: roundCount(e.Value), Lower: floorCount(e.Lower), Upper: ceilCount(e.Upper),
		Confidence: e.Confidence, Exact: e.Exact,
		Records: c.Records, Skipped: c.Skipped, Shed: c.Shed, Precision: a.hll.Precision(),
	}
	bounds := "(exact)"
	if !e.Exact {
		bounds = fmt.Sprintf("(%g%% bounds %d .. %d)", 100*e.Confidence, j.Lower, j.Upper)
	}
	return result{
		JSON:      j,
		CSVHeader: []string{"distinct", "lower", "upper", "confidence", "exact", "records", "skipped", "shed"},
		CSVRows: [][]string{{u(j.Distinct), u(j.Lower), u(j.Upper), fmtFloat(j.Confidence, true), fmt.Sprint(j.Exact),
			u(c.Records), u(c.Skipped), u(c.Shed)}},
		Text: kv("distinct", fmt.Sprintf("%d  %s", j.Distinct, bounds),
			"records", u(c.Records), "skipped", u(c.Skipped), "shed", u(c.Shed)),
	}
}
