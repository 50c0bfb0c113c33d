package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/cputime"
	"github.com/streamstat/streamstat/sketch"
)

// slotStream returns n hashes over about distinct keys; clustered ones
// share their top bits, so that many keys make a short sparse list.
func slotStream(rng *rand.Rand, n, distinct int, clustered bool) []uint64 {
	pool := make([]uint64, max(distinct, 1))
	for i := range pool {
		pool[i] = rng.Uint64()
		if clustered {
			pool[i] = pool[i]>>20 | 0x5a5a5<<44
		}
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = pool[rng.IntN(len(pool))]
	}
	return out
}

func slotBatches(hs []uint64, rng *rand.Rand) []*Batch {
	var bs []*Batch
	for len(hs) > 0 {
		k := min(len(hs), 1+rng.IntN(3000))
		b := new(Batch)
		for _, h := range hs[:k] {
			b.AddHashed(nil, h)
		}
		bs = append(bs, b)
		hs = hs[k:]
	}
	return bs
}

// TestDistinctSlotEqualsFresh: a distinctSlot writes the bytes of a fresh
// Distinct fed the same records, sparse or dense, at several precisions
// and on both sides of the turn to dense; restored from those bytes and
// fed more, it writes the bytes of a Distinct fed everything; reset, it
// is empty again.
func TestDistinctSlotEqualsFresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	for _, p := range []int{4, 10, 14} {
		for _, distinct := range []int{0, 1, 7, 100, 2000, 3000, 5000, 7000, 9000, 40000} {
			for _, clustered := range []bool{false, true} {
				name := fmt.Sprintf("p=%d,distinct=%d,clustered=%v", p, distinct, clustered)
				hs := slotStream(rng, 3*distinct+1, distinct, clustered)
				if distinct == 0 {
					hs = nil
				}
				h, _ := sketch.NewHLL(p)
				fresh := &Distinct{HLL: h}
				slot := newDistinctSlot(uint8(p))
				out := new(Batch)
				for _, b := range slotBatches(hs, rng) {
					if err := fresh.Process(b, out); err != nil {
						t.Fatal(err)
					}
					if err := slot.Process(b, out); err != nil {
						t.Fatal(err)
					}
				}
				want, _ := fresh.MarshalBinary()
				got, err := slot.MarshalBinary()
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: slot state differs from a fresh Distinct's (%d vs %d bytes, err %v)", name, len(got), len(want), err)
				}
				// Restore and go on.
				more := slotStream(rng, distinct+50, distinct/2+10, clustered)
				again := newDistinctSlot(uint8(p))
				if err := again.UnmarshalBinary(got); err != nil {
					t.Fatalf("%s: restore: %v", name, err)
				}
				for _, b := range slotBatches(more, rng) {
					fresh.Process(b, out)
					again.Process(b, out)
				}
				want, _ = fresh.MarshalBinary()
				if got, _ := again.MarshalBinary(); !bytes.Equal(got, want) {
					t.Fatalf("%s: restored slot fed more differs from a Distinct fed everything", name)
				}
				if err := again.UnmarshalBinary(slot.empty); err != nil {
					t.Fatal(err)
				}
				if got, _ := again.MarshalBinary(); !bytes.Equal(got, slot.empty) {
					t.Fatalf("%s: reset slot is not empty", name)
				}
			}
		}
	}
}

func TestSparseKeyRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 25))
	for range 100000 {
		x := rng.Uint64() >> rng.IntN(40)
		for _, p := range []uint8{4, 14, 18} {
			i, r := sparseDecode(sparseKey(x, p), p)
			wi := x >> (64 - p)
			wr := uint8(0)
			for b := 63 - int(p); b >= 0 && x&(1<<b) == 0; b-- {
				wr++
			}
			wr = min(wr+1, 65-p)
			if uint64(i) != wi || r != wr {
				t.Fatalf("x %#x p %d: decoded (%d, %d), want (%d, %d)", x, p, i, r, wi, wr)
			}
		}
	}
}

// TestDistinctSlotAllocs: in its dense phase a slot allocates nothing.
func TestDistinctSlotAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	slot := newDistinctSlot(14)
	bs := slotBatches(slotStream(rng, 200000, 100000, false), rng)
	out := new(Batch)
	for _, b := range bs {
		slot.Process(b, out)
	}
	if !slot.dense {
		t.Fatal("100000 keys and not dense")
	}
	i := 0
	if a := testing.AllocsPerRun(len(bs)-1, func() { slot.Process(bs[i], out); i++ }); a != 0 {
		t.Errorf("got %v allocation(s) per batch (want zero)", a)
	}
}

// craftedHashes returns n hashes whose sparse keys at precision p are all
// in their odd form (the index's low 25-p bits zero), so that they share
// the last bucket of distinctSlot.sorted: hashes a user can find by trial
// among keys of their own.
func craftedHashes(rng *rand.Rand, n int, p uint8) []uint64 {
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = rng.Uint64() &^ ((uint64(1)<<(25-p) - 1) << 39)
	}
	return hs
}

// TestDistinctSlotCraftedHashes: hashes crafted to share a bucket of the
// slot's key sort give the bytes of a fresh Distinct, and cost about what
// as many random hashes do, not their square: at precision 18, 2^18 such
// hashes took 185 times the CPU time of random ones before the buckets
// were sorted each on its own (6.5 s against 35 ms); the bound here is
// 20 times, which n log n keeps well within on a loaded machine.
func TestDistinctSlotCraftedHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 25))
	h, _ := sketch.NewHLL(14)
	fresh, slot, out := &Distinct{HLL: h}, newDistinctSlot(14), new(Batch)
	for _, b := range slotBatches(craftedHashes(rng, 1<<15, 14), rng) {
		fresh.Process(b, out)
		slot.Process(b, out)
	}
	want, _ := fresh.MarshalBinary()
	if got, _ := slot.MarshalBinary(); !bytes.Equal(got, want) {
		t.Fatal("crafted hashes: slot state differs from a fresh Distinct's")
	}
	if testing.Short() || !cputime.Available {
		return
	}
	cost := func(hs []uint64) time.Duration {
		bs := slotBatches(hs, rng)
		s := newDistinctSlot(18)
		c0 := cputime.Process()
		for _, b := range bs {
			s.Process(b, out)
		}
		return cputime.Process() - c0
	}
	const n = 1 << 18
	random := cost(slotStream(rng, n, n, false))
	crafted := cost(craftedHashes(rng, n, 18))
	if crafted > 20*max(random, time.Millisecond) {
		t.Errorf("%d crafted hashes cost %v of CPU, %d random ones %v: superlinear", n, crafted, n, random)
	}
}

// TestWindowDistinctShedRecord: a Window of Distincts refuses a record
// kept by load shedding, as Distinct does (ErrShedRecord), and says what
// counts a window's distinct keys under shedding: a Window of
// shedding.DistinctHLL (Distinct's own advice, shedding.Distinct, a theta
// sketch, does not merge, so no Window runs it).
func TestWindowDistinctShedRecord(t *testing.T) {
	w := &Window{Size: time.Minute, EventTime: true}
	b := new(Batch)
	b.AddHashed([]byte("k"), 1).Time = int64(time.Hour)
	b.AddHashed([]byte("k2"), 2)
	b.Records[1].Time, b.Records[1].KeepP = int64(time.Hour), 0.5
	err := w.Process(b, new(Batch))
	if !errors.Is(err, ErrShedRecord) || !strings.Contains(err.Error(), "Window of shedding.DistinctHLL") {
		t.Fatalf("got %v, want ErrShedRecord naming a Window of shedding.DistinctHLL", err)
	}
}
