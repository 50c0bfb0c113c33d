package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamstat/streamstat/sketch"
)

// groupKey is the composite key (group, value), as AppendTuplePart makes.
func groupKey(dst []byte, group, value string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(group)))
	dst = append(dst, group...)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// groupBatches returns n (page, user) records, pages and users Zipf
// distributed, in batches of 1024, with times 10 µs apart from t0.
func groupBatches(seed uint64, n int, t0 int64) []*Batch {
	rng := rand.New(rand.NewPCG(seed, 9))
	pages := rand.NewZipf(rng, 1.1, 1, 9999)
	users := rand.NewZipf(rng, 1.05, 1, 99999)
	var bs []*Batch
	var key []byte
	for i := range n {
		if i%1024 == 0 {
			bs = append(bs, new(Batch))
		}
		key = groupKey(key[:0], fmt.Sprintf("/p/%d", pages.Uint64()), fmt.Sprintf("u%d", users.Uint64()))
		bs[len(bs)-1].Add(key).Time = t0 + int64(i)*10_000
	}
	return bs
}

func TestGroupDistinctOperator(t *testing.T) {
	bs := groupBatches(1, 50000, 1)
	op := new(GroupDistinct)
	direct := new(sketch.GroupDistinct)
	out := new(Batch)
	for _, b := range bs {
		if err := op.Process(b, out); err != nil {
			t.Fatal(err)
		}
		for i := range b.Records {
			g, _ := GroupOf(b.Key(i))
			direct.AddPair(b.Records[i].Hash, g)
		}
	}
	// The record hash of a two-part key is the pair hash.
	if got, want := bs[0].Records[0].Hash, sketch.PairHash(mustGroup(t, bs[0].Key(0)), bs[0].Key(0)[len(mustGroup(t, bs[0].Key(0)))+2:]); got != want {
		t.Fatalf("record hash %#x, PairHash %#x", got, want)
	}
	a, _ := op.Sketch.MarshalBinary()
	d, _ := direct.MarshalBinary()
	if !bytes.Equal(a, d) {
		t.Fatal("operator and sketch fed the same pairs differ")
	}
	if op.Skipped != 0 || out.Len() != 0 {
		t.Fatalf("skipped %d, passed %d", op.Skipped, out.Len())
	}
	// Keys that are not (group, value) are skipped, and counted.
	bad := new(Batch)
	bad.Add([]byte("plain line"))
	bad.Add(binary.AppendUvarint(nil, 3))
	bad.Add(append(binary.AppendUvarint(nil, 3), "abc"...)) // a group, no value
	if err := op.Process(bad, out); err != nil || op.Skipped != 3 {
		t.Fatalf("err %v, skipped %d, want 3", err, op.Skipped)
	}
	top := op.Sketch.Top(3)
	if string(top[0].Key) != "/p/0" {
		t.Fatalf("top group %s, want /p/0", top[0].Key)
	}
	// Shed records are refused.
	shed := new(Batch)
	shed.Add(groupKey(nil, "g", "v")).KeepP = 0.5
	if err := new(GroupDistinct).Process(shed, out); !errors.Is(err, ErrShedRecord) {
		t.Fatalf("shed record: %v", err)
	}
}

func mustGroup(t *testing.T, key []byte) []byte {
	g, ok := GroupOf(key)
	if !ok {
		t.Fatalf("%q has no group", key)
	}
	return g
}

// TestGroupDistinctMergeState: instances fed parts of a stream merge
// (MergeBinary) into the state of one fed all of it, and a state
// restores.
func TestGroupDistinctMergeState(t *testing.T) {
	bs := groupBatches(2, 60000, 1)
	whole, parts := new(GroupDistinct), []*GroupDistinct{{}, {}, {}}
	out := new(Batch)
	for i, b := range bs {
		if err := whole.Process(b, out); err != nil {
			t.Fatal(err)
		}
		if err := parts[i%3].Process(b, out); err != nil {
			t.Fatal(err)
		}
	}
	parts[1].Skipped = 2
	merged := new(GroupDistinct)
	for _, p := range parts {
		st, _ := p.MarshalBinary()
		if err := merged.MergeBinary(st); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := whole.Sketch.MarshalBinary()
	m, _ := merged.Sketch.MarshalBinary()
	if !bytes.Equal(w, m) || merged.Skipped != 2 {
		t.Fatalf("merged parts differ from the whole (skipped %d)", merged.Skipped)
	}
	st, _ := merged.MarshalBinary()
	var back GroupDistinct
	if err := back.UnmarshalBinary(st); err != nil {
		t.Fatal(err)
	}
	again, _ := back.MarshalBinary()
	if !bytes.Equal(st, again) {
		t.Fatal("state does not round-trip")
	}
	if err := back.UnmarshalBinary(st[:len(st)-1]); err == nil {
		t.Fatal("truncated state accepted")
	}
	if err := back.UnmarshalBinary(nil); err == nil {
		t.Fatal("empty state accepted")
	}
}

// TestWindowOfGroups: a sliding window of GroupDistinct answers each
// window with the groups of that window's records only.
func TestWindowOfGroups(t *testing.T) {
	bs := groupBatches(3, 30000, 1) // 0.3 s of event time
	var answers []string
	w := &Window{
		New:  func() (Mergeable, error) { return new(GroupDistinct), nil },
		Size: 100 * time.Millisecond, Slide: 50 * time.Millisecond, EventTime: true,
		OnWindow: func(a WindowAnswer) error {
			top := a.Op.(*GroupDistinct).Sketch.Top(1)
			answers = append(answers, fmt.Sprintf("%d %s", a.Records, top[0].Key))
			return nil
		},
	}
	for _, b := range bs {
		if err := w.Process(b, new(Batch)); err != nil {
			t.Fatal(err)
		}
	}
	if len(answers) != 5 {
		t.Fatalf("%d windows: %q", len(answers), answers)
	}
	for _, a := range answers[1:] {
		if a != "10000 /p/0" {
			t.Fatalf("window answer %q, want 10000 records led by /p/0", a)
		}
	}
}

// TestGroupKeyIsTuple: the (group, value) key GroupDistinct reads is the
// two-part composite key of AppendTuplePart, and its hash is
// sketch.PairHash, whatever bytes the parts hold.
func TestGroupKeyIsTuple(t *testing.T) {
	for _, tc := range [][2]string{{"", ""}, {"/p/1", "u7"}, {"a\x00b", "c d,e"}, {string(make([]byte, 300)), "v"}} {
		key := AppendTuplePart(AppendTuplePart(nil, []byte(tc[0])), []byte(tc[1]))
		if !bytes.Equal(key, groupKey(nil, tc[0], tc[1])) {
			t.Fatalf("%q: AppendTuplePart and the tests' key differ", tc)
		}
		if sketch.Hash(key) != sketch.PairHash([]byte(tc[0]), []byte(tc[1])) {
			t.Fatalf("%q: record hash is not PairHash", tc)
		}
		g, ok := GroupOf(key)
		if !ok || string(g) != tc[0] {
			t.Fatalf("%q: GroupOf = %q, %v", tc, g, ok)
		}
	}
}
