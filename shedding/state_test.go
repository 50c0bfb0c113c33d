package shedding

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
)

func marshal(t testing.TB, s *Shedder) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// warmShedder returns a shedder of the policy that has run through an
// overload, so every part of its state is in use.
func warmShedder(t testing.TB, policy Policy, salt uint64) *Shedder {
	cfg := Config{Policy: policy, Score: byValue, Salt: salt, Window: 64}
	s := newTestShedder(t, cfg)
	pl := newPlant(nil, s, 100_000)
	pl.run(200*time.Millisecond, 50_000)
	pl.run(300*time.Millisecond, 300_000)
	return s
}

func TestShedStateRoundTrip(t *testing.T) {
	for _, policy := range []Policy{Random, KeyHash, Priority} {
		t.Run(policy.String(), func(t *testing.T) {
			for _, s := range []*Shedder{
				newTestShedder(t, Config{Policy: policy, Score: byValue, Window: 64}),
				warmShedder(t, policy, 0),
			} {
				enc := marshal(t, s)
				back := newTestShedder(t, Config{Policy: policy, Score: byValue, Window: 64})
				if err := back.UnmarshalBinary(enc); err != nil {
					t.Fatal(err)
				}
				if again := marshal(t, back); !bytes.Equal(enc, again) {
					t.Fatal("re-encoding differs")
				}
				// Both go on alike: same decisions, same state after.
				clk := newClock()
				clk.Advance(time.Hour) // later than the state's tick
				var b1, b2 pipeline.Batch
				pr := pipeline.Pressure{Buffers: 10, Backlog: 3, InFlight: 5, Records: 1e9, BackPressured: time.Hour}
				for i := range 50 {
					fillBatch(&b1, 100, 1000, pcg(uint64(i)), 0)
					fillBatch(&b2, 100, 1000, pcg(uint64(i)), 0)
					s.Shed(&b1, clk.Now(), pr)
					back.Shed(&b2, clk.Now(), pr)
					if !slices.Equal(keptHashes(&b1), keptHashes(&b2)) {
						t.Fatalf("batch %d: restored shedder decides differently", i)
					}
					clk.Advance(3 * time.Millisecond)
					pr.Records += 50
				}
				if !bytes.Equal(marshal(t, s), marshal(t, back)) {
					t.Error("states differ after the same batches")
				}
			}
		})
	}
}

func TestShedStateIncompatible(t *testing.T) {
	enc := marshal(t, warmShedder(t, Priority, 1))
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"other policy", Config{Policy: Random, Salt: 1}},
		{"other salt", Config{Policy: Priority, Score: byValue, Salt: 2, Window: 64}},
		{"other window", Config{Policy: Priority, Score: byValue, Salt: 1, Window: 128}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestShedder(t, tc.cfg)
			before := marshal(t, s)
			if err := s.UnmarshalBinary(enc); !errors.Is(err, ErrIncompatible) {
				t.Errorf("error %v, want ErrIncompatible", err)
			}
			if !bytes.Equal(before, marshal(t, s)) {
				t.Error("a failed restore changed the shedder")
			}
		})
	}
	fixedEnc := marshal(t, newTestShedder(t, fixed(Random, 0.5)))
	if err := newTestShedder(t, fixed(Random, 0.25)).UnmarshalBinary(fixedEnc); !errors.Is(err, ErrIncompatible) {
		t.Errorf("restoring p 0.5 into a shedder fixed at 0.25: %v", err)
	}
}

func TestShedStateCorrupt(t *testing.T) {
	s := warmShedder(t, Priority, 0)
	good := marshal(t, s)
	cfg := Config{Policy: Priority, Score: byValue, Window: 64}
	field := func(i int) int { return envelope.HeaderSize + 8*i }
	put := func(off int, v uint64) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint64(b[off:], v)
		return envelope.Reseal(b)
	}
	f := math.Float64bits
	epochs := field(stateFields) + 4*ringLen
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"truncated", good[:len(good)-5], ErrTruncated},
		{"kind", func() []byte { b := bytes.Clone(good); b[5] = byte(envelope.KindTheta); return envelope.Reseal(b) }(), ErrKind},
		{"policy out of range", put(16, 7), ErrCorrupt},
		{"more scores than the window", put(40, 65|64<<32), ErrCorrupt},
		{"epoch count beyond the payload", put(32, 1<<40), ErrCorrupt},
		{"kept more than seen", put(field(2), 1<<62), ErrCorrupt},
		{"p off the grid", put(field(7), f(0.3)), ErrCorrupt},
		{"p zero", put(field(7), 0), ErrCorrupt},
		{"NaN arrival rate", put(field(19), f(math.NaN())), ErrCorrupt},
		{"negative capacity", put(field(20), f(-1)), ErrCorrupt},
		{"started flag 2", put(field(8), 2), ErrCorrupt},
		{"huge buffer count", put(field(22), 1<<40), ErrCorrupt},
		{"since beyond the window", put(field(24), 64), ErrCorrupt},
		{"negative lag", put(field(25), 1<<63), ErrCorrupt},
		{"negative idle time", put(field(28), 1<<63), ErrCorrupt},
		{"epochs out of order", put(epochs, 1<<62), ErrCorrupt},
		{"NaN score", put(len(good)-4-8, f(math.NaN())), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newTestShedder(t, cfg).UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestShedStateConcurrentSnapshot(t *testing.T) {
	// Summary, Epochs and MarshalBinary may run while a source sheds.
	s := newTestShedder(t, Config{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pl := newPlant(nil, s, 100_000)
		pl.run(200*time.Millisecond, 300_000)
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		_ = s.Summary()
		_ = s.Epochs()
		if _, err := s.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
		_ = fmt.Sprint(i)
	}
}
