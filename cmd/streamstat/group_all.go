package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

func init() {
	decoders["distinct-by-all"] = decodeDistinctAll
}

// setupDistinctAll is distinct --by -k 0: every group, each in its own
// sketch (exact, then an HLL of 2^precision registers), memory capped by
// --max-memory over all workers: whatever the run holds in group
// sketches counts in one memBudget of --max-memory (window_mem.go).
func setupDistinctAll(o *options, args []string) (*spec, error) {
	p, err := o.precisionOr(sketch.DefaultGroupHLLPrecision, sketch.MinPrecision, sketch.MaxPrecision)
	if err != nil {
		return nil, err
	}
	// The workers share half of the cap; the merged answer takes the
	// other half, and more if the workers leave it room.
	limit := max(o.by.maxBytes/int64(2*max(o.jobs, 1)), 1)
	total := o.by.maxBytes
	mem := &memBudget{limit: total}
	var windowMem *memBudget
	if o.win.on() {
		windowMem, limit = mem, 0
	}
	return &spec{
		cmd: "distinct", args: args, opts: o, windowMem: windowMem,
		dynamic: true, // merges are exact
		line:    pipeline.LineConfig{Field: o.field, Delimiter: o.delim},
		newOp: func(int) (pipeline.Operator, error) {
			g, err := sketch.NewGroupHLL(p)
			return &groupAllOp{GroupHLL: pipeline.GroupHLL{Sketch: g, MaxBytes: limit}, total: total, mem: mem}, err
		},
		newAgg: func() aggregate {
			g, _ := sketch.NewGroupHLL(p)
			return &distinctAllAgg{g: g, mem: mem, only: onlyFormat(o)}
		},
	}, nil
}

// groupAllOp is pipeline.GroupHLL whose memory error says what to do.
type groupAllOp struct {
	pipeline.GroupHLL
	total int64
	// mem counts the sketch's bytes (held) in the run's budget; under
	// --window, which the window checks, MaxBytes is 0.
	mem  *memBudget
	held int64
}

func (o *groupAllOp) Process(in, out *pipeline.Batch) error {
	err := o.GroupHLL.Process(in, out)
	o.account()
	if errors.Is(err, pipeline.ErrMemoryLimit) {
		g := o.Sketch
		return fmt.Errorf("distinct --by -k 0: a worker holds %d groups in %s, its share of --max-memory %s (half of it for the workers, half for the merged answer); -k N lists the N groups with the most distinct values in fixed memory, or raise --max-memory",
			g.Groups(), formatBytes(g.Bytes()), formatBytes(o.total))
	}
	return err
}

// UnmarshalBinary implements pipeline.Stateful (a window slot's reset
// too), counting the change in the budget.
func (o *groupAllOp) UnmarshalBinary(data []byte) error {
	err := o.GroupHLL.UnmarshalBinary(data)
	o.account()
	return err
}

// MergeBinary implements pipeline.Mergeable, counting the growth in the
// budget.
func (o *groupAllOp) MergeBinary(data []byte) error {
	err := o.GroupHLL.MergeBinary(data)
	o.account()
	return err
}

// account brings the budget up to the sketch's size.
func (o *groupAllOp) account() {
	if o.mem == nil || o.Sketch == nil {
		return
	}
	if n := o.Sketch.Bytes(); n != o.held {
		o.mem.add(n - o.held)
		o.held = n
	}
}

func (o *groupAllOp) setBudget(b *memBudget) { o.mem = b }

func (o *groupAllOp) release() {
	if o.mem != nil {
		o.mem.add(-o.held)
		o.held = 0
	}
}

// distinctAllAgg is the merged GroupHLL. With mem set (a run's answer),
// its sketch counts in the run's budget from its first addOp to its
// result, or to the addOp that takes the run past the cap: every caller
// renders a run's merged answer once and then drops it.
type distinctAllAgg struct {
	g    *sketch.GroupHLL
	mem  *memBudget
	held int64
	// only is the one format result renders ("text" or "csv"; "": all
	// three), where nothing but the reporter reads the result.
	only string
}

// onlyFormat is the format of o's answers, if nothing else reads them:
// the JSON of --http's page and of --window's recent windows is read
// whatever --format says. Every group is rendered at once, outside
// --max-memory: the formats not printed would cost more than the sketch.
func onlyFormat(o *options) string {
	if o.http != "" || o.win.on() || o.format == "json" {
		return ""
	}
	return o.format
}

func (a *distinctAllAgg) addOp(op pipeline.Operator) error {
	err := a.g.Merge(op.(*groupAllOp).Sketch)
	if a.mem == nil {
		return err
	}
	if n := a.g.Bytes(); n != a.held {
		a.mem.add(n - a.held)
		a.held = n
	}
	if err == nil && a.mem.over() {
		err = &memLimitError{fmt.Sprintf("distinct --by -k 0: merging the workers' group sketches for the answer, "+
			"the run holds %s in group sketches, the workers' and the answer's (%d groups in %s), past --max-memory %s; "+
			"-k N lists the N groups with the most distinct values in fixed memory, or raise --max-memory",
			formatBytes(a.mem.used.Load()), a.g.Groups(), formatBytes(a.held), formatBytes(a.mem.limit))}
	}
	if err != nil {
		a.release()
	}
	return err
}

// release takes the answer's sketch out of the budget.
func (a *distinctAllAgg) release() {
	if a.mem != nil {
		a.mem.add(-a.held)
		a.held = 0
	}
}

func (a *distinctAllAgg) merge(o aggregate) error { return a.g.Merge(o.(*distinctAllAgg).g) }

func (a *distinctAllAgg) appendState(dst []byte) ([]byte, error) { return a.g.AppendBinary(dst) }

func decodeDistinctAll(body []byte) (aggregate, error) {
	g := new(sketch.GroupHLL)
	if err := g.UnmarshalBinary(body); err != nil {
		return nil, err
	}
	return &distinctAllAgg{g: g}, nil
}

type distinctAllJSON struct {
	Groups     []groupDistinctJSON `json:"groups"`
	Confidence float64             `json:"confidence"`
	Records    uint64              `json:"records"`
	Skipped    uint64              `json:"skipped"`
	Shed       uint64              `json:"shed"`
	Precision  int                 `json:"precision"`
	// GroupCount is the number of groups; MemoryBytes what their sketches
	// hold (the merged answer's).
	GroupCount  int   `json:"group_count"`
	MemoryBytes int64 `json:"memory_bytes"`
}

func (a *distinctAllAgg) result(c counts) result {
	a.release()
	gs := a.g.Top(0)
	j := distinctAllJSON{Groups: []groupDistinctJSON{}, Confidence: sketch.DefaultConfidence,
		Records: c.Records, Skipped: c.Skipped, Shed: c.Shed, Precision: a.g.Precision(),
		GroupCount: a.g.Groups(), MemoryBytes: a.g.Bytes()}
	res := result{CSVHeader: []string{"rank", "group", "distinct", "lower", "upper", "exact",
		"records", "skipped", "shed", "precision", "group_count", "memory_bytes"}}
	totals := []string{u(c.Records), u(c.Skipped), u(c.Shed), fmt.Sprint(j.Precision), fmt.Sprint(j.GroupCount), fmt.Sprint(j.MemoryBytes)}
	// Every group is rendered at once, outside --max-memory: only in the
	// format printed where it can (onlyFormat), the rows sharing their
	// strings and taking their cells from one array a format, so that a
	// group costs a few times its sketch's bytes, not ten
	// (TestDistinctAllResultBytes).
	const csvCols, textCols = 12, 5
	text, csv, js := a.only != "csv", a.only != "text", a.only == ""
	var csvCells, textCells []string
	var t table
	if csv {
		csvCells = make([]string, 0, csvCols*len(gs))
		res.CSVRows = make([][]string, 0, max(len(gs), 1))
	}
	if text {
		textCells = make([]string, 0, textCols*(len(gs)+1))
		t.rows = make([][]string, 0, len(gs)+1)
	}
	if js {
		j.Groups = make([]groupDistinctJSON, 0, len(gs))
	}
	textCells = append(textCells, "rank", "distinct", "lower", "upper", "group")
	t.add(textCells...)
	for i, g := range gs {
		e := g.Estimate
		gj := groupDistinctJSON{Distinct: roundCount(e.Value), Lower: floorCount(e.Lower), Upper: ceilCount(e.Upper), Exact: e.Exact}
		key := showKey(string(g.Key))
		rank, d, lo, up := strconv.Itoa(i+1), u(gj.Distinct), u(gj.Lower), u(gj.Upper)
		if js {
			gj.jsonKey, gj.truncJSON = key.json()
			j.Groups = append(j.Groups, gj)
		}
		if csv {
			n := len(csvCells)
			csvCells = append(csvCells, rank, key.csv(), d, lo, up, strconv.FormatBool(gj.Exact))
			csvCells = append(csvCells, totals...)
			res.CSVRows = append(res.CSVRows, csvCells[n:len(csvCells):len(csvCells)])
		}
		if text {
			n := len(textCells)
			textCells = append(textCells, rank, d, lo, up, key.text())
			t.add(textCells[n:len(textCells):len(textCells)]...)
		}
	}
	if len(gs) == 0 {
		res.CSVRows = [][]string{append(make([]string, 6), totals...)}
	}
	res.JSON = j
	res.Text = t.String() + countsLine(c, false) + "\n" +
		fmt.Sprintf("%d groups in %s; each exact up to %d values, then an HLL of 2^%d registers (%g%% bounds)\n",
			j.GroupCount, formatBytes(j.MemoryBytes), max(1, 1<<j.Precision>>3), j.Precision, 100*j.Confidence)
	return res
}
