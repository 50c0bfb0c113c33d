package sampling

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func mustKeySampler(t testing.TB, p float64) KeySampler {
	t.Helper()
	s, err := NewKeySampler(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewKeySamplerRejects(t *testing.T) {
	for _, p := range []float64{-0.1, 1.0000001, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := NewKeySampler(p); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("p=%v: err %v, want ErrInvalidParameter", p, err)
		}
	}
	s := mustKeySampler(t, 0.5)
	if err := s.SetP(2); err == nil || s.P() != 0.5 {
		t.Errorf("SetP(2): err %v, p now %v", err, s.P())
	}
}

func TestKeySamplerThreshold(t *testing.T) {
	for _, tc := range []struct {
		p     float64
		t     uint64
		wantP float64
	}{
		{0, 0, 0},
		{math.SmallestNonzeroFloat64, 0, 0},
		{1e-30, 0, 0},
		{0x1p-64, 1, 0x1p-64},
		{0x1p-12, 1 << 52, 0x1p-12},
		{0.25, 1 << 62, 0.25},
		{0.5, 1 << 63, 0.5},
		{0.9, 0xe666666666666800, 0.9},
		{math.Nextafter(1, 0), 1<<64 - 1<<11, math.Nextafter(1, 0)},
		{1, math.MaxUint64, 1},
	} {
		t.Run(fmt.Sprintf("p=%g", tc.p), func(t *testing.T) {
			s := mustKeySampler(t, tc.p)
			if s.Threshold() != tc.t || s.P() != tc.wantP {
				t.Fatalf("threshold %#x P %v, want %#x %v", s.Threshold(), s.P(), tc.t, tc.wantP)
			}
		})
	}
}

func TestKeySamplerExtremes(t *testing.T) {
	hashes := []uint64{0, 1, 1 << 63, math.MaxUint64 - 1, math.MaxUint64}
	var zero KeySampler
	none, all := mustKeySampler(t, 0), mustKeySampler(t, 1)
	for _, h := range hashes {
		if zero.KeepHash(h) || none.KeepHash(h) {
			t.Errorf("p=0 keeps %#x", h)
		}
		if !all.KeepHash(h) {
			t.Errorf("p=1 drops %#x", h)
		}
	}
}

// TestKeySamplerGolden pins the decisions for fixed keys, so they stay the
// same across processes, restarts and releases. The hashes are xxhash64
// seed 0 of the keys (sketch.HashString).
func TestKeySamplerGolden(t *testing.T) {
	keys := []struct {
		key  string
		hash uint64
	}{
		{"alice", 0x73a3ea485f2e6049},
		{"bob", 0x92878a3b42bad03b},
		{"carol", 0xc1ceb4e654b4cc38},
		{"dave", 0x2857ed8653e4fb22},
		{"eve", 0x91d130f0801be151},
		{"mallory", 0xc064709747dfb0a7},
		{"user:1", 0xd9c7c4609e6080f3},
		{"user:2", 0x337be5a0c611350a},
		{"", 0xef46db3751d8e999},
		{"streamstat", 0xe8805a2f4a36b6df},
	}
	for _, tc := range []struct {
		p    float64
		kept []string
	}{
		{0, nil},
		{0.1, nil},
		{0.2, []string{"dave"}},
		{0.25, []string{"dave", "user:2"}},
		{0.5, []string{"alice", "dave", "user:2"}},
		{0.6, []string{"alice", "bob", "dave", "eve", "user:2"}},
		{0.9, []string{"alice", "bob", "carol", "dave", "eve", "mallory", "user:1", "user:2"}},
		{0.95, []string{"alice", "bob", "carol", "dave", "eve", "mallory", "user:1", "user:2", "", "streamstat"}},
		{1, []string{"alice", "bob", "carol", "dave", "eve", "mallory", "user:1", "user:2", "", "streamstat"}},
	} {
		t.Run(fmt.Sprintf("p=%g", tc.p), func(t *testing.T) {
			s := mustKeySampler(t, tc.p)
			var kept []string
			for _, k := range keys {
				if s.KeepHash(k.hash) {
					kept = append(kept, k.key)
				}
			}
			if !slices.Equal(kept, tc.kept) {
				t.Fatalf("kept %q, want %q", kept, tc.kept)
			}
		})
	}
}

// TestKeySamplerNested: a hash kept at p is kept at every p' > p.
func TestKeySamplerNested(t *testing.T) {
	g := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		p := g.Float64()
		q := p + (1-p)*g.Float64()
		if g.IntN(10) == 0 {
			q = math.Nextafter(p, 2) // the closest larger p
		}
		sp, sq := mustKeySampler(t, p), mustKeySampler(t, min(q, 1))
		h := g.Uint64()
		if g.IntN(4) == 0 {
			h = sp.Threshold() - 1 // right at the edge
		}
		if sp.KeepHash(h) && !sq.KeepHash(h) {
			t.Fatalf("hash %#x kept at p=%v but not at p'=%v", h, p, q)
		}
	}
}

// TestKeySamplerRate: the kept fraction of random hashes is p, within 4
// standard deviations.
func TestKeySamplerRate(t *testing.T) {
	const n = 1_000_000
	g := rand.NewPCG(3, 4)
	for _, p := range []float64{0.001, 0.1, 0.5, 0.99} {
		s := mustKeySampler(t, p)
		kept := 0
		for range n {
			if s.KeepHash(g.Uint64()) {
				kept++
			}
		}
		if z := (float64(kept) - n*p) / math.Sqrt(n*p*(1-p)); math.Abs(z) > 4 {
			t.Errorf("p=%v: kept %d of %d, z = %.1f", p, kept, n, z)
		}
	}
}

// TestKeySamplerScaleCountCoverage: the bounds contain the true number of
// distinct keys in at least ~95% of trials, across p and N.
func TestKeySamplerScaleCountCoverage(t *testing.T) {
	trials := 2000
	if testing.Short() {
		trials = 200
	}
	g := rand.NewPCG(5, 6)
	for _, tc := range []struct {
		n int
		p float64
	}{{0, 0.1}, {5, 0.1}, {30, 0.5}, {1000, 0.01}, {1000, 0.3}, {20000, 0.05}, {20000, 0.9}} {
		t.Run(fmt.Sprintf("N=%d,p=%g", tc.n, tc.p), func(t *testing.T) {
			s := mustKeySampler(t, tc.p)
			covered := 0
			var sum float64
			for range trials {
				var kept uint64
				for range tc.n {
					if s.KeepHash(g.Uint64()) {
						kept++
					}
				}
				v, lo, hi := s.ScaleCount(kept, 0.95)
				if !(lo <= v && v <= hi) {
					t.Fatalf("estimate %v outside its bounds [%v, %v]", v, lo, hi)
				}
				if lo <= float64(tc.n) && float64(tc.n) <= hi {
					covered++
				}
				sum += v
			}
			cov := float64(covered) / float64(trials)
			t.Logf("coverage %.3f, mean estimate %.1f", cov, sum/float64(trials))
			if cov < 0.93 {
				t.Errorf("coverage %.3f at confidence 0.95", cov)
			}
			if mean := sum / float64(trials); math.Abs(mean-float64(tc.n)) > 4*math.Sqrt(float64(tc.n)*(1-tc.p)/tc.p/float64(trials))+1e-9 {
				t.Errorf("mean estimate %.1f, want %d (unbiased)", mean, tc.n)
			}
		})
	}
	t.Run("p=1 exact", func(t *testing.T) {
		if v, lo, hi := mustKeySampler(t, 1).ScaleCount(42, 0.95); v != 42 || lo != 42 || hi != 42 {
			t.Fatalf("got %v [%v, %v]", v, lo, hi)
		}
	})
	t.Run("p=0 unbounded", func(t *testing.T) {
		if v, lo, hi := mustKeySampler(t, 0).ScaleCount(0, 0.95); v != 0 || lo != 0 || !math.IsInf(hi, 1) {
			t.Fatalf("got %v [%v, %v]", v, lo, hi)
		}
	})
}

func TestKeySamplerEncoding(t *testing.T) {
	for _, p := range []float64{0, 1e-30, 0x1p-64, 0.3, 0.5, math.Nextafter(1, 0), 1} {
		s := mustKeySampler(t, p)
		enc := sampMarshal(t, s)
		var d KeySampler
		if err := d.UnmarshalBinary(enc); err != nil {
			t.Fatalf("p=%v: %v", p, err)
		}
		if d != s || !bytes.Equal(sampMarshal(t, d), enc) {
			t.Fatalf("p=%v: decoded %+v, want %+v", p, d, s)
		}
	}
	const kind = 20
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"other kind", sampEnvelope(16, [4]uint64{1 << 63, 0, 0, 0}, nil), ErrKind},
		{"payload", sampEnvelope(kind, [4]uint64{1 << 63, 0, 0, 0}, []byte{0}), ErrCorrupt},
		{"shape[2] set", sampEnvelope(kind, [4]uint64{1 << 63, 0, 1, 0}, nil), ErrCorrupt},
		{"flag 2", sampEnvelope(kind, [4]uint64{1 << 63, 2, 0, 0}, nil), ErrCorrupt},
		{"all with threshold", sampEnvelope(kind, [4]uint64{1 << 63, 1, 0, 0}, nil), ErrCorrupt},
		{"threshold 2^64-1 without all", sampEnvelope(kind, [4]uint64{math.MaxUint64, 0, 0, 0}, nil), ErrCorrupt},
		{"threshold no float", sampEnvelope(kind, [4]uint64{1<<63 + 1, 0, 0, 0}, nil), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustKeySampler(t, 0.5)
			if err := s.UnmarshalBinary(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if s.P() != 0.5 {
				t.Fatal("a failed decode changed the sampler")
			}
		})
	}
}

var keepSink bool

func TestKeySamplerKeepHashAllocs(t *testing.T) {
	s := mustKeySampler(t, 0.5)
	var h uint64
	if n := testing.AllocsPerRun(1000, func() { keepSink = s.KeepHash(h); h += 0x9e3779b97f4a7c15 }); n != 0 {
		t.Fatalf("KeepHash: got %v allocation(s) (want zero)", n)
	}
}
