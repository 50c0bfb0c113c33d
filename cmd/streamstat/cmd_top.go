package main

import (
	"encoding/binary"
	"fmt"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// defaultTopPrecision gives 4096 Space-Saving counters per worker (about
// 0.5 MB): every count within N/4096 of the truth.
const defaultTopPrecision = 12

func setupTop(o *options, args []string) (*spec, error) {
	if o.by.on() {
		return setupTopBy(o, args)
	}
	p, err := o.precisionOr(defaultTopPrecision, 4, 22)
	if err != nil {
		return nil, err
	}
	capacity := max(1<<p, o.k)
	if capacity > sketch.MaxTopKCapacity {
		return nil, usagef("-k %d: at most %d", o.k, sketch.MaxTopKCapacity)
	}
	if o.shed.on {
		return shedTopSpec(o, args, capacity)
	}
	k := o.k
	return &spec{
		cmd: "top", args: args, opts: o,
		line: pipeline.LineConfig{Field: o.field, Delimiter: o.delim, MaxKeyLen: topMaxKey},
		newOp: func(int) (pipeline.Operator, error) {
			t, err := sketch.NewTopK(capacity)
			return &pipeline.HeavyHitters{TopK: t}, err
		},
		newAgg: func() aggregate {
			t, _ := sketch.NewTopK(capacity)
			return &topAgg{top: t, k: k, tuple: o.st.parts > 1}
		},
	}, nil
}

// topAgg is the merged TopK and the number of items to show.
type topAgg struct {
	top   *sketch.TopK
	k     int
	tuple bool // keys are composite (-f 1,3): shown as tuples
}

// addOp merges the workers in instance order; TopK.Merge is deterministic,
// so the answer is too.
func (a *topAgg) addOp(op pipeline.Operator) error {
	return a.top.Merge(op.(*pipeline.HeavyHitters).TopK)
}

func (a *topAgg) merge(o aggregate) error { return a.top.Merge(o.(*topAgg).top) }

func (a *topAgg) appendState(dst []byte) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(a.k))
	return a.top.AppendBinary(dst)
}

func decodeTop(body []byte) (aggregate, error) {
	r := envelope.NewReader(body)
	k := r.MinimalUvarint()
	if r.Err != nil || k < 1 || k > sketch.MaxTopKCapacity {
		return nil, fmt.Errorf("top state: k %d: %w", k, sketch.ErrCorrupt)
	}
	t := new(sketch.TopK)
	if err := t.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return nil, err
	}
	return &topAgg{top: t, k: int(k)}, nil
}

type itemJSON struct {
	jsonKey
	truncJSON
	Count      uint64 `json:"count"`
	Lower      uint64 `json:"lower"`
	Upper      uint64 `json:"upper"`
	Guaranteed bool   `json:"guaranteed"`
}

type topJSON struct {
	Records  uint64     `json:"records"`
	Items    []itemJSON `json:"items"`
	Skipped  uint64     `json:"skipped"`
	Shed     uint64     `json:"shed"`
	Total    uint64     `json:"total"`
	Capacity int        `json:"capacity"`
	// UnlistedMax bounds the count of every key not in Items.
	UnlistedMax uint64 `json:"unlisted_max"`
}

func (a *topAgg) result(c counts) result {
	items := a.top.Top(a.k + 1)
	// Every key not listed occurs at most as often as the (k+1)-th
	// tracked count, or MinCount when fewer keys are tracked.
	unlisted := a.top.MinCount()
	if len(items) > a.k {
		unlisted = max(unlisted, items[a.k].Count)
		items = items[:a.k]
	}
	j := topJSON{Records: c.Records, Items: []itemJSON{}, Skipped: c.Skipped, Shed: c.Shed,
		Total: a.top.Total(), Capacity: a.top.Capacity(), UnlistedMax: unlisted}
	// Every CSV row repeats the answer's totals, as the shed variant's
	// rows do; an answer without keys is one row with the key columns
	// empty, so the totals are never lost.
	res := result{CSVHeader: []string{"rank", "key", "count", "lower", "upper", "guaranteed",
		"records", "skipped", "shed", "total", "capacity", "unlisted_max"}}
	totals := []string{u(c.Records), u(c.Skipped), u(c.Shed), u(j.Total), fmt.Sprint(j.Capacity), u(unlisted)}
	var t table
	t.add("rank", "count", "lower", "upper", "guaranteed", "key")
	for i, it := range items {
		key := showKeyOf(it.Key, a.tuple)
		jk, jt := key.json()
		j.Items = append(j.Items, itemJSON{jsonKey: jk, truncJSON: jt, Count: it.Count, Lower: it.Lower, Upper: it.Upper, Guaranteed: it.Guaranteed})
		res.CSVRows = append(res.CSVRows, append([]string{fmt.Sprint(i + 1), key.csv(), u(it.Count), u(it.Lower), u(it.Upper), fmt.Sprint(it.Guaranteed)}, totals...))
		t.add(fmt.Sprint(i+1), u(it.Count), u(it.Lower), u(it.Upper), yesNo(it.Guaranteed), key.text())
	}
	if len(items) == 0 {
		res.CSVRows = [][]string{append(make([]string, 6), totals...)}
	}
	res.JSON = j
	res.Text = t.String() + countsLine(c, false) + "\n" +
		"every count is within [lower, upper]; " + unlistedText(unlisted) + "\n"
	return res
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func unlistedText(n uint64) string {
	switch n {
	case 0:
		return "no key is left out"
	case 1:
		return "keys not listed occur at most once"
	}
	return fmt.Sprintf("keys not listed occur at most %d times", n)
}
