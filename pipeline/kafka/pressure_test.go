package kafka

import (
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
)

// slowCountOp is a deliberately slow operator (cost per record) that
// counts its records by keep probability, so that the group's weighted
// count (Horvitz–Thompson) can be checked against what was produced.
type slowCountOp struct {
	cost time.Duration
	kept map[float32]uint64 // records kept, by KeepP (0: never shed)
}

func (o *slowCountOp) Process(in, out *pipeline.Batch) error {
	if o.cost > 0 {
		time.Sleep(time.Duration(len(in.Records)) * o.cost)
	}
	for i := range in.Records {
		o.kept[in.Records[i].KeepP]++
	}
	return nil
}

func (o *slowCountOp) MarshalBinary() ([]byte, error) {
	var b []byte
	for _, p := range slices.Sorted(maps.Keys(o.kept)) {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p))
		b = binary.AppendUvarint(b, o.kept[p])
	}
	return b, nil
}

func (o *slowCountOp) UnmarshalBinary(b []byte) error {
	o.kept = make(map[float32]uint64)
	return o.MergeBinary(b)
}

func (o *slowCountOp) MergeBinary(b []byte) error {
	for len(b) > 0 {
		if len(b) < 5 {
			return errors.New("slowCountOp: bad state")
		}
		p := math.Float32frombits(binary.LittleEndian.Uint32(b))
		n, k := binary.Uvarint(b[4:])
		if k <= 0 {
			return errors.New("slowCountOp: bad count")
		}
		o.kept[p] += n
		b = b[4+k:]
	}
	return nil
}

// runShedLoad runs one worker with a slow operator (cost per record) and
// an adaptive shedder (Random policy, MaxLatency 50 ms) over what feed
// produces, and returns the committed snapshots and their weighted count.
func runShedLoad(t *testing.T, cost time.Duration, feed func(c *cluster)) ([]Snapshot, shedding.WeightedCount, int) {
	c := newCluster(t)
	cfg := c.config()
	cfg.MaxPollRecords = 1200
	cfg.New = func(int32) (pipeline.Mergeable, error) {
		return &slowCountOp{cost: cost, kept: make(map[float32]uint64)}, nil
	}
	scfg := shedding.Config{Policy: shedding.Random, Controller: shedding.ControllerConfig{MaxLatency: 50 * time.Millisecond}}
	cfg.NewShedder = func(int32) (pipeline.Shedder, error) { return shedding.NewShedder(scfg) }
	w := start(t, cfg)
	feed(c)
	snaps := c.waitCommitted(t, 60*time.Second)
	w.stop(t, true)
	total := 0
	for _, e := range c.in.ends() {
		total += int(e)
	}
	var wc shedding.WeightedCount
	var shed uint64
	for _, s := range snaps {
		if s.Records+s.Shed+s.Skipped != uint64(s.Offset) {
			t.Errorf("partition %d at offset %d: %d records kept + %d shed + %d skipped: every offset must be accounted for", s.Partition, s.Offset, s.Records, s.Shed, s.Skipped)
		}
		op := &slowCountOp{}
		if err := op.UnmarshalBinary(s.State); err != nil {
			t.Fatal(err)
		}
		var kept uint64
		for p, n := range op.kept {
			wc.AddN(n, p)
			kept += n
		}
		if kept != s.Records {
			t.Errorf("partition %d: the operator counted %d records, the snapshot says %d kept", s.Partition, kept, s.Records)
		}
		shed += s.Shed
	}
	if shed > 0 {
		wc.AddShed(shed, float32(shedding.DefaultMinP))
	}
	return snaps, wc, total
}

// TestKafkaShedOverload: a worker fed faster than its operator can take
// (a backlog that would take it seconds to count) sheds, because its
// shedders see the poll loop busy and behind its input; still every
// offset is accounted for, and the weighted count's bounds cover the
// records produced.
func TestKafkaShedOverload(t *testing.T) {
	n := scale(60000)
	_, wc, total := runShedLoad(t, 50*time.Microsecond, func(c *cluster) { c.produce(t, n) })
	est := wc.Estimate()
	t.Logf("%d records produced, %d kept, %d shed; estimate %.0f [%.0f, %.0f]", total, wc.Kept(), wc.Shed(), est.Value, est.Lower, est.Upper)
	if wc.Shed() == 0 {
		t.Fatalf("nothing shed from a backlog of %d records at 50 µs a record, with a 50 ms latency target", total)
	}
	if !(est.Lower <= float64(total) && float64(total) <= est.Upper) {
		t.Errorf("weighted count %.0f [%.0f, %.0f] does not cover the %d records produced", est.Value, est.Lower, est.Upper, total)
	}
}

// TestKafkaShedNoOverload: fed well below its operator's capacity, a
// worker with an adaptive shedder sheds nothing, and its count is exact.
// (The operator costs nothing beyond counting: a sleep per batch, however
// short, takes a millisecond or more on a loaded machine, and makes the
// operator slow after all.)
func TestKafkaShedNoOverload(t *testing.T) {
	_, wc, total := runShedLoad(t, 0, func(c *cluster) {
		for range 40 { // 2000 records a second
			c.produce(t, 50)
			time.Sleep(25 * time.Millisecond)
		}
	})
	est := wc.Estimate()
	if wc.Shed() != 0 || !est.Exact || est.Value != float64(total) {
		t.Errorf("fed 2000 records a second: %d shed, estimate %.0f [%.0f, %.0f] exact %v; want nothing shed and exactly %d", wc.Shed(), est.Value, est.Lower, est.Upper, est.Exact, total)
	}
}
