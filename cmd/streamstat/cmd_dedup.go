package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
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
	s := &spec{
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
	}
	// --json, -f 1,3, --csv: the key is found in each whole record. CSV
	// records (which may hold newlines) are framed by the source, which
	// checks their quoting, skips each input's header and passes the
	// record as it stands; the header is written once, in front.
	s.setExtract = func(ex pipeline.Extractor) {
		op.ex, op.strict = ex, o.st.strict
		if k, ok := ex.(*pipeline.CSVKey); ok {
			s.line.Extract = &pipeline.CSVKey{Comma: k.Comma, Header: k.Header}
			s.line.Strict = o.st.strict
			if k.Header {
				op.header = csvLine(o.st.names, k.Comma)
			}
		}
	}
	return s, nil
}

// csvLine is fields as a CSV record (with its newline), quoted where
// encoding/csv quotes.
func csvLine(fields []string, comma byte) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = rune(comma)
	w.Write(fields)
	w.Flush()
	return b.Bytes()
}

// dedupOp passes on the first occurrence of each key: it writes the line to
// w when the Bloom filter has not seen the key, flushing after every batch
// so that a live stream's lines come out as they go in.
type dedupOp struct {
	bloom   *sketch.Bloom
	field   int
	delim   pipeline.Delimiter
	ex      pipeline.Extractor // if set, finds the key in place of field
	strict  bool               // a record without a key is an error (--strict)
	header  []byte             // CSV: written before the first record
	sc      pipeline.Scratch
	w       *bufio.Writer
	records uint64
	passed  uint64
	skipped uint64
}

// writeHeader writes the CSV header, once.
func (o *dedupOp) writeHeader() {
	if o.header != nil {
		o.w.Write(o.header)
		o.header = nil
	}
}

func (o *dedupOp) Process(in, _ *pipeline.Batch) error {
	o.writeHeader()
	for i := range in.Records {
		line := in.Key(i)
		h := in.Records[i].Hash
		o.records++
		if o.ex != nil {
			x, err := o.ex.Extract(line, &o.sc)
			if err != nil {
				if o.strict {
					o.w.Flush()
					return fmt.Errorf("record %d (--strict): %w", o.records, err)
				}
				o.skipped++
				continue
			}
			h = sketch.Hash(x.Key)
		} else if o.field > 0 {
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
	merged   bool // of several runs' states: passed counts a key once per run
}

func (a *dedupAgg) addOp(op pipeline.Operator) error {
	d := op.(*dedupOp)
	if d.header != nil { // no record came: the output is the header alone
		d.writeHeader()
		if err := d.w.Flush(); err != nil {
			return err
		}
	}
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
	a.merged = true
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
	a := &dedupAgg{capacity: r.MinimalUvarint(), target: math.Float64frombits(r.U64()), passed: r.MinimalUvarint()}
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
	// Certain bounds tighten the filter's: every key passed by one run is
	// new (not so across merged runs), and no more keys are new than
	// records were keyed. A saturated filter (upper bound +Inf) is then
	// bounded by what it saw.
	lower := floorCount(e.Lower)
	if !a.merged {
		lower = max(lower, a.passed)
	}
	upper := max(min(ceilCount(e.Upper), c.Records-min(c.Records, c.Skipped)), lower)
	j := dedupJSON{Records: c.Records, Passed: a.passed, Skipped: c.Skipped, Shed: c.Shed,
		Distinct: min(max(roundCount(e.Value), lower), upper), Lower: lower, Upper: upper,
		FPRate: a.bloom.EstimatedFPRate(), TargetFPRate: a.target, Capacity: a.capacity}
	text := fmt.Sprintf("dedup: passed %d of %d records (%d skipped, %d shed); about %d distinct keys; false-positive rate %.3g (target %g up to %d keys)\n",
		j.Passed, j.Records, j.Skipped, j.Shed, j.Distinct, j.FPRate, j.TargetFPRate, j.Capacity)
	if j.FPRate > j.TargetFPRate {
		text += "dedup: warning: the filter is past its capacity, so new keys are dropped more often than asked; " +
			capacityHint(max(j.Upper, 2*j.Capacity), j.TargetFPRate) + "\n"
	}
	return result{
		JSON:      j,
		CSVHeader: []string{"records", "passed", "skipped", "shed", "distinct", "lower", "upper", "fp_rate", "target_fp_rate", "capacity"},
		CSVRows: [][]string{{u(j.Records), u(j.Passed), u(j.Skipped), u(j.Shed), u(j.Distinct), u(j.Lower), u(j.Upper),
			fmtFloat(j.FPRate, true), fmtFloat(j.TargetFPRate, true), u(j.Capacity)}},
		Text: text,
	}
}

// capacityHint suggests a --capacity of at least want keys at fp-rate
// rate, within what NewBloom accepts (MaxBloomBits), or, past that, a
// higher rate.
func capacityHint(want uint64, rate float64) string {
	// NewBloom's m = -n ln p / ln^2 2 must stay within MaxBloomBits
	// (computed as NewBloom does, without allocating the filter).
	bits := func(n uint64) float64 { return -float64(n) * math.Log(rate) / (math.Ln2 * math.Ln2) }
	most := uint64(float64(sketch.MaxBloomBits) * math.Ln2 * math.Ln2 / -math.Log(rate))
	for most > 1 && bits(most) > sketch.MaxBloomBits {
		most--
	}
	if want <= most {
		return fmt.Sprintf("rerun with --capacity %d or more", want)
	}
	return fmt.Sprintf("rerun with --capacity %d (the largest filter at --fp-rate %g) and a higher --fp-rate, or split the input by key", most, rate)
}
