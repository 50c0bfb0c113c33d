package sampling

import (
	"encoding"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// Test helpers for Moments and KLL (prefix mk, to stay clear of the
// reservoir tests' helpers in the same package).

// mkEdit returns a resealed copy of enc with the little-endian uint64 at
// offset off replaced by v.
func mkEdit(enc []byte, off int, v uint64) []byte {
	b := append([]byte(nil), enc...)
	binary.LittleEndian.PutUint64(b[off:], v)
	return envelope.Reseal(b)
}

func mkMarshal(t testing.TB, m encoding.BinaryMarshaler) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mkKLL(t testing.TB, k int, seed uint64) *KLL {
	t.Helper()
	s, err := NewKLL(k, seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mkUniform returns a float64 in [0, 1) from 53 random bits.
func mkUniform(g *rand.PCG) float64 { return float64(g.Uint64()>>11) * 0x1p-53 }

// mkCheckKLL verifies the sketch's structural invariants: levels in bounds
// and contiguous, levels above 0 sorted, values within [min, max], total
// weight equal to the count, retained items within capacity.
func mkCheckKLL(t testing.TB, s *KLL) {
	t.Helper()
	if s.numLevels == 0 {
		return
	}
	if s.levels[s.numLevels] != uint32(len(s.items)) || s.levels[0] > s.levels[s.numLevels] {
		t.Fatalf("levels %v do not fit %d items", s.levels[:s.numLevels+1], len(s.items))
	}
	if s.Retained() > s.capacity || s.capacity != s.totalCap(s.numLevels) {
		t.Fatalf("retained %d, capacity %d (want %d)", s.Retained(), s.capacity, s.totalCap(s.numLevels))
	}
	var weight uint64
	for h := range s.numLevels {
		if s.levels[h] > s.levels[h+1] {
			t.Fatalf("level %d has negative size: %v", h, s.levels[:s.numLevels+1])
		}
		l := s.level(h)
		weight += uint64(len(l)) << h
		for i, x := range l {
			if x < s.min || x > s.max || math.IsNaN(x) {
				t.Fatalf("level %d item %v outside [%v, %v]", h, x, s.min, s.max)
			}
			if h > 0 && i > 0 && x < l[i-1] {
				t.Fatalf("level %d not sorted at %d: %v < %v", h, i, x, l[i-1])
			}
		}
	}
	if weight != s.n {
		t.Fatalf("total weight %d, count %d", weight, s.n)
	}
}

// mkEnvelope returns a valid envelope of the given kind, shape and payload.
func mkEnvelope(kind envelope.Kind, shape [4]uint64, payload []byte) []byte {
	b, start := envelope.Begin(nil, envelope.Header{Kind: kind, HashID: envelope.HashXXH64, Shape: shape})
	return envelope.End(append(b, payload...), start)
}
