package main

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

func init() {
	decoders["stats-by"] = decodeStatsBy
}

// groupStatsCapacity is the Space-Saving counters of stats --by for k
// groups shown: at least 256, and 8 per group shown, so that the groups
// listed are rarely ones admitted late.
func groupStatsCapacity(k int) int {
	return min(max(pipeline.DefaultGroupStatsCapacity, 8*k), pipeline.MaxGroupStatsCapacity)
}

// setupStatsBy is stats -f N --by G: count, mean and quantiles of the -k
// groups with the most records, from one pipeline.GroupStats per worker.
func setupStatsBy(o *options, args []string) (*spec, error) {
	if o.field < 1 && o.st.keySpec == "" && o.st.valueJSON == "" {
		return nil, usagef("stats needs -f N, the field holding the numbers")
	}
	if o.k < 1 || o.k > pipeline.MaxGroupStatsCapacity {
		return nil, usagef("-k %d: stats --by lists 1 to %d groups", o.k, pipeline.MaxGroupStatsCapacity)
	}
	k, qs := o.k, o.quantiles
	c := groupStatsCapacity(k)
	return &spec{
		cmd: "stats", args: args, opts: o,
		line: pipeline.LineConfig{Field: o.field, ValueField: o.field, Delimiter: o.delim},
		newOp: func(int) (pipeline.Operator, error) {
			return &pipeline.GroupStats{Capacity: c}, nil
		},
		newAgg: func() aggregate { return &statsByAgg{gs: &pipeline.GroupStats{Capacity: c}, k: k, qs: qs} },
	}, nil
}

// statsByAgg is the merged GroupStats, the groups to show and the
// quantiles.
type statsByAgg struct {
	gs *pipeline.GroupStats
	k  int
	qs []float64
}

func (a *statsByAgg) addOp(op pipeline.Operator) error { return a.gs.Merge(op.(*pipeline.GroupStats)) }

func (a *statsByAgg) merge(o aggregate) error { return a.gs.Merge(o.(*statsByAgg).gs) }

func (a *statsByAgg) setK(k int) { a.k = min(k, pipeline.MaxGroupStatsCapacity) }

// appendState: uvarint k, the quantiles (uvarint n, n float64 bits),
// then the GroupStats state.
func (a *statsByAgg) appendState(dst []byte) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(a.k))
	dst = binary.AppendUvarint(dst, uint64(len(a.qs)))
	for _, q := range a.qs {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(q))
	}
	st, err := a.gs.MarshalBinary()
	return append(dst, st...), err
}

func decodeStatsBy(body []byte) (aggregate, error) {
	r := envelope.NewReader(body)
	k, n := r.MinimalUvarint(), r.MinimalUvarint()
	if r.Err != nil || k < 1 || k > pipeline.MaxGroupStatsCapacity || n > 64 || n > uint64(r.Len()/8) {
		return nil, fmt.Errorf("stats --by state: k %d, %d quantiles: %w", k, n, sketch.ErrCorrupt)
	}
	a := &statsByAgg{k: int(k), gs: new(pipeline.GroupStats)}
	for range n {
		q := math.Float64frombits(r.U64())
		if !(q >= 0 && q <= 1) {
			return nil, fmt.Errorf("stats --by state: quantile %v: %w", q, sketch.ErrCorrupt)
		}
		a.qs = append(a.qs, q)
	}
	if err := a.gs.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return nil, err
	}
	return a, nil
}

type groupStatJSON struct {
	jsonKey
	truncJSON
	Count uint64 `json:"count"`
	Lower uint64 `json:"count_lower"`
	// Late: the group was admitted after some of its records went
	// uncounted; its statistics cover the count_lower records since.
	Late      bool           `json:"late"`
	Mean      jfloat         `json:"mean"`
	StdDev    jfloat         `json:"stddev"`
	Min       jfloat         `json:"min"`
	Max       jfloat         `json:"max"`
	Quantiles []quantileJSON `json:"quantiles"`
}

type statsByJSON struct {
	Groups   []groupStatJSON `json:"groups"`
	Records  uint64          `json:"records"`
	Skipped  uint64          `json:"skipped"`
	Bad      uint64          `json:"bad"`
	Shed     uint64          `json:"shed"`
	Capacity int             `json:"capacity"`
	// UnlistedMax bounds the records of every group not held.
	UnlistedMax uint64 `json:"unlisted_max"`
}

func (a *statsByAgg) result(c counts) result {
	gs := a.gs.Top(a.k)
	j := statsByJSON{Groups: []groupStatJSON{}, Records: c.Records, Skipped: c.Skipped, Bad: c.Bad, Shed: c.Shed,
		Capacity: groupStatsCapacity(a.k), UnlistedMax: a.gs.UnlistedMax()}
	if a.gs.Capacity > 0 {
		j.Capacity = a.gs.Capacity
	}
	x := func(v jfloat) string {
		if math.IsNaN(float64(v)) {
			return ""
		}
		return fmtFloat(float64(v), true)
	}
	f := func(v jfloat) string {
		if math.IsNaN(float64(v)) {
			return "-"
		}
		return fmtFloat(float64(v), false)
	}
	header := []string{"rank", "group", "count", "count_lower", "late", "mean", "stddev", "min", "max"}
	for _, q := range a.qs {
		n := quantileLabel(q)
		header = append(header, n, n+"_lower", n+"_upper")
	}
	res := result{CSVHeader: append(header, "records", "skipped", "bad", "shed", "capacity", "unlisted_max")}
	totals := []string{u(c.Records), u(c.Skipped), u(c.Bad), u(c.Shed), fmt.Sprint(j.Capacity), u(j.UnlistedMax)}
	var t table
	th := []string{"rank", "count", "mean"}
	for _, q := range a.qs {
		th = append(th, quantileLabel(q))
	}
	t.add(append(th, "max", "group")...)
	late := 0
	for i, g := range gs {
		sa := statsAgg{mom: g.Moments, kll: g.Quantiles}
		gj := groupStatJSON{Count: g.Count, Lower: g.Lower, Late: g.Late,
			Mean: jfloat(g.Moments.Mean()), StdDev: jfloat(g.Moments.StdDev()),
			Min: jfloat(g.Moments.Min()), Max: jfloat(g.Moments.Max()), Quantiles: []quantileJSON{}}
		key := showKey(string(g.Key))
		gj.jsonKey, gj.truncJSON = key.json()
		row := []string{fmt.Sprint(i + 1), key.csv(), u(gj.Count), u(gj.Lower), fmt.Sprint(gj.Late),
			x(gj.Mean), x(gj.StdDev), x(gj.Min), x(gj.Max)}
		count := u(gj.Count)
		if g.Late {
			count = fmt.Sprintf("%d..%d*", gj.Lower, gj.Count)
			late++
		}
		tr := []string{fmt.Sprint(i + 1), count, f(gj.Mean)}
		for _, q := range a.qs {
			v, l, h := sa.quantile(q)
			gj.Quantiles = append(gj.Quantiles, quantileJSON{Q: q, Value: jfloat(v), Lower: jfloat(l), Upper: jfloat(h)})
			row = append(row, x(jfloat(v)), x(jfloat(l)), x(jfloat(h)))
			tr = append(tr, f(jfloat(v)))
		}
		t.add(append(tr, f(gj.Max), key.text())...)
		j.Groups = append(j.Groups, gj)
		res.CSVRows = append(res.CSVRows, append(row, totals...))
	}
	if len(gs) == 0 {
		res.CSVRows = [][]string{append(make([]string, len(header)), totals...)}
	}
	res.JSON = j
	note := "every group is counted from its first record"
	if late > 0 {
		note = "* admitted late: the count is a range, and the stats cover only its records since (the lower count)"
	}
	res.Text = t.String() + countsLine(c, true) + "\n" + note + "; " + unlistedGroupRecords(j.UnlistedMax) + "\n"
	return res
}

func unlistedGroupRecords(n uint64) string {
	if n == 0 {
		return "no group is left out of the summary"
	}
	return fmt.Sprintf("groups not held have at most %d records", n)
}

// check implements answerCheck as stats' does: with no numeric value,
// there are no statistics to give (exit 1); bad values are worth a
// warning.
func (a *statsByAgg) check(c counts) (warning string, err error) {
	switch {
	case c.Bad > 0 && a.gs.Total() == 0:
		return "", fmt.Errorf("stats: none of the %d values is a number (7, -2.5, 3e-4): no statistics; check -f and -d", c.Bad)
	case c.Bad > 0:
		return fmt.Sprintf("%d of %d values are not numbers and were left out", c.Bad, c.Bad+a.gs.Total()), nil
	}
	return "", nil
}
