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
	shed *sketch.TopK // records kept at p < 1, counted Units(p); nil until one is
}

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
			if o.shed == nil {
				t, err := o.newTopK()
				if err != nil {
					return err
				}
				o.shed = t
			}
			o.shed.AddHash(rs[i].Hash, in.Key(i), Units(p))
		} else {
			o.unit.AddHash(rs[i].Hash, in.Key(i), 1)
		}
	}
	return pass(o.Pass, in, out)
}

// TopK returns a new TopK of every record processed, in units of 1/Unit
// record, as HeavyHitters' TopK: read it with TopItems. o is not
// modified.
func (o *TopKeys) TopK() *sketch.TopK {
	var t *sketch.TopK
	if o.unit != nil {
		t = o.unit.Clone()
		for range unitDoublings {
			_ = t.Merge(t) // doubles every count and error; a TopK merges with itself
		}
	} else {
		var err error
		if t, err = o.newTopK(); err != nil {
			t = new(sketch.TopK) // a bad Capacity: Process reported it
		}
	}
	if o.shed != nil {
		_ = t.Merge(o.shed) // any capacities merge
	}
	return t
}

// MarshalBinary implements pipeline.Stateful: the encoding of TopK().
func (o *TopKeys) MarshalBinary() ([]byte, error) { return o.TopK().MarshalBinary() }

// UnmarshalBinary implements pipeline.Stateful: the state (in units) goes
// on as the TopK of shed records, and the unit one starts empty.
func (o *TopKeys) UnmarshalBinary(b []byte) error {
	t := new(sketch.TopK)
	if err := t.UnmarshalBinary(b); err != nil {
		return err
	}
	u, err := o.newTopK()
	if err != nil {
		return err
	}
	o.unit, o.shed = u, t
	return nil
}
