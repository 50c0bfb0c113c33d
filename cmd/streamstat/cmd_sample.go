package main

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// sample runs one worker, so that every record has its index in the
// stream and the sample can be shown in input order; Algorithm L looks at
// so few records that the worker is never the bottleneck.
func setupSample(o *options, args []string) (*spec, error) {
	if o.shed.on {
		return nil, noShed("sample")
	}
	k, seed := o.k, o.seed
	o.jobs = 1
	newRes := func() *sampling.Reservoir[sampleItem] {
		r, err := sampling.NewReservoir[sampleItem](k, seed)
		if err != nil {
			panic(err) // k was checked
		}
		r.SetCodec(sampleCodec{})
		return r
	}
	return &spec{
		cmd: "sample", args: args, opts: o,
		line:   pipeline.LineConfig{Field: o.field, Delimiter: o.delim},
		newOp:  func(int) (pipeline.Operator, error) { return &sampleOp{res: newRes()}, nil },
		newAgg: func() aggregate { return &sampleAgg{res: newRes(), tuple: o.st.parts > 1} },
	}, nil
}

// sampleItem is a sampled key and its index among the records.
type sampleItem struct {
	idx uint64
	key []byte
}

// sampleCodec encodes an item as its uvarint index, then its key.
type sampleCodec struct{}

func (sampleCodec) AppendItem(dst []byte, v sampleItem) []byte {
	return append(binary.AppendUvarint(dst, v.idx), v.key...)
}

func (sampleCodec) DecodeItem(src []byte) (sampleItem, error) {
	idx, n := binary.Uvarint(src)
	if n <= 0 || n != len(binary.AppendUvarint(nil, idx)) {
		return sampleItem{}, fmt.Errorf("sample item: bad index: %w", sketch.ErrCorrupt)
	}
	return sampleItem{idx: idx, key: bytes.Clone(src[n:])}, nil
}

// sampleOp is pipeline.Sample with record indexes.
type sampleOp struct {
	res *sampling.Reservoir[sampleItem]
	n   uint64 // records seen
}

func (o *sampleOp) Process(in, _ *pipeline.Batch) error {
	n := uint64(len(in.Records))
	for i := uint64(0); i < n; i++ {
		i += o.res.Discard(n - i)
		if i < n {
			o.res.Add(sampleItem{idx: o.n + i, key: bytes.Clone(in.Key(int(i)))})
		}
	}
	o.n += n
	return nil
}

type sampleAgg struct {
	res   *sampling.Reservoir[sampleItem]
	tuple bool // keys are composite (-f 1,3): shown as tuples
}

func (a *sampleAgg) addOp(op pipeline.Operator) error { return a.res.Merge(op.(*sampleOp).res) }

func (a *sampleAgg) merge(o aggregate) error { return a.res.Merge(o.(*sampleAgg).res) }

func (a *sampleAgg) appendState(dst []byte) ([]byte, error) { return a.res.AppendBinary(dst) }

func decodeSample(body []byte) (aggregate, error) {
	r := new(sampling.Reservoir[sampleItem])
	r.SetCodec(sampleCodec{})
	if err := r.UnmarshalBinary(body); err != nil {
		return nil, err
	}
	return &sampleAgg{res: r}, nil
}

type sampleJSON struct {
	Records uint64    `json:"records"`
	Items   []jsonKey `json:"items"`
	Skipped uint64    `json:"skipped"`
	Shed    uint64    `json:"shed"`
	K       int       `json:"k"`
}

// result shows the sample in input order (merged state files: by index,
// then key), one key per line in text: the text form is a filter's output.
func (a *sampleAgg) result(c counts) result {
	items := a.res.Sample()
	slices.SortFunc(items, func(x, y sampleItem) int {
		return cmp.Or(cmp.Compare(x.idx, y.idx), bytes.Compare(x.key, y.key))
	})
	j := sampleJSON{Records: c.Records, Items: []jsonKey{}, Skipped: c.Skipped, Shed: c.Shed, K: a.res.K()}
	// Every CSV row repeats the totals; n numbers the sampled keys, so
	// that an empty sample is one row with n and key empty.
	res := result{CSVHeader: []string{"n", "key", "records", "skipped", "shed", "k"}}
	totals := []string{u(c.Records), u(c.Skipped), u(c.Shed), fmt.Sprint(j.K)}
	var text bytes.Buffer
	for i, it := range items {
		if a.tuple {
			tk := pipeline.FormatTuple(it.key)
			j.Items = append(j.Items, newTupleJSONKey(it.key))
			res.CSVRows = append(res.CSVRows, append([]string{fmt.Sprint(i + 1), tk}, totals...))
			text.WriteString(tk)
			text.WriteByte('\n')
			continue
		}
		j.Items = append(j.Items, newJSONKey(it.key))
		res.CSVRows = append(res.CSVRows, append([]string{fmt.Sprint(i + 1), string(it.key)}, totals...))
		text.Write(it.key)
		text.WriteByte('\n')
	}
	if len(items) == 0 {
		res.CSVRows = [][]string{append([]string{"", ""}, totals...)}
	}
	res.JSON, res.Text, res.Filter = j, text.String(), true
	return res
}

// MarshalBinary implements pipeline.Stateful for checkpoints: the records
// seen, then the reservoir (whose RNG state it includes).
func (o *sampleOp) MarshalBinary() ([]byte, error) {
	return o.res.AppendBinary(binary.AppendUvarint(nil, o.n))
}

// UnmarshalBinary implements pipeline.Stateful; o must come from the same
// setupSample.
func (o *sampleOp) UnmarshalBinary(data []byte) error {
	r := envelope.NewReader(data)
	n := r.MinimalUvarint()
	if r.Err != nil {
		return fmt.Errorf("sample state: %w", r.Err)
	}
	res := new(sampling.Reservoir[sampleItem])
	res.SetCodec(sampleCodec{})
	if err := res.UnmarshalBinary(r.Bytes(r.Len())); err != nil {
		return err
	}
	if res.K() != o.res.K() {
		return fmt.Errorf("sample state: k %d, want %d: %w", res.K(), o.res.K(), sketch.ErrIncompatible)
	}
	o.res, o.n = res, n
	return nil
}
