package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// Default CountMin shape for freq: 2^14 columns by 5 rows (640 KiB per
// worker): within e/16384 = 0.017% of the stream total with probability
// 1-e^-5 = 99.3%.
const (
	defaultFreqPrecision = 14
	freqDepth            = 5
)

// setupFreq takes its keys from --key and --keys-from, and then its
// arguments are input files, as for the other subcommands; without these
// flags, the arguments are the keys (as they always were) and -i names
// the inputs.
func setupFreq(o *options, args []string) (*spec, error) {
	keys := slices.Clone(args)
	if len(o.keys) > 0 || o.keysFrom != "" {
		keys = o.keys
		if o.keysFrom != "" {
			more, err := readKeys(o.keysFrom)
			if err != nil {
				return nil, err
			}
			keys = append(keys, more...)
		}
		keys = uniqueKeys(keys)
		o.inFiles = append(o.inFiles, args...)
	} else {
		o.argKeys = args
	}
	if len(keys) == 0 {
		if o.keysFrom != "" {
			return nil, usagef("--keys-from %s: the file holds no key", o.keysFrom)
		}
		return nil, usagef("freq needs at least one KEY (or --key K)")
	}
	p, err := o.precisionOr(defaultFreqPrecision, 4, 24)
	if err != nil {
		return nil, err
	}
	newCM := func() *sketch.CountMin {
		cm, err := sketch.NewCountMinWidthDepth(1<<p, freqDepth)
		if err != nil {
			panic(err) // the shape was checked above
		}
		return cm
	}
	// A composite key (-f 1,3, --json a,b): each key asked about is
	// read as a tuple (parseTupleKey) once the key's parts are known.
	o.st.tupleKeys = func(parts int) error {
		if o.shed.on {
			return usagef("--shed with a composite key is not supported by freq; drop --shed, or key by one field")
		}
		for i, k := range keys {
			t, err := parseTupleKey(k, parts)
			if err != nil {
				return err
			}
			keys[i] = t
		}
		keys = uniqueKeys(keys) // "a,b" and "(a, b)" are one key
		return nil
	}
	if o.shed.on {
		return shedFreqSpec(o, keys, newCM)
	}
	if o.by.on() {
		return setupFreqBy(o, keys, newCM)
	}
	return &spec{
		cmd: "freq", args: o.inFiles, opts: o,
		// The count-min reads hashes only: no key bytes are copied.
		line: pipeline.LineConfig{Field: o.field, Delimiter: o.delim, HashOnly: true},
		newOp: func(int) (pipeline.Operator, error) {
			return &pipeline.Frequency{CM: newCM()}, nil
		},
		newAgg: func() aggregate { return &freqAgg{cm: newCM(), keys: keys, tuple: o.st.parts > 1} },
	}, nil
}

// freqAgg is the merged CountMin and the keys asked about.
type freqAgg struct {
	cm    *sketch.CountMin
	keys  []string
	tuple bool // keys are composite (-f 1,3): shown as tuples
}

func (a *freqAgg) addOp(op pipeline.Operator) error { return a.cm.Merge(op.(*pipeline.Frequency).CM) }

// merge merges the sketches and answers for the keys of both, a's first.
func (a *freqAgg) merge(o aggregate) error {
	b := o.(*freqAgg)
	if err := a.cm.Merge(b.cm); err != nil {
		return err
	}
	for _, k := range b.keys {
		if !slices.Contains(a.keys, k) {
			a.keys = append(a.keys, k)
		}
	}
	return nil
}

func (a *freqAgg) appendState(dst []byte) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(len(a.keys)))
	for _, k := range a.keys {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	return a.cm.AppendBinary(dst)
}

func decodeFreq(body []byte) (aggregate, error) {
	r := envelope.NewReader(body)
	n := r.MinimalUvarint()
	if n > uint64(r.Len()) { // each key takes at least one byte
		return nil, fmt.Errorf("freq state: %d keys in %d bytes: %w", n, r.Len(), sketch.ErrCorrupt)
	}
	keys := make([]string, 0, n)
	for range n {
		l := r.MinimalUvarint()
		keys = append(keys, string(r.Bytes(int(min(l, uint64(r.Len()+1))))))
	}
	if r.Err != nil {
		return nil, fmt.Errorf("freq state: %w", r.Err)
	}
	cm := new(sketch.CountMin)
	if err := cm.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return nil, err
	}
	return &freqAgg{cm: cm, keys: keys}, nil
}

type freqJSON struct {
	Records    uint64     `json:"records"`
	Items      []itemJSON `json:"items"`
	Skipped    uint64     `json:"skipped"`
	Shed       uint64     `json:"shed"`
	Total      uint64     `json:"total"`
	Confidence float64    `json:"confidence"`
	Width      int        `json:"width"`
	Depth      int        `json:"depth"`
}

func (a *freqAgg) result(c counts) result {
	j := freqJSON{Records: c.Records, Items: []itemJSON{}, Skipped: c.Skipped, Shed: c.Shed,
		Total: a.cm.Total(), Confidence: 1 - a.cm.Delta(), Width: a.cm.Width(), Depth: a.cm.Depth()}
	res := result{CSVHeader: []string{"key", "count", "lower", "upper", "guaranteed",
		"records", "skipped", "shed", "total", "confidence", "width", "depth"}}
	totals := []string{u(c.Records), u(c.Skipped), u(c.Shed), u(j.Total), fmtFloat(j.Confidence, true), fmt.Sprint(j.Width), fmt.Sprint(j.Depth)}
	var t table
	t.add("count", "lower", "upper", "key")
	for _, k := range a.keys {
		e := a.cm.EstimateString(k)
		it := itemJSON{jsonKey: newJSONKey([]byte(k)), Count: roundCount(e.Value), Lower: floorCount(e.Lower), Upper: ceilCount(e.Upper), Guaranteed: e.Exact}
		shown, text := k, textKey([]byte(k))
		if a.tuple {
			sk := showKeyOf(k, true)
			it.jsonKey, _ = sk.json()
			shown, text = sk.csv(), sk.text()
		}
		j.Items = append(j.Items, it)
		res.CSVRows = append(res.CSVRows, append([]string{shown, u(it.Count), u(it.Lower), u(it.Upper), fmt.Sprint(it.Guaranteed)}, totals...))
		t.add(u(it.Count), u(it.Lower), u(it.Upper), text)
	}
	res.JSON = j
	res.Text = t.String() + countsLine(c, false) + "\n" +
		fmt.Sprintf("counts never fall below the truth; lower bounds hold with %.1f%% confidence\n", 100*j.Confidence)
	return res
}

// readKeys reads the keys of --keys-from: one per line, as input lines
// are split (a trailing \r is not part of the key, a last line needs no
// newline).
func readKeys(path string) ([]string, error) {
	if path == "-" {
		return nil, usagef("--keys-from -: stdin is for the input; give the keys in a file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &inputError{fmt.Errorf("--keys-from: %w", cleanPathError(err))}
	}
	var keys []string
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		keys = append(keys, string(bytes.TrimSuffix(line, []byte{'\r'})))
		data = rest
	}
	return keys, nil
}

// uniqueKeys drops repeated keys, keeping the first of each.
func uniqueKeys(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
