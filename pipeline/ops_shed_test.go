package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/shedding"
	"github.com/streamstat/streamstat/sketch"
)

// zipfSource emits n keys drawn from Zipf(1.1) over 1e4 values, and counts
// them exactly.
type zipfSource struct {
	z     *rand.Zipf
	n     int
	exact map[string]uint64
	buf   []byte
}

func newZipfSource(n int, seed uint64) *zipfSource {
	return &zipfSource{z: rand.NewZipf(rand.New(rand.NewPCG(seed, 2)), 1.1, 1, 1e4), n: n, exact: map[string]uint64{}}
}

func (s *zipfSource) Fill(_ context.Context, b *pipeline.Batch, max int) error {
	for range max {
		if s.n == 0 {
			return io.EOF
		}
		s.n--
		s.buf = strconv.AppendUint(append(s.buf[:0], "page-"...), s.z.Uint64(), 10)
		s.exact[string(s.buf)]++
		b.Add(s.buf)
	}
	return nil
}

// TestShedAwareOperators runs a pipeline under Random shedding at a fixed
// keep probability of 1/8 into pipeline.Frequency and HeavyHitters with
// Unit = shedding.Unit: their answers, scaled back and widened by the
// sampling error, cover the true counts of the heavy keys at about the
// promised 95% (the heaviest page read 3 [0, 8] of 523,693), and
// their states equal those of shedding.Frequency and HeavyHitters fed the
// same records.
func TestShedAwareOperators(t *testing.T) {
	const n, p, trials, top = 200_000, 0.125, 6, 40
	covered, total := 0, 0
	for trial := range uint64(trials) {
		src := newZipfSource(n, trial)
		g, err := shedding.NewGroup(shedding.Config{Salt: trial, Controller: shedding.ControllerConfig{Fixed: p}})
		if err != nil {
			t.Fatal(err)
		}
		stages := []pipeline.Stage{
			{Name: "freq", New: func(int) (pipeline.Operator, error) {
				return &pipeline.Frequency{Unit: shedding.Unit, Pass: true}, nil
			}},
			{Name: "top", New: func(int) (pipeline.Operator, error) {
				return &pipeline.HeavyHitters{Unit: shedding.Unit, Pass: true}, nil
			}},
			{Name: "twin-freq", New: func(int) (pipeline.Operator, error) { return &shedding.Frequency{Pass: true}, nil }},
			{Name: "twin-top", New: func(int) (pipeline.Operator, error) { return &shedding.HeavyHitters{}, nil }},
		}
		pl, err := pipeline.New([]pipeline.Source{src}, stages, pipeline.Config{NewShedder: g.NewShedder})
		if err != nil {
			t.Fatal(err)
		}
		if err := pl.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		sum := g.Summary()
		if !sum.Shedding() || sum.Seen != n {
			t.Fatalf("summary %v", sum)
		}
		cm := pl.Operators(0)[0].(*pipeline.Frequency).CM
		tk := pl.Operators(1)[0].(*pipeline.HeavyHitters).TopK
		twinCM := pl.Operators(2)[0].(*shedding.Frequency).CM
		twinTK := pl.Operators(3)[0].(*shedding.HeavyHitters).TopK
		for _, pair := range [][2]interface{ MarshalBinary() ([]byte, error) }{{cm, twinCM}, {tk, twinTK}} {
			a, _ := pair[0].MarshalBinary()
			b, _ := pair[1].MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Fatalf("trial %d: %T state differs from its shedding twin's", trial, pair[0])
			}
		}
		for _, it := range shedding.TopItems(tk, top, sum, 0.975) {
			f := float64(src.exact[it.Key])
			c := shedding.Widen(shedding.FromUnits(cm.EstimateHash(sketch.HashString(it.Key))), sum.CountVariance(f), 0.975)
			for _, e := range []sketch.Estimate{it.Count, c} {
				total++
				if e.Contains(f) {
					covered++
				}
			}
		}
		heaviest := shedding.TopItems(tk, 1, sum, 0.975)[0]
		if f := float64(src.exact[heaviest.Key]); heaviest.Count.Value < f/2 {
			t.Fatalf("trial %d: heaviest key %s with %v records read %v", trial, heaviest.Key, f, heaviest.Count)
		}
	}
	t.Logf("bounds covered %d of %d true counts", covered, total)
	if rate := float64(covered) / float64(total); rate < 0.9 {
		t.Errorf("bounds covered %d of %d true counts (%.3f), want about 0.95 or more", covered, total, rate)
	}
}
