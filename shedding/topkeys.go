package shedding

import (
	"cmp"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// TopKeys tracks the most frequent keys as HeavyHitters does (each record
// kept at p counts Units(p), read with TopItems), but costs no more than a
// plain TopK while nothing is shed: records never shed (KeepP 0 or 1) go
// to a TopK that counts each 1, on its fast path for unit counts (fed a
// constant 2^16 per record, a TopK costs up to 3x as much on a Zipf
// stream, its levels not one count apart), and records kept at p < 1 to a
// second TopK of the same capacity, fed Units(p). TopK merges them in
// units: the first's counts and errors multiplied by Unit (16 merges with
// itself, each doubling them exactly), merged into the second, with the
// guarantees of one TopK of that capacity over all the records
// (sketch.TopK.Merge). The answer is then HeavyHitters' to within the
// order in which ties are replaced. When the controller stops shedding
// (or never starts), the records go back to the fast TopK: a job that
// sheds for a while does not stay slower for it.
//
// Shed records are counted at one p at a time: a TopK fed weights that
// change (the controller moves p every tick) costs 3-4 times what one fed
// a constant weight does (BenchmarkTopKWeights), its counts no longer
// falling on a few levels. So the records kept at p go to a TopK of their
// own, which, once p changes and it has taken foldMin times its capacity
// of records, is merged into the TopK of the records shed before and
// starts anew; a merge costs about what a few thousand updates do, once
// per change of p. (Under foldMin records, the new p's records go on into
// the same TopK, at their own weight.)
//
// Its zero value is ready to use, with TopKs of sketch.DefaultTopKCapacity
// counters. It is a pipeline.Stateful operator, its state that of
// HeavyHitters (the merged TopK's encoding). Not safe for concurrent use;
// the pipeline calls it from one goroutine, and Pipeline.Query locks it
// out while it processes a batch.
type TopKeys struct {
	// Capacity is the number of counters of each TopK; 0 means
	// sketch.DefaultTopKCapacity. Set it before the first record.
	Capacity int
	// Pass passes every record downstream, as HeavyHitters does.
	Pass bool

	unit *sketch.TopK // records never shed, counted 1 each
	shed *sketch.TopK // records kept at p < 1 before cur's, counted Units(p); nil until one is
	cur  *sketch.TopK // the latest records kept at p < 1, counted Units(p); nil until one is
	curP float32      // the p of the last record cur took
	curN int          // records cur took
}

// foldMin is how many times its capacity in records cur takes before a
// change of p folds it into shed: a merge costs about as much as a few
// thousand updates.
const foldMin = 4

var _ pipeline.Stateful = (*TopKeys)(nil)

// unitDoublings is log2(Unit): scaling to units doubles this often.
const unitDoublings = 16

var _ [0]struct{} = [Unit - 1<<unitDoublings]struct{}{} // Unit is 2^16

func (o *TopKeys) newTopK() (*sketch.TopK, error) {
	return sketch.NewTopK(cmp.Or(o.Capacity, sketch.DefaultTopKCapacity))
}

// Process implements pipeline.Operator.
func (o *TopKeys) Process(in, out *pipeline.Batch) error {
	if o.unit == nil {
		t, err := o.newTopK()
		if err != nil {
			return err
		}
		o.unit = t
	}
	rs := in.Records
	for i := range rs {
		if p := rs[i].KeepP; p > 0 && p < 1 {
			if p != o.curP || o.cur == nil {
				if err := o.switchP(p); err != nil {
					return err
				}
			}
			o.cur.AddHash(rs[i].Hash, in.Key(i), Units(p))
			o.curN++
		} else {
			o.unit.AddHash(rs[i].Hash, in.Key(i), 1)
		}
	}
	return pass(o.Pass, in, out)
}

// switchP makes cur the TopK of records kept at p: cur folded into shed
// first if it has taken enough records.
func (o *TopKeys) switchP(p float32) error {
	o.curP = p
	if o.cur == nil {
		t, err := o.newTopK()
		if err != nil {
			return err
		}
		o.cur = t
		return nil
	}
	if o.curN < foldMin*o.cur.Capacity() {
		return nil
	}
	if o.shed == nil {
		t, err := o.newTopK()
		if err != nil {
			return err
		}
		o.shed = t
	}
	if err := o.shed.Merge(o.cur); err != nil {
		return err
	}
	o.cur.Reset()
	o.curN = 0
	return nil
}

// TopK returns a new TopK of every record processed, in units of 1/Unit
// record, as HeavyHitters' TopK: read it with TopItems. o is not
// modified.
func (o *TopKeys) TopK() *sketch.TopK {
	var t *sketch.TopK
	if o.unit != nil {
		t = o.unit.Clone()
		ToUnits(t)
	} else {
		var err error
		if t, err = o.newTopK(); err != nil {
			t = new(sketch.TopK) // a bad Capacity: Process reported it
		}
	}
	for _, s := range []*sketch.TopK{o.shed, o.cur} {
		if s != nil {
			_ = t.Merge(s) // any capacities merge
		}
	}
	return t
}

// AddTo merges what o counted into two TopKs: the records never shed into
// records, counted 1 each, and those kept at p < 1 into units, counted
// Units(p) each. o is not modified. TopK is records scaled to units (by
// Unit) and merged with units: a caller that merges several TopKeys (one
// per worker) merges their parts first and scales once, and while nothing
// was shed (units empty) has its answer in records, as a plain TopK's,
// without scaling at all (scaling doubles a TopK 16 times).
func (o *TopKeys) AddTo(records, units *sketch.TopK) error {
	if o.unit != nil {
		if err := records.Merge(o.unit); err != nil {
			return err
		}
	}
	for _, s := range []*sketch.TopK{o.shed, o.cur} {
		if s != nil {
			if err := units.Merge(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// ToUnits turns t, a TopK counting records 1 each, into one counting
// them Unit each (as TopKeys.TopK and HeavyHitters with Unit set count
// records kept at p = 1), in place.
func ToUnits(t *sketch.TopK) {
	if scaleTopK(t, unitDoublings) {
		return
	}
	for range unitDoublings {
		_ = t.Merge(t) // doubles every count and error; a TopK merges with itself
	}
}

// MarshalBinary implements pipeline.Stateful: the encoding of TopK().
func (o *TopKeys) MarshalBinary() ([]byte, error) { return o.TopK().MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful: the state (in units) goes
// on as the TopK of the records shed before, and the others start empty.
func (o *TopKeys) UnmarshalBinary(b []byte) error {
	t := new(sketch.TopK)
	if err := t.UnmarshalBinary(b); err != nil {
		return err
	}
	u, err := o.newTopK()
	if err != nil {
		return err
	}
	o.unit, o.shed, o.cur, o.curN = u, t, nil, 0
	return nil
}
