package shedding

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/hashmix"
	"github.com/streamstat/streamstat/pipeline"
)

func byValue(b *pipeline.Batch, i int) float64 { return b.Records[i].Value }

func TestShedderPolicies(t *testing.T) {
	const n = 20_000
	for _, tc := range []struct {
		policy Policy
		p      float64
	}{
		{Random, 0.3}, {KeyHash, 0.3}, {Priority, 0.3}, {Random, 1}, {KeyHash, 1}, {Priority, 1},
	} {
		t.Run(fmt.Sprintf("%v,p=%g", tc.policy, tc.p), func(t *testing.T) {
			cfg := fixed(tc.policy, tc.p)
			cfg.Score, cfg.Salt = byValue, 99
			s := newTestShedder(t, cfg)
			p := Quantize(tc.p)
			var b pipeline.Batch
			fillBatch(&b, n, 5000, pcg(3), 0)
			in := slices.Clone(b.Records)
			s.Shed(&b, t0, pipeline.Pressure{})
			for i := range b.Records {
				// At p = 1 random and key-hash shedding leave records
				// as they are: KeepP 0, never shed, weighs as 1.
				want := float32(p)
				if p == 1 && tc.policy != Priority {
					want = 0
				}
				if b.Records[i].KeepP != want {
					t.Fatalf("kept record with KeepP %v, want %v", b.Records[i].KeepP, want)
				}
			}
			// The kept records are those the pure rules keep, in order.
			var want []uint64
			for i, r := range in {
				switch {
				case tc.policy == KeyHash && KeepKey(r.Hash, p),
					tc.policy == Random && KeepRandom(r.Hash, uint64(i), 99, p),
					tc.policy == Priority && (p == 1 || r.Value >= 3500):
					want = append(want, r.Hash)
				}
			}
			got := keptHashes(&b)
			if tc.policy != Priority && !slices.Equal(got, want) {
				t.Fatalf("kept %d records, the rule keeps %d (or others)", len(got), len(want))
			}
			if tc.policy == Priority && p < 1 {
				// Scores are uniform on [0, 5000): about the top 30%
				// (values >= 3500) are kept, give or take the window's
				// quantile error.
				low := 0
				for i := range b.Records {
					if b.Records[i].Value < 3300 {
						low++
					}
				}
				if low > n/100 {
					t.Errorf("%d kept records score below 3300", low)
				}
			}
			sum := s.Summary()
			if sum.Seen != n || sum.Kept != uint64(b.Len()) || sum.Shed != n-uint64(b.Len()) || sum.MinP != p {
				t.Errorf("summary %+v, kept %d of %d at p %v", sum, b.Len(), n, p)
			}
			if f := float64(b.Len()) / n; math.Abs(f-p) > 0.02 {
				t.Errorf("kept fraction %.4f, want about %v", f, p)
			}
		})
	}
}

func TestShedderBatchBoundaries(t *testing.T) {
	// Decisions depend on the records and the p in force, never on how the
	// records were cut into batches.
	for _, policy := range []Policy{Random, KeyHash, Priority} {
		t.Run(policy.String(), func(t *testing.T) {
			var all pipeline.Batch
			fillBatch(&all, 10_000, 3000, pcg(4), 0)
			run := func(sizes []int) []uint64 {
				cfg := fixed(policy, 0.4)
				cfg.Score = byValue
				s := newTestShedder(t, cfg)
				var out []uint64
				var b pipeline.Batch
				for i, k := 0, 0; i < all.Len(); k++ {
					n := min(sizes[k%len(sizes)], all.Len()-i)
					b.Reset()
					for j := i; j < i+n; j++ {
						b.AddRecord(&all, j)
					}
					s.Shed(&b, t0, pipeline.Pressure{})
					out = append(out, keptHashes(&b)...)
					i += n
				}
				return out
			}
			a, b := run([]int{1000}), run([]int{1, 7, 300, 2, 64})
			if !slices.Equal(a, b) {
				t.Errorf("batches of 1000 kept %d records, mixed batches %d (or others)", len(a), len(b))
			}
		})
	}
}

func TestShedderEpochsAndReplay(t *testing.T) {
	for _, policy := range []Policy{Random, KeyHash, Priority} {
		t.Run(policy.String(), func(t *testing.T) {
			// A live run under a controller, timing and all.
			cfg := Config{Policy: policy, Score: byValue, Salt: 5}
			live := newTestShedder(t, cfg)
			pl := newPlant(t, live, 100_000)
			pl.run(300*time.Millisecond, 50_000)
			mid, err := live.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			from := live.Position()
			// Record what the live shedder keeps from here on.
			var recorded []uint64
			pl.shed = &recordingShedder{Shedder: live, kept: &recorded}
			pl.run(time.Second, 250_000)
			end := live.Position()
			epochs := live.Epochs()
			if len(epochs) < 5 {
				t.Fatalf("only %d epochs logged", len(epochs))
			}

			// Restore the mid-run state into a new shedder and replay the
			// same records in other batch sizes, under no pressure at
			// all: the schedule gives the same decisions.
			again := newTestShedder(t, cfg)
			if err := again.UnmarshalBinary(mid); err != nil {
				t.Fatal(err)
			}
			if err := again.Replay(epochs, end); err != nil {
				t.Fatal(err)
			}
			var replayed []uint64
			var b pipeline.Batch
			clk := newClock()
			for seq := from; seq < end; {
				n := min(uint64(37+seq%100), end-seq)
				b.Reset()
				for j := range n {
					h := hashmix.SplitMix64(seq + j + 1) // the plant's hashes
					b.AddHashed(nil, h)
				}
				if policy == Priority {
					// The plant's records have no values: score 0.
					for i := range b.Records {
						b.Records[i].Value = 0
					}
				}
				clk.Advance(time.Millisecond)
				again.Shed(&b, clk.Now(), pipeline.Pressure{})
				replayed = append(replayed, keptHashes(&b)...)
				seq += n
			}
			if !slices.Equal(recorded, replayed) {
				t.Errorf("live run kept %d records after the snapshot, replay %d (or others)", len(recorded), len(replayed))
			}
			sl, sr := live.Summary(), again.Summary()
			if sl.Seen != sr.Seen || sl.Kept != sr.Kept || sl.MinP != sr.MinP || math.Abs(sl.MeanP-sr.MeanP) > 1e-12 {
				t.Errorf("summaries differ:\n live   %+v\n replay %+v", sl, sr)
			}
			// After the schedule the controller carries on from the last p.
			if again.P() != epochs[len(epochs)-1].P {
				t.Errorf("p after replay %v, want %v", again.P(), epochs[len(epochs)-1].P)
			}
		})
	}
}

// recordingShedder notes the hashes its Shedder keeps.
type recordingShedder struct {
	*Shedder
	kept *[]uint64
}

func (r *recordingShedder) Shed(b *pipeline.Batch, now time.Time, p pipeline.Pressure) {
	r.Shedder.Shed(b, now, p)
	*r.kept = append(*r.kept, keptHashes(b)...)
}

func TestReplayErrors(t *testing.T) {
	s := newTestShedder(t, Config{})
	for _, tc := range []struct {
		name   string
		epochs []Epoch
		end    uint64
	}{
		{"off the grid", []Epoch{{0, 0.3}}, 10},
		{"starts not increasing", []Epoch{{5, 0.5}, {5, 0.25}}, 10},
		{"ends before the last epoch", []Epoch{{0, 0.5}, {8, 0.25}}, 8},
		{"zero p", []Epoch{{0, 0}}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Replay(tc.epochs, tc.end); !errors.Is(err, ErrInvalidParameter) {
				t.Errorf("error %v, want ErrInvalidParameter", err)
			}
		})
	}
}

func TestEpochLog(t *testing.T) {
	s := newTestShedder(t, Config{MaxEpochs: 3})
	var b pipeline.Batch
	for i, p := range []float64{0.5, 0.25, 0.25, 1, 0.125} {
		s.ctrl.st.p = p // as the controller would
		fillBatch(&b, 10, 0, nil, uint64(10*i))
		s.ctrl.cfg.Fixed = p
		s.Shed(&b, t0, pipeline.Pressure{})
	}
	want := []Epoch{{10, 0.25}, {30, 1}, {40, 0.125}}
	if got := s.Epochs(); !slices.Equal(got, want) {
		t.Errorf("epochs %v, want %v (the last 3 changes)", got, want)
	}
	s.TrimEpochs(35)
	if got := s.Epochs(); !slices.Equal(got, want[1:]) {
		t.Errorf("after TrimEpochs(35): %v, want %v", got, want[1:])
	}
	if sum := s.Summary(); sum.MinP != 0.125 || sum.Seen != 50 || math.Abs(sum.MeanP-(0.5+0.25+0.25+1+0.125)/5) > 1e-15 {
		t.Errorf("summary %+v", sum)
	}
}

func TestNewShedderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"priority without score", Config{Policy: Priority}},
		{"window too small", Config{Policy: Priority, Score: byValue, Window: 3}},
		{"unknown policy", Config{Policy: 9}},
		{"bad controller", Config{Controller: ControllerConfig{Headroom: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewShedder(tc.cfg); !errors.Is(err, ErrInvalidParameter) {
				t.Errorf("error %v, want ErrInvalidParameter", err)
			}
			if _, err := NewGroup(tc.cfg); !errors.Is(err, ErrInvalidParameter) {
				t.Errorf("NewGroup: error %v, want ErrInvalidParameter", err)
			}
		})
	}
}

func TestPriorityTiesAndNaN(t *testing.T) {
	// Scores taking two values: the keep line falls inside the ties, which
	// are kept in the right proportion; NaN scores count as lowest.
	score := func(b *pipeline.Batch, i int) float64 {
		switch v := b.Records[i].Value; {
		case int(v)%10 == 0:
			return math.NaN()
		case int(v)%2 == 0:
			return 1
		}
		return 0
	}
	cfg := fixed(Priority, 0.3)
	cfg.Score = score
	s := newTestShedder(t, cfg)
	var b pipeline.Batch
	var ones, zeros, nans int
	for i := range 50 {
		fillBatch(&b, 1000, 0, nil, uint64(1000*i))
		s.Shed(&b, t0, pipeline.Pressure{})
		if i < 5 {
			continue // the window fills
		}
		for j := range b.Records {
			switch v := int(b.Records[j].Value); {
			case v%10 == 0:
				nans++
			case v%2 == 0:
				ones++
			default:
				zeros++
			}
		}
	}
	// Score 1 is 40% of records: 30% of them all are kept, all with score 1
	// (75% of the ones), none of the others.
	if total := 45 * 1000.0; math.Abs(float64(ones)/total-0.3) > 0.01 || zeros != 0 || nans != 0 {
		t.Errorf("kept %d ones, %d zeros, %d NaNs of %v records; want 30%% ones only", ones, zeros, nans, 45*1000)
	}
}

func TestGroupInPipeline(t *testing.T) {
	const n = 50_000
	for _, policy := range []Policy{Random, KeyHash} {
		t.Run(policy.String(), func(t *testing.T) {
			g, err := NewGroup(fixed(policy, 0.25))
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var count WeightedCount
			var bad int
			var srcs []pipeline.Source
			for i := range 2 {
				gen, err := pipeline.NewGenerator(pipeline.GeneratorConfig{Seed: uint64(i), Keys: 10_000, Count: n})
				if err != nil {
					t.Fatal(err)
				}
				srcs = append(srcs, gen)
			}
			p, err := pipeline.New(srcs, []pipeline.Stage{{
				Name: "count", Parallelism: 2, Input: pipeline.ByKey,
				New: func(int) (pipeline.Operator, error) {
					return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
						mu.Lock()
						defer mu.Unlock()
						for i := range in.Records {
							r := &in.Records[i]
							count.Add(r.KeepP)
							if policy == KeyHash && !KeepKey(r.Hash, 0.25) {
								bad++
							}
						}
						return nil
					}), nil
				},
			}}, pipeline.Config{NewShedder: g.NewShedder})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			sum := g.Summary()
			if sum.Seen != 2*n || sum.Kept != count.Kept() || bad != 0 {
				t.Errorf("summary %+v; operator counted %d, %d above the key threshold", sum, count.Kept(), bad)
			}
			// One trial: within 4 sd (the coverage tests check the bounds).
			if e := count.Estimate(); policy == Random && math.Abs(e.Value-2*n) > 4*math.Sqrt(count.Variance()) {
				t.Errorf("estimate %v of %d records", e, 2*n)
			}
			// The sources' shedders have different salts.
			if g.Shedder(0).salt == g.Shedder(1).salt {
				t.Error("sources share a salt")
			}
		})
	}
}
