package pipeline

import (
	"errors"
	"fmt"
	"math"

	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// The built-in operators below each wrap one sketch or sample, which the
// caller may make (to choose its shape) or leave nil: the zero value of
// every operator is usable, and makes its sketch with the documented
// defaults on first use (a batch, a checkpoint or a restore). Read the
// state through Pipeline.Query or QueryAs, after Run or between batches.
//
// Pass: every operator but Dedup is a sink unless its Pass field is set,
// in which case it also passes every record downstream unchanged (key,
// hash, value, time and KeepP), after counting it. Dedup is a filter: it
// passes the first occurrence of each key and has no Pass.
//
// Load shedding: a record that survived shedding (0 < Record.KeepP < 1)
// stands for 1/KeepP records. Frequency and HeavyHitters count it so when
// their Unit is set (fixed point, see Frequency); without Unit, and in
// Distinct, Sample and Stats, which cannot weigh it, Process fails with an
// error wrapping ErrShedRecord rather than give an answer that silently
// counts the kept records only. Package shedding has the operators made
// for shedding (shedding.Frequency and shedding.HeavyHitters are these two
// with Unit = shedding.Unit; under key-hash shedding shedding.DistinctHLL
// counts distinct keys in a plain HLL read with shedding.HLLDistinct, and
// merges, so it also counts the windows of a Window, and shedding.Distinct
// in a theta sketch, closer under heavy shedding, which does not) and the
// Summary that widens their bounds by the sampling error. Dedup passes
// records on with their KeepP and needs no scaling.
//
// An operator instance is not safe for concurrent use, like its sketch;
// the pipeline calls it from one goroutine, and Query locks it out while
// it processes a batch.

// ErrShedRecord: an operator that cannot weigh records by 1/KeepP was
// given a record that survived load shedding.
var ErrShedRecord = errors.New("pipeline: operator cannot count records kept by load shedding")

// Defaults of the operators' zero values.
const (
	// DefaultDedupItems and DefaultDedupFPRate shape the Bloom filter of a
	// zero Dedup: 1.2 MB, a 1% false-positive rate at a million keys.
	DefaultDedupItems  = 1_000_000
	DefaultDedupFPRate = 0.01
	// DefaultSampleSize is the size of the reservoir of a zero Sample
	// (seed 0).
	DefaultSampleSize = 100
)

// shedRecord returns the KeepP of the first record of in kept by load
// shedding at a probability below 1, or 0 if there is none.
func shedRecord(in *Batch) float32 {
	for i := range in.Records {
		if p := in.Records[i].KeepP; p > 0 && p < 1 {
			return p
		}
	}
	return 0
}

func shedError(op string, p float32, use string) error {
	return fmt.Errorf("pipeline: %s got a record kept at p = %g by load shedding, which stands for %g records; %s: %w", op, p, 1/p, use, ErrShedRecord)
}

// weight returns the fixed-point weight round(unit/keepP) of a record kept
// at keepP (unit for 0 or 1), as shedding.Units computes it.
func weight(unit uint64, keepP float32) uint64 {
	if keepP <= 0 || keepP >= 1 {
		return unit
	}
	return uint64(math.Round(float64(unit) / float64(keepP)))
}

// Distinct counts distinct keys with an HLL; a nil HLL is made at
// sketch.DefaultPrecision on first use. Records with KeepP < 1 are an
// error (ErrShedRecord): an HLL fed the keys that key-hash shedding kept
// can be scaled up (shedding.HLLDistinct reads the registers below the
// smallest p, which saw every key that maps to them), but under random or
// priority shedding no register is complete, and a record's KeepP does
// not say which policy kept it, so Distinct's own answer would silently
// count the kept keys only. Under key-hash shedding use
// shedding.DistinctHLL (the same HLL fed every kept hash; Mergeable, so it
// also runs as the slots of a Window), answered with shedding.HLLDistinct
// at the shedders' smallest p, or shedding.Distinct, a theta sketch,
// closer under heavy shedding but not Mergeable.
type Distinct struct {
	HLL *sketch.HLL
	// Pass also passes every record downstream.
	Pass bool
}

func (o *Distinct) sketch() *sketch.HLL {
	if o.HLL == nil {
		o.HLL = new(sketch.HLL)
	}
	return o.HLL
}

// Process implements Operator.
func (o *Distinct) Process(in, out *Batch) error {
	if p := shedRecord(in); p != 0 {
		return shedError("Distinct", p, "count distinct keys under key-hash shedding with shedding.DistinctHLL, read with shedding.HLLDistinct, or shedding.Distinct")
	}
	h := o.sketch()
	for i := range in.Records {
		h.AddHash(in.Records[i].Hash)
	}
	return pass(o.Pass, in, out)
}

// Frequency counts every key in a CountMin; a nil CM is made with the
// zero sketch.CountMin's default shape on first use.
//
// With Unit 0 a record counts 1, and a record kept by load shedding
// (KeepP < 1) is an error (ErrShedRecord). With Unit set, a record kept at
// p counts round(Unit/p) (Horvitz–Thompson, in fixed point; 1/p is rarely
// an integer): the sketch's counts are then in units of 1/Unit record, so
// divide its estimates by Unit. shedding.Unit (2^16) keeps the rounding
// error below 2^-17 of a record; shedding.Frequency is this operator with
// that Unit, and shedding.Summary.CountVariance gives the sampling
// variance to widen the bounds by (shedding.Widen).
type Frequency struct {
	CM *sketch.CountMin
	// Unit is the fixed-point weight of one record; 0 counts records one
	// each and refuses shed ones.
	Unit uint64
	// Pass also passes every record downstream.
	Pass bool
}

func (o *Frequency) sketch() *sketch.CountMin {
	if o.CM == nil {
		o.CM = new(sketch.CountMin)
	}
	return o.CM
}

// Process implements Operator.
func (o *Frequency) Process(in, out *Batch) error {
	cm := o.sketch()
	if o.Unit == 0 {
		if p := shedRecord(in); p != 0 {
			return shedError("Frequency", p, "set Frequency.Unit (e.g. shedding.Unit) to count it as 1/p")
		}
		for i := range in.Records {
			cm.AddHash(in.Records[i].Hash, 1)
		}
	} else {
		for i := range in.Records {
			r := &in.Records[i]
			cm.AddHash(r.Hash, weight(o.Unit, r.KeepP))
		}
	}
	return pass(o.Pass, in, out)
}

// HeavyHitters tracks the most frequent keys in a TopK; a nil TopK is the
// zero sketch.TopK, of sketch.DefaultTopKCapacity counters.
//
// Unit works as in Frequency: 0 counts records one each and refuses those
// kept by load shedding (ErrShedRecord); otherwise a record kept at p
// counts round(Unit/p), and counts are in units of 1/Unit record
// (shedding.TopItems reads them back with shedding.Unit).
// shedding.HeavyHitters is this operator with Unit = shedding.Unit.
type HeavyHitters struct {
	TopK *sketch.TopK
	// Unit is the fixed-point weight of one record; 0 counts records one
	// each and refuses shed ones.
	Unit uint64
	// Pass also passes every record downstream.
	Pass bool
}

func (o *HeavyHitters) sketch() *sketch.TopK {
	if o.TopK == nil {
		o.TopK = new(sketch.TopK)
	}
	return o.TopK
}

// Process implements Operator.
func (o *HeavyHitters) Process(in, out *Batch) error {
	t := o.sketch()
	if o.Unit != 0 {
		for i := range in.Records {
			t.AddHash(in.Records[i].Hash, in.Key(i), weight(o.Unit, in.Records[i].KeepP))
		}
		return pass(o.Pass, in, out)
	}
	if p := shedRecord(in); p != 0 {
		return shedError("HeavyHitters", p, "set HeavyHitters.Unit (e.g. shedding.Unit) to count it as 1/p")
	}
	// With counts of 1 the sketch takes the records in runs
	// (TopK.AddHashes): the updates that replace its minimum, nearly all
	// of them on a stream of mostly new keys, then run in one loop with
	// its state in registers. Weighted updates gain nothing from a run
	// (AddHashes gives each to AddHash).
	var hs [hhRun]uint64
	var ks [hhRun][]byte
	for lo := 0; lo < len(in.Records); lo += hhRun {
		rs := in.Records[lo:min(lo+hhRun, len(in.Records))]
		for j := range rs {
			hs[j], ks[j] = rs[j].Hash, in.Key(lo+j)
		}
		t.AddHashes(hs[:len(rs)], ks[:len(rs)])
	}
	return pass(o.Pass, in, out)
}

// hhRun is how many records HeavyHitters hands its sketch at once.
const hhRun = 128

// Dedup passes on only the first occurrence of each key, as far as its
// Bloom filter can tell: a new key is dropped with the filter's current
// false-positive rate, and a repeated key is never passed. A nil Bloom is
// made for DefaultDedupItems keys at DefaultDedupFPRate on first use.
// Dedup is a filter, so it has no Pass; records keep their KeepP.
type Dedup struct {
	Bloom *sketch.Bloom
}

func (o *Dedup) sketch() (*sketch.Bloom, error) {
	if o.Bloom == nil {
		b, err := sketch.NewBloom(DefaultDedupItems, DefaultDedupFPRate)
		if err != nil {
			return nil, err
		}
		o.Bloom = b
	}
	return o.Bloom, nil
}

// Process implements Operator.
func (o *Dedup) Process(in, out *Batch) error {
	b, err := o.sketch()
	if err != nil {
		return err
	}
	for i := range in.Records {
		if !b.TestAndAddHash(in.Records[i].Hash) {
			out.AddRecord(in, i)
		}
	}
	return nil
}

// Sample keeps a uniform sample of keys in a Reservoir; a nil Reservoir
// keeps DefaultSampleSize keys, seed 0. It looks only at the records that
// enter the sample (Algorithm L's skips), and copies their keys, so the
// sample outlives the batch. A sample of the records kept by load
// shedding would not be uniform over the records that arrived, so records
// with KeepP < 1 are an error (ErrShedRecord).
type Sample struct {
	Reservoir *sampling.Reservoir[[]byte]
	// Pass also passes every record downstream.
	Pass bool
}

func (o *Sample) sample() (*sampling.Reservoir[[]byte], error) {
	if o.Reservoir == nil {
		r, err := sampling.NewReservoir[[]byte](DefaultSampleSize, 0)
		if err != nil {
			return nil, err
		}
		o.Reservoir = r
	}
	return o.Reservoir, nil
}

// Process implements Operator.
func (o *Sample) Process(in, out *Batch) error {
	if p := shedRecord(in); p != 0 {
		return shedError("Sample", p, "sample before shedding or turn shedding off")
	}
	r, err := o.sample()
	if err != nil {
		return err
	}
	n := uint64(len(in.Records))
	for i := uint64(0); i < n; i++ {
		i += r.Discard(n - i)
		if i < n {
			r.Add(append([]byte(nil), in.Key(int(i))...))
		}
	}
	return pass(o.Pass, in, out)
}

// Stats summarises the numeric values of records (those with HasValue) in
// Moments and, if set, a KLL quantile sketch; a nil Moments is made empty
// on first use, and a nil Quantiles means no quantiles. Records without a
// value are counted in Missing. Records kept by load shedding (KeepP < 1)
// are an error (ErrShedRecord): their counts and quantiles would describe
// the kept records only.
type Stats struct {
	Moments   *sampling.Moments
	Quantiles *sampling.KLL
	Missing   uint64
	// Pass also passes every record downstream.
	Pass bool
}

func (o *Stats) moments() *sampling.Moments {
	if o.Moments == nil {
		o.Moments = new(sampling.Moments)
	}
	return o.Moments
}

// Process implements Operator.
func (o *Stats) Process(in, out *Batch) error {
	if p := shedRecord(in); p != 0 {
		return shedError("Stats", p, "summarise values before shedding or turn shedding off")
	}
	m := o.moments()
	for i := range in.Records {
		r := &in.Records[i]
		if !r.HasValue {
			o.Missing++
			continue
		}
		m.Add(r.Value)
		if o.Quantiles != nil {
			o.Quantiles.Add(r.Value)
		}
	}
	return pass(o.Pass, in, out)
}

func pass(on bool, in, out *Batch) error {
	if on {
		for i := range in.Records {
			out.AddRecord(in, i)
		}
	}
	return nil
}
