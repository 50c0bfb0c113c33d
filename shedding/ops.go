package shedding

import (
	"math"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// Pipeline operators that count what was kept and answer for what arrived.
// Each is a sink unless Pass is set, in which case it also passes every
// record (KeepP included) downstream. Their zero values are usable: a nil
// sketch is made with its type's defaults on first use (a batch, a
// checkpoint or a restore). An operator instance is not safe for
// concurrent use; the pipeline calls it from one goroutine and
// Pipeline.Query locks it out while it processes a batch. Merge the
// instances' sketches to answer, then scale with the Summary of the
// pipeline's Group.
//
// Frequency and HeavyHitters count exactly as pipeline.Frequency and
// pipeline.HeavyHitters with Unit set to Unit (the same sketch state from
// the same records); pipeline.Distinct, an HLL, refuses shed records,
// where Distinct here counts them in a ThetaDistinct (a plain HLL fed
// every kept record's hash and read with HLLDistinct does as well, at no
// cost per record: DistinctHLL, which also runs in a pipeline.Window). TopKeys answers as HeavyHitters but costs no more
// than a plain TopK while nothing is shed: prefer it where shedding is
// rare.

// Count counts records: a WeightedCount of what arrived. Its zero value
// is ready to use. It sees only the records kept; answer with Answer,
// which accounts for what the shedders dropped.
type Count struct {
	Count WeightedCount
	Pass  bool
}

// Answer returns the count of what arrived, with what s (the Summary of
// the pipeline's Group, taken after the records counted were processed)
// says was shed told to it (WeightedCount.AddShed at s.MinP, the smallest
// p in force): never Exact once anything was shed, and its upper bound
// allows for the records that may hide behind the smallest p. Merge the
// instances' counts into one Count first: the Summary covers them all.
// o is not modified.
func (o *Count) Answer(s Summary) WeightedCount {
	w := o.Count
	if s.Shed > 0 {
		// Records were shed, so some p was below 1; a Summary that says
		// otherwise (built by hand) is read at the most cautious p.
		p := float32(s.MinP)
		if !(p > 0 && p < 1) {
			p = float32(DefaultMinP)
		}
		w.AddShed(s.Shed, p)
	}
	return w
}

// Process implements pipeline.Operator.
func (o *Count) Process(in, out *pipeline.Batch) error {
	for i := range in.Records {
		o.Count.Add(in.Records[i].KeepP)
	}
	return pass(o.Pass, in, out)
}

// Frequency counts every key in a CountMin, each record as Units(KeepP):
// read with FromUnits, and Widen by Summary.CountVariance. Use it under
// Random shedding. A nil CM is the zero sketch.CountMin.
type Frequency struct {
	CM   *sketch.CountMin
	Pass bool
}

// Process implements pipeline.Operator.
func (o *Frequency) Process(in, out *pipeline.Batch) error {
	cm := o.cm()
	for i := range in.Records {
		cm.AddHash(in.Records[i].Hash, Units(in.Records[i].KeepP))
	}
	return pass(o.Pass, in, out)
}

// HeavyHitters tracks the most frequent keys in a TopK, each record as
// Units(KeepP): read with TopItems. Use it under Random shedding. A nil
// TopK is the zero sketch.TopK.
type HeavyHitters struct {
	TopK *sketch.TopK
	Pass bool
}

// Process implements pipeline.Operator.
func (o *HeavyHitters) Process(in, out *pipeline.Batch) error {
	t := o.topk()
	for i := range in.Records {
		t.AddHash(in.Records[i].Hash, in.Key(i), Units(in.Records[i].KeepP))
	}
	return pass(o.Pass, in, out)
}

// Distinct counts distinct keys in a ThetaDistinct. Use it under KeyHash
// shedding, and call LowerTheta with the Group's Summary().MinP before
// estimating. A nil Theta is the zero ThetaDistinct.
type Distinct struct {
	Theta *ThetaDistinct
	Pass  bool

	below []int32 // Process's scratch: the records below theta
}

// Process implements pipeline.Operator. It does what AddHashP does for
// every record, with the test that rejects a hash at or above theta (most
// records, once the sketch is full) made here rather than in two calls
// per record, and a key seen lately found in a small cache rather than
// in the sketch's table: while nothing is shed, the theta sketch then
// costs about what an HLL does. A batch none of whose records was shed
// (KeepP 0 or 1) is first scanned, without a branch or a call, for the
// records below theta (a few percent, once the sketch is full), and only
// those are looked at: in the one loop the call into the sketch kept the
// loop's variables on the stack, and cat zipf20m | distinct --shed took
// 3-5% more CPU (perf stat task-clock, medians of 7 and 9 alternated
// runs).
func (o *Distinct) Process(in, out *pipeline.Batch) error {
	th := o.theta()
	recs := in.Records
	if th.cut && len(recs) <= math.MaxInt32 {
		if cap(o.below) < len(recs) {
			o.below = make([]int32, len(recs))
		}
		below := o.below[:len(recs)]
		theta, n, shed := th.theta, 0, 0
		for i := range recs {
			below[n] = int32(i)
			n += b2i(recs[i].Hash < theta)
			kb := math.Float32bits(recs[i].KeepP)
			shed |= b2i(kb != 0 && kb != one32)
		}
		if shed == 0 {
			th.addBelow(recs, below[:n])
			return pass(o.Pass, in, out)
		}
	}
	th.addRecords(recs)
	return pass(o.Pass, in, out)
}

// one32 is the bits of float32(1).
var one32 = math.Float32bits(1)

// addRecords adds the records' hashes as AddHashP does, one by one.
func (th *ThetaDistinct) addRecords(recs []pipeline.Record) {
	// theta, cut and lastP in locals (registers), read again after
	// every call that may change them.
	theta, cut, lastP := th.theta, th.cut, th.lastP
	for i := range recs {
		h, kp := recs[i].Hash, recs[i].KeepP
		if kp != lastP && kp > 0 && kp < 1 {
			th.lastP, lastP = kp, kp
			th.lowerTheta(max(threshold(float64(kp)), 1))
			theta, cut = th.theta, th.cut
		}
		if cut && h >= theta {
			continue
		}
		theta, cut = th.addRecent(h)
	}
}

// addBelow adds the hashes of recs[i] for i in idx, in order: records
// never shed, every one of the batch below theta when idx was made (theta
// only falls meanwhile).
func (th *ThetaDistinct) addBelow(recs []pipeline.Record, idx []int32) {
	theta := th.theta
	for _, i := range idx {
		if h := recs[i].Hash; h < theta {
			theta, _ = th.addRecent(h)
		}
	}
}

// addRecent adds h, below theta, unless the cache of recent hashes holds
// it, and returns theta and cut as they are then.
func (th *ThetaDistinct) addRecent(h uint64) (uint64, bool) {
	c := &th.recent[h&(recentLen-1)]
	if *c == h && h != 0 {
		return th.theta, th.cut // held (see ThetaDistinct.recent)
	}
	th.AddHash(h)
	*c = h // held, or dropped by a shrink: then at or above theta
	return th.theta, th.cut
}

// b2i is 1 for true and 0 for false, without a branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func pass(on bool, in, out *pipeline.Batch) error {
	if on {
		for i := range in.Records {
			out.AddRecord(in, i)
		}
	}
	return nil
}

// Item is a heavy hitter with its count scaled back to records: a plain
// value.
type Item struct {
	Key string `json:"key"`
	// Count is the estimated number of the key's records that arrived,
	// with bounds that hold the TopK's own error and the sampling error.
	Count sketch.Estimate `json:"count"`
	// Guaranteed is the TopK's: the key is certainly among the most
	// frequent of the records kept.
	Guaranteed bool `json:"guaranteed"`
}

// TopItems returns the k heaviest keys of a TopK fed Units(KeepP) (see
// HeavyHitters), counts in records. Each count's bounds are the TopK's
// certain ones widened by the sampling error at the given confidence,
// with the variance of s.CountVariance; without shedding they stay
// certain (Confidence 1).
func TopItems(t *sketch.TopK, k int, s Summary, confidence float64) []Item {
	checkConfidence(confidence)
	top := t.Top(k)
	items := make([]Item, len(top))
	for i, it := range top {
		// The TopK's bounds are certain: confidence 1.
		e := sketch.Estimate{
			Value: float64(it.Count) / Unit, Lower: float64(it.Lower) / Unit, Upper: float64(it.Upper) / Unit,
			Confidence: 1, Exact: it.Error == 0,
		}
		e = Widen(e, s.CountVariance(e.Value), confidence)
		items[i] = Item{Key: it.Key, Count: e, Guaranteed: it.Guaranteed}
	}
	return items
}
