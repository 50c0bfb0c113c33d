package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/internal/normal"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/job"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// Load shedding (--shed). Each worker's operator runs behind a credit
// channel instead of chained to it, so that the worker's shedder
// (package shedding) sees how far the operator lags: when the stream
// arrives faster than the operator counts, the shedder drops records
// before they reach it, and the answer scales what was kept back up to
// what arrived. distinct sheds whole keys (KeyHash) in front of its own
// HLL; top and freq shed records at random and count each kept one as
// 1/p. Nothing is shed without overload, and then every answer is the one
// without --shed.

// shedConfidence is the confidence of the bounds of answers under --shed.
const shedConfidence = sketch.DefaultConfidence

// shedFlags are --shed and --max-latency.
type shedFlags struct {
	on         bool
	maxLatency time.Duration
	latencySet bool // --max-latency was given
}

func (f *shedFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.on, "shed", false, "")
	fs.Var((*latencyFlag)(f), "max-latency", "")
}

// latencyFlag is --max-latency: a duration that remembers it was set.
type latencyFlag shedFlags

func (l *latencyFlag) String() string { return l.maxLatency.String() }

func (l *latencyFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 100ms or 1s")
	}
	l.maxLatency, l.latencySet = d, true
	return nil
}

// check validates the shedding flags against the others and fills in the
// default latency target.
func (f *shedFlags) check(o *options) error {
	switch {
	case f.latencySet && !f.on:
		return usagef("--max-latency %v needs --shed: it is the latency target of load shedding", f.maxLatency)
	case f.latencySet && f.maxLatency <= 0:
		return usagef("--max-latency %v: must be positive (e.g. 100ms)", f.maxLatency)
	case !f.on:
		return nil
	case o.save != "":
		return usagef("--save cannot be used with --shed: state files do not record what was shed")
	}
	if !f.latencySet {
		f.maxLatency = shedding.DefaultMaxLatency
	}
	return nil
}

// noShed is the usage error of a subcommand that does not shed load.
func noShed(cmd string) error {
	why := map[string]string{
		"sample": "reservoir sampling skips the records it does not keep, so the sample is never what holds a stream up",
		"stats":  "its mean, standard deviation and quantile sketches cannot yet scale what was shed",
	}[cmd]
	return usagef("--shed: %s does not shed load: %s", cmd, why)
}

// shedCPU is the process's CPU time, by which the controllers judge a
// trial of shedding (shedding.ControllerConfig.CPU): where the system
// does not tell it, nil, and throughput alone decides.
var shedCPU = func() func() time.Duration {
	if !cputime.Available {
		return nil
	}
	return cputime.Process
}()

// shedRun is the load shedding of one run: the shedders of its workers
// and what the answers need to know about them.
type shedRun struct {
	policy     shedding.Policy
	maxLatency time.Duration
	group      *shedding.Group
	cost       func(records int) // env.opCost
}

func newShedRun(o *options, policy shedding.Policy) (*shedRun, error) {
	g, err := shedding.NewGroup(shedding.Config{
		Policy:     policy,
		Controller: shedding.ControllerConfig{MaxLatency: o.shed.maxLatency, CPU: shedCPU},
	})
	if err != nil {
		return nil, usagef("--shed: %v", err)
	}
	return &shedRun{policy: policy, maxLatency: o.shed.maxLatency, group: g}, nil
}

// configure gives every worker a shedder and puts a channel between it
// and its operator, which the controller watches: a chained operator
// would slow the worker down instead, and the overload would stay
// upstream, invisible.
func (r *shedRun) config(e *env) *job.ShedConfig {
	r.cost = e.opCost
	return &job.ShedConfig{NewShedder: r.group.NewShedder, Clock: envClock{e.now}}
}

// checkInputs refuses regular files: a file waits to be read at the
// pace of counting, so nothing in it is late and there is nothing to shed.
func (r *shedRun) checkInputs(ins []job.Input) error {
	for _, in := range ins {
		if !in.Stream {
			return fmt.Errorf("--shed is for streams (stdin, pipes): %s is a regular file, read at the pace of counting, with nothing late to shed", in.Name)
		}
	}
	return nil
}

// envClock is the env's clock as a pipeline clock.
type envClock struct{ now func() time.Time }

func (c envClock) Now() time.Time { return c.now() }

// op wraps a worker's operator with the test hook, if any.
func (r *shedRun) op(op pipeline.Operator) pipeline.Operator {
	if r.cost == nil {
		return op
	}
	return &costOp{Operator: op, cost: r.cost}
}

// costOp calls a test hook before each batch.
type costOp struct {
	pipeline.Operator
	cost func(records int)
}

func (o *costOp) Process(in, out *pipeline.Batch) error {
	o.cost(len(in.Records))
	return o.Operator.Process(in, out)
}

// Unwrap returns the operator a costOp wraps (job.Unwrapper).
func (o *costOp) Unwrap() pipeline.Operator { return o.Operator }

// unwrapCost returns the operator a costOp wraps, or op.
func unwrapCost(op pipeline.Operator) pipeline.Operator {
	if c, ok := op.(*costOp); ok {
		return c.Operator
	}
	return op
}

// summary returns what the workers have shed so far.
func (r *shedRun) summary() shedding.Summary { return r.group.Summary() }

// note writes the end-of-run line on stderr when anything was shed.
func (r *shedRun) note(w io.Writer) {
	s := r.summary()
	if !s.Shedding() {
		return
	}
	fmt.Fprintf(w, "streamstat: overloaded: shed %d of %d records (%.1f%%), keep probability down to %.4g; the answer is scaled up and its bounds include the sampling error\n",
		s.Shed, s.Seen, 100*s.Fraction(), s.MinP)
}

// shedJSON is what every JSON answer under --shed adds.
type shedJSON struct {
	// Seen records reached the shedders (read and not skipped); Kept were
	// counted, Shed dropped: Seen = Kept + Shed.
	Seen uint64 `json:"seen"`
	Kept uint64 `json:"kept"`
	// ShedFraction is Shed / Seen.
	ShedFraction float64 `json:"shed_fraction"`
	// MinP and MeanP are the smallest and mean keep probabilities over
	// the records seen (1: nothing shed).
	MinP  float64 `json:"min_p"`
	MeanP float64 `json:"mean_p"`
	// Policy is key-hash (distinct) or random (top, freq).
	Policy       string  `json:"shed_policy"`
	MaxLatencyMS float64 `json:"max_latency_ms"`
}

func (r *shedRun) json(s shedding.Summary) shedJSON {
	return shedJSON{Seen: s.Seen, Kept: s.Kept, ShedFraction: s.Fraction(), MinP: s.MinP, MeanP: s.MeanP,
		Policy: r.policy.String(), MaxLatencyMS: float64(r.maxLatency) / float64(time.Millisecond)}
}

var shedCSVHeader = []string{"seen", "kept", "shed_fraction", "min_p", "mean_p", "shed_policy", "max_latency_ms"}

func shedCSV(j shedJSON) []string {
	return []string{u(j.Seen), u(j.Kept), fmtFloat(j.ShedFraction, true), fmtFloat(j.MinP, true), fmtFloat(j.MeanP, true),
		j.Policy, fmtFloat(j.MaxLatencyMS, true)}
}

// text is the line every text answer under --shed ends with.
func (r *shedRun) text(s shedding.Summary) string {
	head := fmt.Sprintf("load shedding (%s, max latency %v): ", r.policy, r.maxLatency)
	if !s.Shedding() {
		return head + fmt.Sprintf("nothing shed of %d records\n", s.Seen)
	}
	return head + fmt.Sprintf("kept %d of %d records, shed %d (%.1f%%), keep probability min %.4g mean %.4g\n",
		s.Kept, s.Seen, s.Shed, 100*s.Fraction(), s.MinP, s.MeanP)
}

// widenCount turns e, a count of the kept records scaled by 1/p (in
// records), into bounds on the count of the records that arrived: a
// Wilson-type interval for the sampling error (the variance at the bound,
// N·(MeanInvP-1), Summary.CountVariance's model of a key spread over the
// stream like the rest, with a continuity correction of half a kept
// record), taken from e.Lower down and from e.Upper up, since the sketch's
// own bounds hold the kept count. The confidence is e's plus conf minus 1
// (union bound; an exact e has conf). Unlike shedding.Widen, which adds a
// normal error at the estimate, it stays right for counts of a few kept
// records, and for a key none of whose records were kept (e = 0), which
// may still have arrived about 3/p times (Wilson, JASA 1927). Without
// shedding e is returned as it is.
func widenCount(e sketch.Estimate, s shedding.Summary, conf float64) sketch.Estimate {
	v1 := s.MeanInvP - 1
	if !(v1 > 0) {
		return e
	}
	zs := normal.Z(conf) * math.Sqrt(v1)
	c := s.MeanInvP / 2
	root := func(t, sign float64) float64 {
		x := (sign*zs + math.Sqrt(zs*zs+4*t)) / 2
		return x * x
	}
	out := sketch.Estimate{Value: e.Value, Upper: root(e.Upper+c, 1), Confidence: conf}
	if e.Lower-c > 0 {
		out.Lower = root(e.Lower-c, -1)
	}
	if !e.Exact {
		out.Confidence = max(0, e.Confidence+conf-1)
	}
	return out
}

// scaled reads a count of Units(p) per kept record in records.
func scaled(units uint64) float64 { return float64(units) / shedding.Unit }

// distinct under --shed: key-hash shedding in front of distinct's own
// operator, the HLL of 2^P registers, at no cost per record over distinct
// without --shed. Keys are kept iff their hash is below p·2^64, so the
// registers below minP·2^P (an HLL's index is the hash's top bits) saw
// every key that maps to them: the answer is read from those and scaled
// up (shedding.HLLDistinct). With nothing shed it is distinct's answer.

// shedMinPrecision is the least --precision of distinct under --shed: at
// the controller's smallest keep probability, 2^-10, it leaves 2^4
// registers to count from, the fewest HLLDistinct reads.
var shedMinPrecision = sketch.MinPrecision + int(math.Round(-math.Log2(shedding.DefaultMinP)))

func shedDistinctSpec(o *options, args []string, precision int) (*spec, error) {
	if precision < shedMinPrecision {
		return nil, usagef("--precision %d: distinct --shed needs %d or more: under overload it counts from the registers below the smallest keep probability, 2^-10 of them at worst (2^%d at --precision %d)",
			precision, shedMinPrecision, shedMinPrecision-10, shedMinPrecision)
	}
	r, err := newShedRun(o, shedding.KeyHash)
	if err != nil {
		return nil, err
	}
	return &spec{
		cmd: "distinct", args: args, opts: o, dynamic: true, shed: r,
		line: distinctLine(o),
		newOp: func(int) (pipeline.Operator, error) {
			op, err := newDistinctOp(precision)
			return r.op(op), err
		},
		newAgg: func() aggregate { return &shedDistinctAgg{run: r, distinctAgg: newDistinctAgg(precision)} },
	}, nil
}

// shedDistinctAgg is the merged HLL, answered through what was shed.
type shedDistinctAgg struct {
	*distinctAgg
	run *shedRun
}

// errShedState: --save is refused with --shed, so these never run.
var errShedState = errors.New("no state is saved under --shed")

func (a *shedDistinctAgg) addOp(op pipeline.Operator) error {
	return a.distinctAgg.addOp(unwrapCost(op))
}

func (a *shedDistinctAgg) merge(aggregate) error              { return errShedState }
func (a *shedDistinctAgg) appendState([]byte) ([]byte, error) { return nil, errShedState }

type shedDistinctJSON struct {
	// Distinct stands in for distinctJSON's (first, as there): null when
	// nothing is known (cover 0), rather than a count of 0.
	Distinct *uint64 `json:"distinct"`
	distinctJSON
	shedJSON
	// Cover is the fraction of the hash space the answer was read from
	// (1: nothing shed, the HLL's own answer; 0: fewer than 16 registers
	// lay below the smallest p, and nothing is known but the bounds).
	Cover float64 `json:"cover"`
}

func (a *shedDistinctAgg) result(c counts) result {
	// MinP is read after the sketches were merged, so it covers every
	// record in them.
	s := a.run.summary()
	e, cover, err := shedding.HLLDistinct(a.hll, s.MinP, shedConfidence)
	if err != nil {
		panic(err) // MinP is a keep probability, in (0, 1]
	}
	return a.render(e, cover, c, s)
}

// render is the answer e read from a fraction cover of the hash space.
func (a *shedDistinctAgg) render(e sketch.Estimate, cover float64, c counts, s shedding.Summary) result {
	c.Shed = s.Shed
	// No more keys than keyed records: certain, and tighter where few
	// registers were read.
	if keyed := c.Records - min(c.Records, c.Skipped); cover < 1 && float64(keyed) >= e.Value && float64(keyed) < e.Upper {
		e.Upper = float64(keyed)
	}
	dj, bounds := a.answer(e, c)
	j := shedDistinctJSON{Distinct: &dj.Distinct, distinctJSON: dj, shedJSON: a.run.json(s), Cover: cover}
	distinct := u(dj.Distinct)
	text := distinct + "  " + bounds
	if cover == 0 {
		// shedding.HLLDistinct's 'nothing known': keys were shed down to
		// a p that leaves fewer than 16 registers to read.
		j.Distinct, distinct = nil, ""
		text = fmt.Sprintf("unknown: fewer than 16 of the 2^%d registers lie below the smallest keep probability, %.4g (at most %d)",
			dj.Precision, s.MinP, dj.Upper)
	}
	return result{
		JSON: j,
		CSVHeader: append([]string{"distinct", "lower", "upper", "confidence", "exact", "records", "skipped", "shed",
			"precision", "saturated", "cover"}, shedCSVHeader...),
		CSVRows: [][]string{append([]string{distinct, u(j.Lower), u(j.Upper), fmtFloat(j.Confidence, true),
			fmt.Sprint(j.Exact), u(c.Records), u(c.Skipped), u(c.Shed), fmt.Sprint(j.Precision), fmt.Sprint(j.Saturated),
			fmtFloat(j.Cover, true)}, shedCSV(j.shedJSON)...)},
		Text: kv("distinct", text, "records", u(c.Records), "skipped", u(c.Skipped), "shed", u(c.Shed)) + a.run.text(s),
	}
}

// top under --shed: random shedding into a shedding.TopKeys, a TopK fed
// Units(p) per record, as cheap as a plain one while nothing is shed.

func shedTopSpec(o *options, args []string, capacity int) (*spec, error) {
	r, err := newShedRun(o, shedding.Random)
	if err != nil {
		return nil, err
	}
	k := o.k
	newTop := func() *sketch.TopK {
		t, err := sketch.NewTopK(capacity)
		if err != nil {
			panic(err) // capacity was checked
		}
		return t
	}
	return &spec{
		cmd: "top", args: args, opts: o, shed: r,
		line: pipeline.LineConfig{Field: o.field, Delimiter: o.delim, MaxKeyLen: topMaxKey},
		newOp: func(int) (pipeline.Operator, error) {
			return r.op(&shedding.TopKeys{Capacity: capacity}), nil
		},
		newAgg: func() aggregate {
			return &shedTopAgg{run: r, records: newTop(), units: newTop(), k: k, tuple: o.st.parts > 1}
		},
	}, nil
}

// shedTopAgg merges the workers' TopKeys: the records never shed, counted
// 1 each, and the records kept at p < 1, counted Units(p) each. While
// nothing was shed the answer is the first, in records, as top's without
// --shed; otherwise the first scaled to units merged with the second.
type shedTopAgg struct {
	run            *shedRun
	records, units *sketch.TopK
	k              int
	tuple          bool // keys are composite (-f 1,3): shown as tuples
}

func (a *shedTopAgg) addOp(op pipeline.Operator) error {
	return unwrapCost(op).(*shedding.TopKeys).AddTo(a.records, a.units)
}

// answer returns the merged TopK and the count it gives a record.
func (a *shedTopAgg) answer() (*sketch.TopK, float64) {
	if a.units.Total() == 0 {
		return a.records, 1
	}
	t := a.records.Clone()
	shedding.ToUnits(t)
	_ = t.Merge(a.units) // any capacities merge
	return t, shedding.Unit
}

func (a *shedTopAgg) merge(aggregate) error              { return errShedState }
func (a *shedTopAgg) appendState([]byte) ([]byte, error) { return nil, errShedState }

type shedItemJSON struct {
	itemJSON
	Confidence float64 `json:"confidence"`
}

type shedTopJSON struct {
	Records     uint64         `json:"records"`
	Items       []shedItemJSON `json:"items"`
	Skipped     uint64         `json:"skipped"`
	Shed        uint64         `json:"shed"`
	Total       uint64         `json:"total"`
	Capacity    int            `json:"capacity"`
	UnlistedMax uint64         `json:"unlisted_max"`
	shedJSON
}

func (a *shedTopAgg) result(c counts) result {
	s := a.run.summary()
	c.Shed = s.Shed
	top, unit := a.answer()
	scaled := func(c uint64) float64 { return float64(c) / unit }
	items := top.Top(a.k + 1)
	unlisted := top.MinCount()
	if len(items) > a.k {
		unlisted = max(unlisted, items[a.k].Count)
		items = items[:a.k]
	}
	// The TopK's bounds on the kept counts are certain; the sampling
	// error is added at shedConfidence.
	um := widenCount(sketch.Estimate{Value: scaled(unlisted), Upper: scaled(unlisted), Confidence: 1}, s, shedConfidence)
	j := shedTopJSON{Records: c.Records, Items: []shedItemJSON{}, Skipped: c.Skipped, Shed: c.Shed,
		Total: roundCount(scaled(top.Total())), Capacity: top.Capacity(), UnlistedMax: ceilCount(um.Upper),
		shedJSON: a.run.json(s)}
	res := result{CSVHeader: append([]string{"rank", "key", "count", "lower", "upper", "guaranteed", "confidence",
		"records", "skipped", "shed", "total", "capacity", "unlisted_max"}, shedCSVHeader...)}
	// Every row repeats the totals (as without --shed); no key, one row
	// with the key columns empty.
	totals := append([]string{u(c.Records), u(c.Skipped), u(c.Shed), u(j.Total), fmt.Sprint(j.Capacity), u(j.UnlistedMax)},
		shedCSV(j.shedJSON)...)
	var t table
	t.add("rank", "count", "lower", "upper", "guaranteed", "key")
	for i, it := range items {
		e := widenCount(sketch.Estimate{Value: scaled(it.Count), Lower: scaled(it.Lower), Upper: scaled(it.Upper),
			Confidence: 1, Exact: it.Error == 0}, s, shedConfidence)
		// Guaranteed is about the kept records: certain only if none
		// were shed.
		g := it.Guaranteed && e.Confidence == 1
		key := showKeyOf(it.Key, a.tuple)
		jk, jt := key.json()
		ij := shedItemJSON{itemJSON: itemJSON{jsonKey: jk, truncJSON: jt, Count: roundCount(e.Value),
			Lower: floorCount(e.Lower), Upper: ceilCount(e.Upper), Guaranteed: g}, Confidence: e.Confidence}
		j.Items = append(j.Items, ij)
		res.CSVRows = append(res.CSVRows, append([]string{fmt.Sprint(i + 1), key.csv(), u(ij.Count), u(ij.Lower),
			u(ij.Upper), fmt.Sprint(g), fmtFloat(ij.Confidence, true)}, totals...))
		t.add(fmt.Sprint(i+1), u(ij.Count), u(ij.Lower), u(ij.Upper), yesNo(g), key.text())
	}
	if len(items) == 0 {
		res.CSVRows = [][]string{append(make([]string, 7), totals...)}
	}
	res.JSON = j
	bounds := "every count is within [lower, upper]"
	if um.Confidence < 1 {
		bounds = fmt.Sprintf("counts are scaled by 1/p; each is within [lower, upper] with %g%% confidence", 100*um.Confidence)
	}
	res.Text = t.String() + countsLine(c, false) + "\n" + bounds + "; " + unlistedText(j.UnlistedMax) + "\n" + a.run.text(s)
	return res
}

// freq under --shed: random shedding into a CountMin fed Units(p) per
// record. The CountMin's bounds are taken at freqShedConf and widened at
// freqShedConf, for shedConfidence in all.
const freqShedConf = (1 + shedConfidence) / 2

func shedFreqSpec(o *options, keys []string, newCM func() *sketch.CountMin) (*spec, error) {
	r, err := newShedRun(o, shedding.Random)
	if err != nil {
		return nil, err
	}
	return &spec{
		cmd: "freq", args: o.inFiles, opts: o, shed: r,
		// Random shedding and the count-min read hashes only (HashOnly),
		// as without --shed.
		line: pipeline.LineConfig{Field: o.field, Delimiter: o.delim, HashOnly: true},
		newOp: func(int) (pipeline.Operator, error) {
			return r.op(&shedding.Frequency{CM: newCM()}), nil
		},
		newAgg: func() aggregate { return &shedFreqAgg{run: r, cm: newCM(), keys: keys} },
	}, nil
}

type shedFreqAgg struct {
	run  *shedRun
	cm   *sketch.CountMin
	keys []string
}

func (a *shedFreqAgg) addOp(op pipeline.Operator) error {
	return a.cm.Merge(unwrapCost(op).(*shedding.Frequency).CM)
}

func (a *shedFreqAgg) merge(aggregate) error              { return errShedState }
func (a *shedFreqAgg) appendState([]byte) ([]byte, error) { return nil, errShedState }

type shedFreqJSON struct {
	freqJSON
	shedJSON
}

func (a *shedFreqAgg) result(c counts) result {
	s := a.run.summary()
	c.Shed = s.Shed
	conf := 1 - a.cm.Delta() // the CountMin's own, without shedding
	if s.MeanInvP > 1 {
		conf = shedConfidence
	}
	j := shedFreqJSON{
		freqJSON: freqJSON{Records: c.Records, Items: []itemJSON{}, Skipped: c.Skipped, Shed: c.Shed,
			Total: roundCount(scaled(a.cm.Total())), Confidence: conf, Width: a.cm.Width(), Depth: a.cm.Depth()},
		shedJSON: a.run.json(s),
	}
	res := result{CSVHeader: append([]string{"key", "count", "lower", "upper", "guaranteed", "records", "skipped", "shed",
		"total", "confidence", "width", "depth"}, shedCSVHeader...)}
	totals := append([]string{u(c.Records), u(c.Skipped), u(c.Shed), u(j.Total), fmtFloat(j.Confidence, true),
		fmt.Sprint(j.Width), fmt.Sprint(j.Depth)}, shedCSV(j.shedJSON)...)
	var t table
	t.add("count", "lower", "upper", "key")
	for _, k := range a.keys {
		var e sketch.Estimate
		if s.MeanInvP > 1 {
			e = widenCount(shedding.FromUnits(a.cm.EstimateStringAt(k, freqShedConf)), s, freqShedConf)
		} else {
			e = shedding.FromUnits(a.cm.EstimateString(k))
		}
		it := itemJSON{jsonKey: newJSONKey([]byte(k)), Count: roundCount(e.Value), Lower: floorCount(e.Lower),
			Upper: ceilCount(e.Upper), Guaranteed: e.Exact}
		j.Items = append(j.Items, it)
		res.CSVRows = append(res.CSVRows, append([]string{k, u(it.Count), u(it.Lower), u(it.Upper),
			fmt.Sprint(it.Guaranteed)}, totals...))
		t.add(u(it.Count), u(it.Lower), u(it.Upper), textKey([]byte(k)))
	}
	res.JSON = j
	bounds := fmt.Sprintf("counts never fall below the truth; lower bounds hold with %.1f%% confidence", 100*conf)
	if s.MeanInvP > 1 {
		bounds = fmt.Sprintf("counts are scaled by 1/p; each is within [lower, upper] with %g%% confidence", 100*conf)
	}
	res.Text = t.String() + countsLine(c, false) + "\n" + bounds + "\n" + a.run.text(s)
	return res
}
