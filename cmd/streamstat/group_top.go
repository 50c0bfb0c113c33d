package main

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

func init() {
	decoders["top-by"] = decodeGroupTop
	decoders["freq-by"] = decodeGroupTop
}

// setupTopBy is top -f V --by G: the -k groups with the most records,
// each with its -k most frequent values, from a TopK of 2^P groups and
// one of 2^(P+2) (group, value) pairs per worker.
func setupTopBy(o *options, args []string) (*spec, error) {
	p, err := o.precisionOr(defaultTopPrecision, 4, 20)
	if err != nil {
		return nil, err
	}
	gc := max(1<<p, o.k)
	pc := min(4*gc, sketch.MaxTopKCapacity)
	if gc > sketch.MaxTopKCapacity {
		return nil, usagef("-k %d: at most %d", o.k, sketch.MaxTopKCapacity)
	}
	k := o.k
	newOp := func() *pipeline.GroupTop {
		g, _ := sketch.NewTopK(gc)
		q, _ := sketch.NewTopK(pc)
		return &pipeline.GroupTop{Groups: g, Pairs: q}
	}
	return &spec{
		cmd: "top", args: args, opts: o,
		line:   pipeline.LineConfig{Field: o.field, Delimiter: o.delim, MaxKeyLen: topMaxKey},
		newOp:  func(int) (pipeline.Operator, error) { return newOp(), nil },
		newAgg: func() aggregate { return &groupTopAgg{op: newOp(), k: k} },
	}, nil
}

// setupFreqBy is freq -f V --by G KEY...: the -k groups with the most
// records, and the count of each KEY within each, from a TopK of 2^12
// groups and a CountMin of the (group, value) pairs (width 2^P, as freq's).
func setupFreqBy(o *options, keys []string, newCM func() *sketch.CountMin) (*spec, error) {
	k := o.k
	gc := max(1<<defaultTopPrecision, k)
	if gc > sketch.MaxTopKCapacity {
		return nil, usagef("-k %d: at most %d", o.k, sketch.MaxTopKCapacity)
	}
	newOp := func() *pipeline.GroupTop {
		g, _ := sketch.NewTopK(gc)
		return &pipeline.GroupTop{Groups: g, Counts: newCM()}
	}
	return &spec{
		cmd: "freq", args: o.inFiles, opts: o,
		line:   pipeline.LineConfig{Field: o.field, Delimiter: o.delim, MaxKeyLen: topMaxKey},
		newOp:  func(int) (pipeline.Operator, error) { return newOp(), nil },
		newAgg: func() aggregate { return &groupTopAgg{op: newOp(), k: k, keys: keys} },
	}, nil
}

// groupTopAgg is the merged GroupTop, the groups to show and, for freq,
// the keys asked about.
type groupTopAgg struct {
	op   *pipeline.GroupTop
	k    int
	keys []string // freq: the values asked about
}

func (a *groupTopAgg) addOp(op pipeline.Operator) error { return a.op.Merge(op.(*pipeline.GroupTop)) }

func (a *groupTopAgg) merge(o aggregate) error {
	b := o.(*groupTopAgg)
	for _, k := range b.keys {
		if !slices.Contains(a.keys, k) {
			a.keys = append(a.keys, k)
		}
	}
	return a.op.Merge(b.op)
}

func (a *groupTopAgg) setK(k int) { a.k = k }

// appendState: uvarint k, the keys (uvarint n, then each after its
// uvarint length), then the GroupTop state.
func (a *groupTopAgg) appendState(dst []byte) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(a.k))
	dst = binary.AppendUvarint(dst, uint64(len(a.keys)))
	for _, k := range a.keys {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	st, err := a.op.MarshalBinary()
	return append(dst, st...), err
}

func decodeGroupTop(body []byte) (aggregate, error) {
	r := envelope.NewReader(body)
	k, n := r.MinimalUvarint(), r.MinimalUvarint()
	if r.Err != nil || k < 1 || k > sketch.MaxTopKCapacity || n > uint64(r.Len()) {
		return nil, fmt.Errorf("--by state: k %d, %d keys: %w", k, n, sketch.ErrCorrupt)
	}
	a := &groupTopAgg{k: int(k), op: new(pipeline.GroupTop)}
	for range n {
		l := r.MinimalUvarint()
		a.keys = append(a.keys, string(r.Bytes(int(min(l, uint64(r.Len()+1))))))
	}
	if r.Err != nil {
		return nil, fmt.Errorf("--by state: %w", r.Err)
	}
	if err := a.op.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return nil, err
	}
	return a, nil
}

type groupValueJSON struct {
	jsonKey
	truncJSON
	Count uint64 `json:"count"`
	Lower uint64 `json:"lower"`
	Upper uint64 `json:"upper"`
}

type groupTopJSON struct {
	jsonKey
	truncJSON
	Count      uint64           `json:"count"`
	Lower      uint64           `json:"lower"`
	Upper      uint64           `json:"upper"`
	Guaranteed bool             `json:"guaranteed"`
	Values     []groupValueJSON `json:"values"`
	// ValuesUnlistedMax (top) bounds the count of the group's values
	// not listed.
	ValuesUnlistedMax *uint64 `json:"values_unlisted_max,omitempty"`
}

type groupsTopJSON struct {
	Groups  []groupTopJSON `json:"groups"`
	Records uint64         `json:"records"`
	Skipped uint64         `json:"skipped"`
	Shed    uint64         `json:"shed"`
	// UnlistedMax bounds the records of every group not listed.
	UnlistedMax uint64 `json:"unlisted_max"`
	// Confidence (freq) is that of the values' lower bounds; upper
	// bounds are certain.
	Confidence float64 `json:"confidence,omitempty"`
}

func (a *groupTopAgg) result(c counts) result {
	gt := a.op.Groups
	items := gt.Top(a.k + 1)
	unlisted := gt.MinCount()
	if len(items) > a.k {
		unlisted = max(unlisted, items[a.k].Count)
		items = items[:a.k]
	}
	freq := a.op.Counts != nil
	j := groupsTopJSON{Groups: []groupTopJSON{}, Records: c.Records, Skipped: c.Skipped, Shed: c.Shed, UnlistedMax: unlisted}
	if freq {
		j.Confidence = 1 - a.op.Counts.Delta()
	}
	// Values of the pairs TopK by group, most first (Top's order).
	byGroup := map[string][]sketch.Item{}
	var pairBound uint64
	if a.op.Pairs != nil {
		pairBound = a.op.Pairs.MinCount()
		for _, it := range a.op.Pairs.Top(a.op.Pairs.Len()) {
			g, ok := pipeline.GroupOf([]byte(it.Key))
			if ok {
				byGroup[string(g)] = append(byGroup[string(g)], it)
			}
		}
	}
	res := result{CSVHeader: []string{"rank", "group", "value", "count", "lower", "upper", "records", "skipped", "shed", "unlisted_max"}}
	totals := []string{u(c.Records), u(c.Skipped), u(c.Shed), u(unlisted)}
	var t table
	t.add("rank", "count", "lower", "upper", "group / value")
	for i, it := range items {
		gk := showKey(it.Key)
		gj := groupTopJSON{Count: it.Count, Lower: it.Lower, Upper: it.Upper, Guaranteed: it.Guaranteed, Values: []groupValueJSON{}}
		gj.jsonKey, gj.truncJSON = gk.json()
		rank := fmt.Sprint(i + 1)
		res.CSVRows = append(res.CSVRows, append([]string{rank, gk.csv(), "", u(it.Count), u(it.Lower), u(it.Upper)}, totals...))
		t.add(rank, u(it.Count), u(it.Lower), u(it.Upper), gk.text())
		addValue := func(vi int, value []byte, count, lo, hi uint64) {
			vk := showKey(string(value))
			vj := groupValueJSON{Count: count, Lower: lo, Upper: hi}
			vj.jsonKey, vj.truncJSON = vk.json()
			gj.Values = append(gj.Values, vj)
			r := fmt.Sprintf("%d.%d", i+1, vi+1)
			res.CSVRows = append(res.CSVRows, append([]string{r, gk.csv(), vk.csv(), u(count), u(lo), u(hi)}, totals...))
			t.add(r, u(count), u(lo), u(hi), "  "+vk.text())
		}
		if freq {
			for vi, v := range a.keys {
				e := a.op.Counts.EstimateHash(sketch.PairHash([]byte(it.Key), []byte(v)))
				hi := min(ceilCount(e.Upper), it.Upper)
				addValue(vi, []byte(v), min(roundCount(e.Value), hi), min(floorCount(e.Lower), hi), hi)
			}
		} else {
			vals := byGroup[it.Key]
			bound := pairBound
			if len(vals) > a.k {
				bound = max(bound, vals[a.k].Count)
				vals = vals[:a.k]
			}
			for vi, v := range vals {
				parts, _ := pipeline.SplitTuple([]byte(v.Key))
				addValue(vi, parts[1], v.Count, v.Lower, v.Upper)
			}
			bound = min(bound, it.Upper)
			gj.ValuesUnlistedMax = &bound
		}
		j.Groups = append(j.Groups, gj)
	}
	if len(items) == 0 {
		res.CSVRows = [][]string{append(make([]string, 6), totals...)}
	}
	res.JSON = j
	how := "every count is within [lower, upper]"
	if freq {
		how = fmt.Sprintf("group counts are within [lower, upper]; a value's count never falls below the truth, its lower bound holds with %.1f%% confidence", 100*j.Confidence)
	}
	res.Text = t.String() + countsLine(c, false) + "\n" + how + "; " + unlistedGroupsCount(unlisted) + "\n"
	return res
}

func unlistedGroupsCount(n uint64) string {
	if n == 0 {
		return "no group is left out"
	}
	return fmt.Sprintf("groups not listed have at most %d records", n)
}
