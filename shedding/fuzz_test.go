package shedding

import (
	"bytes"
	"errors"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// fuzzSeeds adds enc, and truncated and edited copies of it, to f.
func fuzzSeeds(f *testing.F, enc []byte) {
	f.Add(enc)
	f.Add(enc[:len(enc)-1])
	f.Add(enc[:envelope.HeaderSize])
	for _, off := range []int{16, 24, 32, 40, envelope.HeaderSize, envelope.HeaderSize + 8, len(enc) - 12} {
		if off < len(enc)-4 {
			b := bytes.Clone(enc)
			b[off] ^= 0x81
			f.Add(envelope.Reseal(b))
		}
	}
}

// inputs returns data and, if long enough, data with its checksum fixed,
// so the fuzzer also reaches the checks behind the checksum.
func inputs(data []byte) [][]byte {
	if len(data) < envelope.Overhead {
		return [][]byte{data}
	}
	return [][]byte{data, envelope.Reseal(bytes.Clone(data))}
}

func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	if !envelope.IsDecodeError(err) && !errors.Is(err, ErrIncompatible) {
		t.Fatalf("error %v is not a documented sentinel", err)
	}
}

func FuzzUnmarshalShedState(f *testing.F) {
	for _, policy := range []Policy{Random, KeyHash, Priority} {
		fuzzSeeds(f, marshal(f, newTestShedder(f, Config{Policy: policy, Score: byValue, Window: 64})))
		fuzzSeeds(f, marshal(f, warmShedder(f, policy, 0)))
	}
	f.Add([]byte{})
	// One shedder per policy, reused: a successful restore replaces all
	// its state, a failed one leaves it alone.
	var shedders []*Shedder
	for _, cfg := range []Config{
		{Policy: Random}, {Policy: KeyHash}, {Policy: Priority, Score: byValue, Window: 64},
	} {
		shedders = append(shedders, newTestShedder(f, cfg))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range inputs(data) {
			for _, s := range shedders {
				if err := s.UnmarshalBinary(in); err != nil {
					checkDecodeError(t, err)
					continue
				}
				if again := marshal(t, s); !bytes.Equal(again, in) {
					t.Fatalf("decode/encode not canonical:\n in %x\nout %x", in, again)
				}
				_ = s.Summary()
				_ = s.Epochs()
			}
		}
	})
}

func FuzzUnmarshalThetaDistinct(f *testing.F) {
	for _, n := range []int{0, 3, 40, 500} {
		th, _ := NewThetaDistinct(16)
		r := pcg(uint64(n))
		for range n {
			th.AddHashP(r.Uint64(), 0.5)
		}
		fuzzSeeds(f, encode(f, th))
	}
	// Hashes crafted to share one slot of the decoder's table.
	f.Add(collidingTheta(f, 100))
	f.Add(collidingTheta(f, 3000))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range inputs(data) {
			var th ThetaDistinct
			if err := th.UnmarshalBinary(in); err != nil {
				checkDecodeError(t, err)
				continue
			}
			// Decoding and every later lookup are linear whatever the
			// hashes: no table is left crowded.
			if d, r := displacement(&th), th.Retained(); d > decodeProbeBudget(r) {
				t.Fatalf("decoded table of %d hashes needs %d probes beyond the first", r, d)
			}
			if again := encode(t, &th); !bytes.Equal(again, in) {
				t.Fatalf("decode/encode not canonical:\n in %x\nout %x", in, again)
			}
			// A decoded sketch works.
			e := th.Estimate()
			th.AddHash(12345)
			if err := th.Merge(th.Clone()); err != nil || !(e.Value >= 0) {
				t.Fatalf("estimate %v, merge %v", e, err)
			}
		}
	})
}
