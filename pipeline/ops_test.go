package pipeline

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

// opsBatch returns a batch of n records with keys k0..k(n/2-1), each twice,
// values 0..n-1 on every other record, and KeepP keepP.
func opsBatch(n int, keepP float32) *Batch {
	var b Batch
	for i := range n {
		r := b.Add(strconv.AppendInt([]byte("k"), int64(i/2), 10))
		r.KeepP = keepP
		if i%2 == 0 {
			r.Value, r.HasValue = float64(i), true
		}
	}
	return &b
}

// TestOperatorZeroValues: the zero value of every built-in operator
// processes batches, passes records when Pass is set, answers from its
// default sketch, and checkpoints and restores (into another zero value)
// before and after it has seen a batch; nothing panics. (Before, each
// dereferenced its nil sketch.)
func TestOperatorZeroValues(t *testing.T) {
	const n = 2000 // 1000 distinct keys, each twice
	type stateful interface {
		Operator
		encoding.BinaryMarshaler
		encoding.BinaryUnmarshaler
	}
	for _, tc := range []struct {
		name  string
		op    func(pass bool) stateful
		check func(op stateful) error // after one batch
		pass  int                     // records passed with Pass (or always, for Dedup)
	}{
		{"Distinct", func(p bool) stateful { return &Distinct{Pass: p} }, func(op stateful) error {
			e := op.(*Distinct).HLL.Estimate()
			if !e.Contains(n / 2) {
				return fmt.Errorf("distinct %v, want 1000 within", e)
			}
			return nil
		}, n},
		{"Frequency", func(p bool) stateful { return &Frequency{Pass: p} }, func(op stateful) error {
			if e := op.(*Frequency).CM.Estimate([]byte("k7")); !e.Contains(2) {
				return fmt.Errorf("count of k7 %v, want 2 within", e)
			}
			return nil
		}, n},
		{"HeavyHitters", func(p bool) stateful { return &HeavyHitters{Pass: p} }, func(op stateful) error {
			tk := op.(*HeavyHitters).TopK
			if tk.Capacity() != 1024 || tk.Total() != n {
				return fmt.Errorf("capacity %d total %d", tk.Capacity(), tk.Total())
			}
			return nil
		}, n},
		{"Dedup", func(bool) stateful { return &Dedup{} }, func(op stateful) error {
			if c := op.(*Dedup).Bloom.Cap(); c < 9_000_000 {
				return fmt.Errorf("bloom of %d bits, want about 9.6e6 for 1e6 keys at 1%%", c)
			}
			return nil
		}, n / 2},
		{"Sample", func(p bool) stateful { return &Sample{Pass: p} }, func(op stateful) error {
			r := op.(*Sample).Reservoir
			if r.K() != DefaultSampleSize || r.Len() != DefaultSampleSize || r.Count() != n {
				return fmt.Errorf("reservoir k %d len %d count %d", r.K(), r.Len(), r.Count())
			}
			return nil
		}, n},
		{"Stats", func(p bool) stateful { return &Stats{Pass: p} }, func(op stateful) error {
			s := op.(*Stats)
			if s.Moments.Count() != n/2 || s.Missing != n/2 || s.Moments.Mean() != float64(n-2)/2 {
				return fmt.Errorf("count %d missing %d mean %v", s.Moments.Count(), s.Missing, s.Moments.Mean())
			}
			return nil
		}, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Checkpointed before any batch, restored into a zero value.
			empty, err := tc.op(false).MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary of the zero value: %v", err)
			}
			if err := tc.op(false).UnmarshalBinary(empty); err != nil {
				t.Fatalf("UnmarshalBinary into the zero value: %v", err)
			}
			for _, p := range []bool{false, true} {
				op := tc.op(p)
				var out Batch
				if err := op.Process(opsBatch(n, 0), &out); err != nil {
					t.Fatal(err)
				}
				want := 0
				if p || tc.name == "Dedup" {
					want = tc.pass
				}
				if out.Len() != want {
					t.Errorf("Pass %v: %d records out, want %d", p, out.Len(), want)
				}
				if err := tc.check(op); err != nil {
					t.Error(err)
				}
				b, err := op.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				re := tc.op(p)
				if err := re.UnmarshalBinary(b); err != nil {
					t.Fatalf("restore into a zero value: %v", err)
				}
				if err := tc.check(re); err != nil {
					t.Errorf("restored: %v", err)
				}
			}
		})
	}
}

// TestOperatorsRefuseShedRecords: an operator that cannot weigh a record
// by 1/KeepP fails on records kept by load shedding, with ErrShedRecord,
// before counting any of the batch, in a pipeline too; records never shed
// (KeepP 0 or 1) are counted. (Before, they were counted once each: a
// page with 523,693 hits read 3.)
func TestOperatorsRefuseShedRecords(t *testing.T) {
	ops := map[string]func() Operator{
		"Distinct":     func() Operator { return &Distinct{} },
		"Frequency":    func() Operator { return &Frequency{} },
		"HeavyHitters": func() Operator { return &HeavyHitters{} },
		"Sample":       func() Operator { return &Sample{} },
		"Stats":        func() Operator { return &Stats{} },
	}
	for name, mk := range ops {
		for _, p := range []float32{0, 1} {
			if err := mk().Process(opsBatch(10, p), new(Batch)); err != nil {
				t.Errorf("%s, KeepP %v: %v", name, p, err)
			}
		}
		op := mk()
		err := op.Process(opsBatch(10, 0.25), new(Batch))
		if !errors.Is(err, ErrShedRecord) {
			t.Errorf("%s, KeepP 0.25: %v, want ErrShedRecord", name, err)
		}
		if hh, ok := op.(*HeavyHitters); ok && hh.TopK != nil && hh.TopK.Total() != 0 {
			t.Errorf("%s counted %d of a refused batch", name, hh.TopK.Total())
		}
		// In a pipeline, with a shedder in front: Run fails.
		keys := zipfKeys(3000, 3)
		pl, err := New([]Source{newKeySource(keys, 0, len(keys))}, []Stage{{Name: name, New: func(int) (Operator, error) { return mk(), nil }}},
			Config{BatchSize: 100, NewShedder: func(int) Shedder { return new(halfShedder) }})
		if err != nil {
			t.Fatal(err)
		}
		if err := pl.Run(context.Background()); !errors.Is(err, ErrShedRecord) {
			t.Errorf("%s behind a shedder: Run returned %v, want ErrShedRecord", name, err)
		}
	}
	// Dedup is a filter: shed records pass with their KeepP.
	var out Batch
	if err := new(Dedup).Process(opsBatch(10, 0.25), &out); err != nil || out.Len() != 5 || out.Records[0].KeepP != 0.25 {
		t.Errorf("Dedup of shed records: %v, %d out", err, out.Len())
	}
}
