package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// dedup runs one worker: its output is the input's lines, in order. Its
// answer (a summary) goes to stderr: always with --format json or csv, in
// text only to warn that the filter is past its capacity.
func setupDedup(e *env, o *options, args []string) (*spec, error) {
	o.jobs = 1
	capacity, fp := o.capacity, o.fpRate
	if _, err := sketch.NewBloom(capacity, fp); err != nil {
		return nil, usagef("--capacity %d --fp-rate %v: %v", capacity, fp, err)
	}
	op := &dedupOp{field: o.field, delim: o.delim, w: bufio.NewWriterSize(e.stdout, 64<<10)}
	op.bloom, _ = sketch.NewBloom(capacity, fp)
	return &spec{
		cmd: "dedup", args: args, opts: o,
		line:   pipeline.LineConfig{}, // whole lines: the output needs them
		newOp:  func(int) (pipeline.Operator, error) { return op, nil },
		newAgg: func() aggregate { return &dedupAgg{capacity: capacity, target: fp} },
		out:    e.stderr,
		show: func(a aggregate, _ counts) bool {
			d := a.(*dedupAgg)
			return o.format != "text" || d.bloom.EstimatedFPRate() > d.target
		},
		extraCounts: func(*pipeline.Pipeline) counts { return counts{Skipped: op.skipped} },
	}, nil
}

// dedupOp passes on the first occurrence of each key: it writes the line to
// w when the Bloom filter has not seen the key, flushing after every batch
// so that a live stream's lines come out as they go in.
type dedupOp struct {
	bloom   *sketch.Bloom
	field   int
	delim   pipeline.Delimiter
	w       *bufio.Writer
	passed  uint64
	skipped uint64
}

func (o *dedupOp) Process(in, _ *pipeline.Batch) error {
	for i := range in.Records {
		line := in.Key(i)
		h := in.Records[i].Hash
		if o.field > 0 {
			key, ok := pipeline.Field(line, o.field, o.delim)
			if !ok {
				o.skipped++
				continue
			}
			h = sketch.Hash(key)
		}
		if o.bloom.TestAndAddHash(h) {
			continue
		}
		o.passed++
		o.w.Write(line)
		o.w.WriteByte('\n')
	}
	return o.w.Flush()
}

type dedupAgg struct {
	bloom    *sketch.Bloom
	capacity uint64
	target   float64
	passed   uint64
}

func (a *dedupAgg) addOp(op pipeline.Operator) error {
	d := op.(*dedupOp)
	a.passed += d.passed
	if a.bloom == nil {
		a.bloom = d.bloom.Clone()
		return nil
	}
	return a.bloom.Merge(d.bloom)
}

func (a *dedupAgg) merge(o aggregate) error {
	b := o.(*dedupAgg)
	if err := a.bloom.Merge(b.bloom); err != nil {
		return err
	}
	a.passed += b.passed
	return nil
}

func (a *dedupAgg) appendState(dst []byte) ([]byte, error) {
	dst = binary.AppendUvarint(dst, a.capacity)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.target))
	dst = binary.AppendUvarint(dst, a.passed)
	return a.bloom.AppendBinary(dst)
}

func decodeDedup(body []byte) (aggregate, error) {
	r := envelope.NewReader(body)
	a := &dedupAgg{capacity: readUvarint(r), target: math.Float64frombits(r.U64()), passed: readUvarint(r)}
	if r.Err != nil || !(a.target > 0 && a.target < 1) {
		return nil, fmt.Errorf("dedup state: %w", sketch.ErrCorrupt)
	}
	a.bloom = new(sketch.Bloom)
	if err := a.bloom.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return nil, err
	}
	return a, nil
}

type dedupJSON struct {
	Records      uint64  `json:"records"`
	Passed       uint64  `json:"passed"`
	Skipped      uint64  `json:"skipped"`
	Shed         uint64  `json:"shed"`
	Distinct     uint64  `json:"distinct"`
	Lower        uint64  `json:"lower"`
	Upper        uint64  `json:"upper"`
	FPRate       float64 `json:"fp_rate"`
	TargetFPRate float64 `json:"target_fp_rate"`
	Capacity     uint64  `json:"capacity"`
}

func (a *dedupAgg) result(c counts) result {
	e := a.bloom.Estimate()
	j := dedupJSON{Records: c.Records, Passed: a.passed, Skipped: c.Skipped, Shed: c.Shed,
		Distinct: roundCount(e.Value), Lower: floorCount(e.Lower), Upper: ceilCount(e.Upper),
		FPRate: a.bloom.EstimatedFPRate(), TargetFPRate: a.target, Capacity: a.capacity}
	text := fmt.Sprintf("dedup: passed %d of %d records (%d skipped, %d shed); about %d distinct keys; false-positive rate %.3g (target %g up to %d keys)\n",
		j.Passed, j.Records, j.Skipped, j.Shed, j.Distinct, j.FPRate, j.TargetFPRate, j.Capacity)
	if j.FPRate > j.TargetFPRate {
		text += fmt.Sprintf("dedup: warning: the filter is past its capacity, so new keys are dropped more often than asked; rerun with --capacity %d or more\n",
			max(j.Upper, 2*j.Capacity))
	}
	return result{
		JSON:      j,
		CSVHeader: []string{"records", "passed", "skipped", "shed", "distinct", "lower", "upper", "fp_rate", "target_fp_rate", "capacity"},
		CSVRows: [][]string{{u(j.Records), u(j.Passed), u(j.Skipped), u(j.Shed), u(j.Distinct), u(j.Lower), u(j.Upper),
			fmtFloat(j.FPRate, true), fmtFloat(j.TargetFPRate, true), u(j.Capacity)}},
		Text: text,
	}
}
