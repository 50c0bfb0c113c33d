package main

import (
	"encoding/binary"
	"fmt"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// defaultGroupPrecision is --precision under distinct --by -k N: 2^14
// (group, value) pairs sampled per worker, about 1 MiB. 2^16 pairs halve
// the bounds' width but cost twice as much per record on a stream of
// many distinct pairs (BenchmarkGroupedDistinct: their tables no longer
// fit in cache, and four times as many records pass theta).
const defaultGroupPrecision = 14

func init() {
	decoders["distinct-by"] = decodeDistinctBy
}

// setupDistinctBy is distinct --by: -k N groups with the most distinct
// values, from one sketch.GroupDistinct of 2^precision pairs per worker
// (fixed memory), or -k 0, every group (group_all.go).
func setupDistinctBy(o *options, args []string) (*spec, error) {
	if o.k == 0 {
		return setupDistinctAll(o, args)
	}
	p, err := o.precisionOr(defaultGroupPrecision, 4, 24)
	if err != nil {
		return nil, err
	}
	k := o.k
	return &spec{
		cmd: "distinct", args: args, opts: o,
		dynamic: true, // the sketch is a function of the set of pairs
		line:    pipeline.LineConfig{Field: o.field, Delimiter: o.delim},
		newOp: func(int) (pipeline.Operator, error) {
			g, err := sketch.NewGroupDistinct(1 << p)
			return &pipeline.GroupDistinct{Sketch: g}, err
		},
		newAgg: func() aggregate {
			g, _ := sketch.NewGroupDistinct(1 << p)
			return &distinctByAgg{g: g, k: k}
		},
	}, nil
}

// distinctByAgg is the merged GroupDistinct and the number of groups to
// show.
type distinctByAgg struct {
	g *sketch.GroupDistinct
	k int
}

func (a *distinctByAgg) addOp(op pipeline.Operator) error {
	return a.g.Merge(op.(*pipeline.GroupDistinct).Sketch)
}

func (a *distinctByAgg) merge(o aggregate) error { return a.g.Merge(o.(*distinctByAgg).g) }

func (a *distinctByAgg) setK(k int) { a.k = k }

// appendState: uvarint k (groups shown), then the sketch's encoding.
func (a *distinctByAgg) appendState(dst []byte) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(a.k))
	return a.g.AppendBinary(dst)
}

func decodeDistinctBy(body []byte) (aggregate, error) {
	r := envelope.NewReader(body)
	k := r.MinimalUvarint()
	if r.Err != nil || k < 1 || k > 1<<20 {
		return nil, fmt.Errorf("distinct --by state: k %d: %w", k, sketch.ErrCorrupt)
	}
	g := new(sketch.GroupDistinct)
	if err := g.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return nil, err
	}
	return &distinctByAgg{g: g, k: int(k)}, nil
}

type groupDistinctJSON struct {
	jsonKey
	truncJSON
	Distinct uint64 `json:"distinct"`
	Lower    uint64 `json:"lower"`
	Upper    uint64 `json:"upper"`
	Exact    bool   `json:"exact"`
	// Retained is the number of the group's pairs in the sample, what
	// its estimate rests on.
	Retained int `json:"retained,omitempty"`
}

type distinctByJSON struct {
	Groups     []groupDistinctJSON `json:"groups"`
	Confidence float64             `json:"confidence"`
	Exact      bool                `json:"exact"`
	Records    uint64              `json:"records"`
	Skipped    uint64              `json:"skipped"`
	Shed       uint64              `json:"shed"`
	// SampleSize is the number of (group, value) pairs the sketch keeps;
	// Theta the fraction of all distinct pairs it holds (1: all).
	SampleSize int     `json:"sample_size"`
	Theta      float64 `json:"theta"`
	// GroupsHeld is the number of groups with a pair in the sample.
	GroupsHeld int `json:"groups_held"`
	// UnlistedMax bounds (at the confidence) the distinct values of
	// every group not listed.
	UnlistedMax uint64 `json:"unlisted_max"`
}

func (a *distinctByAgg) result(c counts) result {
	gs := a.g.Top(a.k + 1)
	// A group not listed has at most the upper bound of the (k+1)-th,
	// or of a group with no pair held.
	unl := a.g.EstimateHashAt(0, sketch.DefaultConfidence) // no group has hash 0 but by chance
	unlisted := ceilCount(unl.Upper)
	if a.g.Exact() {
		unlisted = 0
	}
	if len(gs) > a.k {
		unlisted = max(unlisted, ceilCount(gs[a.k].Estimate.Upper))
		gs = gs[:a.k]
	}
	j := distinctByJSON{Groups: []groupDistinctJSON{}, Confidence: sketch.DefaultConfidence, Exact: a.g.Exact(),
		Records: c.Records, Skipped: c.Skipped, Shed: c.Shed,
		SampleSize: a.g.K(), Theta: a.g.Theta(), GroupsHeld: a.g.Groups(), UnlistedMax: unlisted}
	res := result{CSVHeader: []string{"rank", "group", "distinct", "lower", "upper", "exact", "retained",
		"records", "skipped", "shed", "theta", "groups_held", "unlisted_max"}}
	totals := []string{u(c.Records), u(c.Skipped), u(c.Shed), fmtFloat(j.Theta, true), fmt.Sprint(j.GroupsHeld), u(unlisted)}
	var t table
	t.add("rank", "distinct", "lower", "upper", "group")
	for i, g := range gs {
		e := g.Estimate
		gj := groupDistinctJSON{Distinct: roundCount(e.Value), Lower: floorCount(e.Lower), Upper: ceilCount(e.Upper),
			Exact: e.Exact, Retained: g.Retained}
		key := showKey(string(g.Key))
		gj.jsonKey, gj.truncJSON = key.json()
		j.Groups = append(j.Groups, gj)
		res.CSVRows = append(res.CSVRows, append([]string{fmt.Sprint(i + 1), key.csv(), u(gj.Distinct), u(gj.Lower), u(gj.Upper),
			fmt.Sprint(gj.Exact), fmt.Sprint(gj.Retained)}, totals...))
		t.add(fmt.Sprint(i+1), u(gj.Distinct), u(gj.Lower), u(gj.Upper), key.text())
	}
	if len(gs) == 0 {
		res.CSVRows = [][]string{append(make([]string, 7), totals...)}
	}
	res.JSON = j
	how := "every count is exact"
	if !j.Exact {
		how = fmt.Sprintf("%g%% bounds from a sample of %d of the distinct (group, value) pairs (theta %.3g)",
			100*j.Confidence, j.SampleSize, j.Theta)
	}
	res.Text = t.String() + countsLine(c, false) + "\n" +
		fmt.Sprintf("%d groups seen in the sample; %s; %s\n", j.GroupsHeld, how, unlistedGroupsText(unlisted, j.Exact))
	return res
}

func unlistedGroupsText(n uint64, exact bool) string {
	switch {
	case n == 0:
		return "no group is left out"
	case exact:
		return fmt.Sprintf("groups not listed have at most %d distinct values", n)
	}
	return fmt.Sprintf("groups not listed have at most %d distinct values (upper bound)", n)
}
