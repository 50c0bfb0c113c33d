package main

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

func setupStats(o *options, args []string) (*spec, error) {
	if o.shed.on {
		return nil, noShed("stats")
	}
	if o.by.on() {
		return setupStatsBy(o, args)
	}
	if o.field < 1 && o.st.keySpec == "" && o.st.valueJSON == "" {
		return nil, usagef("stats needs -f N, the field holding the numbers")
	}
	qs := o.quantiles
	return &spec{
		cmd: "stats", args: args, opts: o,
		// The value field is also the key field, so that a line without
		// it is skipped and counted like in the other subcommands.
		// Stats reads values only: no key bytes are copied.
		line: pipeline.LineConfig{Field: o.field, ValueField: o.field, Delimiter: o.delim, HashOnly: true},
		newOp: func(i int) (pipeline.Operator, error) {
			// Each worker's KLL has its own seed, fixed by its index, so
			// runs are repeatable.
			q, err := sampling.NewKLL(0, uint64(i)+1)
			return &pipeline.Stats{Moments: new(sampling.Moments), Quantiles: q}, err
		},
		newAgg: func() aggregate { return &statsAgg{kll: new(sampling.KLL), qs: qs} },
	}, nil
}

// statsAgg is the merged moments and quantile sketch, and the quantiles
// to show.
type statsAgg struct {
	mom sampling.Moments
	kll *sampling.KLL
	qs  []float64
}

func (a *statsAgg) addOp(op pipeline.Operator) error {
	s := op.(*pipeline.Stats)
	a.mom.Merge(s.Moments)
	return a.kll.Merge(s.Quantiles)
}

func (a *statsAgg) merge(o aggregate) error {
	b := o.(*statsAgg)
	if err := a.kll.Merge(b.kll); err != nil {
		return err
	}
	a.mom.Merge(&b.mom)
	return nil
}

func (a *statsAgg) appendState(dst []byte) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(len(a.qs)))
	for _, q := range a.qs {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(q))
	}
	m, err := a.mom.MarshalBinary()
	if err != nil {
		return nil, err
	}
	dst = binary.AppendUvarint(dst, uint64(len(m)))
	dst = append(dst, m...)
	return a.kll.AppendBinary(dst)
}

func decodeStats(body []byte) (aggregate, error) {
	r := envelope.NewReader(body)
	n := r.MinimalUvarint()
	if n > uint64(r.Len()/8) {
		return nil, fmt.Errorf("stats state: %d quantiles in %d bytes: %w", n, r.Len(), sketch.ErrCorrupt)
	}
	a := &statsAgg{kll: new(sampling.KLL)}
	for range n {
		q := math.Float64frombits(r.U64())
		if !(q >= 0 && q <= 1) {
			return nil, fmt.Errorf("stats state: quantile %v: %w", q, sketch.ErrCorrupt)
		}
		a.qs = append(a.qs, q)
	}
	m := r.LenBytes()
	if r.Err != nil {
		return nil, fmt.Errorf("stats state: %w", r.Err)
	}
	if err := a.mom.UnmarshalBinary(m); err != nil {
		return nil, err
	}
	if err := a.kll.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return nil, err
	}
	return a, nil
}

type quantileJSON struct {
	Q     float64 `json:"q"`
	Value jfloat  `json:"value"`
	Lower jfloat  `json:"lower"`
	Upper jfloat  `json:"upper"`
}

type statsJSON struct {
	Count     uint64         `json:"count"`
	Mean      jfloat         `json:"mean"`
	MeanLower jfloat         `json:"mean_lower"`
	MeanUpper jfloat         `json:"mean_upper"`
	StdDev    jfloat         `json:"stddev"`
	Min       jfloat         `json:"min"`
	Max       jfloat         `json:"max"`
	Quantiles []quantileJSON `json:"quantiles"`
	Records   uint64         `json:"records"`
	Skipped   uint64         `json:"skipped"`
	Bad       uint64         `json:"bad"`
	Shed      uint64         `json:"shed"`
}

// quantileLabel names quantile q as a percentile: p50, p99.9.
func quantileLabel(q float64) string {
	return "p" + strconv.FormatFloat(math.Round(q*1e8)/1e6, 'g', -1, 64)
}

// quantile returns the q-quantile and its bounds, NaN when there is no
// value. The exact min and max are the 0- and 1-quantiles, and bound every
// other: where the rank interval [q-eps, q+eps] reaches an end, the bound
// is that end's exact value (the KLL may have compacted the extreme away).
func (a *statsAgg) quantile(q float64) (v, lo, hi float64) {
	if a.kll.Count() == 0 || a.mom.Count() == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	mn, mx := a.mom.Min(), a.mom.Max()
	switch q {
	case 0:
		return mn, mn, mn
	case 1:
		return mx, mx, mx
	}
	v, lo, hi = a.kll.QuantileBounds(q)
	eps := a.kll.RankError()
	if q-eps <= 0 {
		lo = mn
	}
	if q+eps >= 1 {
		hi = mx
	}
	clamp := func(x float64) float64 { return min(max(x, mn), mx) }
	return clamp(v), clamp(lo), clamp(hi)
}

// check implements answerCheck: with no numeric value, there are no
// statistics to give (exit 1); bad values are worth a warning.
func (a *statsAgg) check(c counts) (warning string, err error) {
	switch {
	case c.Bad > 0 && a.mom.Count() == 0:
		return "", fmt.Errorf("stats: none of the %d values is a number (7, -2.5, 3e-4): no statistics; check -f and -d", c.Bad)
	case c.Bad > 0:
		return fmt.Sprintf("%d of %d values are not numbers and were left out", c.Bad, c.Bad+a.mom.Count()), nil
	}
	return "", nil
}

func (a *statsAgg) result(c counts) result {
	mean, lo, hi := a.mom.MeanInterval(sketch.DefaultConfidence)
	j := statsJSON{
		Count: a.mom.Count(), Mean: jfloat(mean), MeanLower: jfloat(lo), MeanUpper: jfloat(hi),
		StdDev: jfloat(a.mom.StdDev()), Min: jfloat(a.mom.Min()), Max: jfloat(a.mom.Max()),
		Quantiles: []quantileJSON{}, Records: c.Records, Skipped: c.Skipped, Bad: c.Bad, Shed: c.Shed,
	}
	// Text rounds to 6 digits but for min and max, and quantiles known
	// exactly, which are exact inputs; a statistic there is none of (no values; the stddev of one)
	// is "-" in text, an empty cell in csv, null in json.
	f := func(v jfloat) string {
		if math.IsNaN(float64(v)) {
			return "-"
		}
		return fmtFloat(float64(v), false)
	}
	x := func(v jfloat) string {
		if math.IsNaN(float64(v)) {
			return ""
		}
		return fmtFloat(float64(v), true)
	}
	exact := func(v jfloat) string { return cmp.Or(x(v), "-") }
	meanText := f(j.Mean)
	if !math.IsNaN(lo) {
		meanText += fmt.Sprintf("  (95%% interval %s .. %s)", f(j.MeanLower), f(j.MeanUpper))
	}
	pairs := []string{"count", u(j.Count), "mean", meanText, "stddev", f(j.StdDev), "min", exact(j.Min), "max", exact(j.Max)}
	header := []string{"count", "mean", "mean_lower", "mean_upper", "stddev", "min", "max"}
	row := []string{u(j.Count), x(j.Mean), x(j.MeanLower), x(j.MeanUpper), x(j.StdDev), x(j.Min), x(j.Max)}
	for _, q := range a.qs {
		v, l, h := a.quantile(q)
		qj := quantileJSON{Q: q, Value: jfloat(v), Lower: jfloat(l), Upper: jfloat(h)}
		j.Quantiles = append(j.Quantiles, qj)
		name := quantileLabel(q)
		text := f(qj.Value)
		if q == 0 || q == 1 || (l == v && h == v) {
			// Known exactly (no bounds shown): every digit.
			text = exact(qj.Value)
		}
		if !math.IsNaN(v) && (l != v || h != v) {
			text += fmt.Sprintf("  (bounds %s .. %s)", f(qj.Lower), f(qj.Upper))
		}
		pairs = append(pairs, name, text)
		header = append(header, name, name+"_lower", name+"_upper")
		row = append(row, x(qj.Value), x(qj.Lower), x(qj.Upper))
	}
	return result{
		JSON:      j,
		CSVHeader: append(header, "records", "skipped", "bad", "shed"),
		CSVRows:   [][]string{append(row, u(c.Records), u(c.Skipped), u(c.Bad), u(c.Shed))},
		Text:      kv(pairs...) + countsLine(c, true) + "\n",
	}
}
